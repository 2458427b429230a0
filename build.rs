//! Rebuild when a blueprint or migration changes: both are embedded in the
//! binary (`include_dir!`), which cargo does not track by itself.

fn main() {
    println!("cargo:rerun-if-changed=blueprints");
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=prompts");
}
