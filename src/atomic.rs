//! Every file deckhand writes is written whole or not at all: the bytes go
//! to a temporary file in the same directory, which is flushed to disk
//! (`fsync`), renamed over the target, and the directory is flushed too, so
//! a crash at any point leaves the old file or the new one, never a
//! truncated mix. Private files and directories get their mode when they
//! are made, not after.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A temporary name beside `path`, unique to this process and call.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let unique: u64 = rand::random();
    path.with_file_name(format!(".{name}.{}.{unique:016x}.tmp", std::process::id()))
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Flushes a directory's entries (a rename is durable only then).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` into a new temporary file beside `path` with `mode`,
/// flushed to disk; returns its path.
fn write_temporary(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<PathBuf> {
    let temp = temporary(path);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    match written {
        Ok(()) => Ok(temp),
        Err(err) => {
            let _ = std::fs::remove_file(&temp);
            Err(err)
        }
    }
}

/// Replaces (or creates) `path` with `bytes`, atomically and durably; the
/// file gets `mode` (0600 for anything holding a secret, 0644 otherwise).
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    replace(path, bytes, mode)?;
    sync_dir(parent(path))
}

/// [`write`] without the flush of the directory (the caller's to do).
fn replace(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let temp = write_temporary(path, bytes, mode)?;
    if let Err(err) = std::fs::rename(&temp, path) {
        let _ = std::fs::remove_file(&temp);
        return Err(err);
    }
    Ok(())
}

/// Writes several files into `dir` as [`write`] does each (whole or not at
/// all, with its mode), flushing the directory once for all of them.
pub fn write_all_in(dir: &Path, files: &[(&str, &[u8], u32)]) -> std::io::Result<()> {
    for (name, bytes, mode) in files {
        replace(&dir.join(name), bytes, *mode)?;
    }
    sync_dir(dir)
}

/// Creates `path` with `bytes` only when it does not exist yet
/// (`AlreadyExists` otherwise), atomically: another process sees no file or
/// the whole one.
pub fn create_new(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let temp = write_temporary(path, bytes, mode)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    linked?;
    sync_dir(parent(path))
}

/// Takes away every permission bit of `path` beyond `mode` (0600 for a
/// private file); a file that is already as strict is left alone.
pub fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    let current = std::fs::metadata(path)?.permissions().mode() & 0o777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

/// Creates `dir` (and missing parents) with mode 0700, or takes group and
/// other permissions away from an existing one: a directory only deckhand's
/// user may enter.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    restrict(dir, 0o700)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifests.yaml");
        write(&path, b"first version, rather long", 0o644).unwrap();
        write(&path, b"second", 0o600).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("manifests.yaml")]);
    }

    #[test]
    fn several_files_are_written_whole_with_their_modes() {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("app.env"),
            b"OLD=1, a longer old file",
            0o600,
        )
        .unwrap();
        write_all_in(
            dir.path(),
            &[
                ("compose.yaml", b"services: {}", 0o644),
                ("app.env", b"NEW=2", 0o600),
            ],
        )
        .unwrap();
        let mode = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(
            std::fs::read(dir.path().join("compose.yaml")).unwrap(),
            b"services: {}"
        );
        assert_eq!(std::fs::read(dir.path().join("app.env")).unwrap(), b"NEW=2");
        assert_eq!((mode("compose.yaml"), mode("app.env")), (0o644, 0o600));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            2,
            "no temporary left"
        );
        // A file that cannot be written is an error, not a partial success.
        assert!(write_all_in(&dir.path().join("missing"), &[("x", b"y", 0o644)]).is_err());
    }

    #[test]
    fn create_new_refuses_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        create_new(&path, b"one", 0o600).unwrap();
        let err = create_new(&path, b"two", 0o600).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
    }

    #[test]
    fn private_dirs_are_0700_made_or_found() {
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("a/b");
        private_dir(&made).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&made), 0o700);
        let found = dir.path().join("open");
        std::fs::create_dir(&found).unwrap();
        std::fs::set_permissions(&found, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&found).unwrap();
        assert_eq!(mode(&found), 0o700);
    }
}
