//! One intent at a time per release: an intent that touches a release
//! another intent is changing waits for it (and says so in its events).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// One release's lock and the intent that took it last.
type Slot = (Arc<AsyncMutex<()>>, Option<String>);

/// Per-release locks, taken in sorted order so two intents never deadlock.
#[derive(Debug, Default)]
pub struct ReleaseLocks {
    locks: Mutex<HashMap<String, Slot>>,
}

/// Held locks; dropping them lets the next intent in.
#[derive(Debug)]
pub struct HeldLocks {
    _guards: Vec<OwnedMutexGuard<()>>,
}

impl ReleaseLocks {
    /// The keys among `keys` that some intent holds now, with its holder.
    pub fn busy(&self, keys: &[String]) -> Vec<(String, Option<String>)> {
        let table = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|key| {
                let (lock, holder) = table.get(key)?;
                lock.try_lock()
                    .is_err()
                    .then(|| (key.clone(), holder.clone()))
            })
            .collect()
    }

    /// Takes every key for `holder`; `on_wait(key, other_holder)` is called
    /// before waiting on a key someone else holds.
    pub async fn acquire(
        &self,
        mut keys: Vec<String>,
        holder: &str,
        mut on_wait: impl FnMut(&str, Option<String>),
    ) -> HeldLocks {
        keys.sort();
        keys.dedup();
        let mut guards = Vec::new();
        for key in keys {
            let (lock, current) = {
                let mut table = self.locks.lock().unwrap_or_else(|p| p.into_inner());
                let entry = table
                    .entry(key.clone())
                    .or_insert_with(|| (Arc::new(AsyncMutex::new(())), None));
                (entry.0.clone(), entry.1.clone())
            };
            let guard = match lock.clone().try_lock_owned() {
                Ok(guard) => guard,
                Err(_) => {
                    on_wait(&key, current);
                    lock.lock_owned().await
                }
            };
            let mut table = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(entry) = table.get_mut(&key) {
                entry.1 = Some(holder.to_string());
            }
            guards.push(guard);
        }
        HeldLocks { _guards: guards }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_second_holder_waits_and_is_told_who_holds() {
        let locks = Arc::new(ReleaseLocks::default());
        let first = locks
            .acquire(vec!["default/redis".into()], "intent-a", |_, _| {})
            .await;
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let mut told = None;
                let _held = locks
                    .acquire(vec!["default/redis".into()], "intent-b", |key, holder| {
                        told = Some((key.to_string(), holder))
                    })
                    .await;
                told
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        assert_eq!(
            locks.busy(&["default/redis".into(), "default/other".into()]),
            vec![("default/redis".to_string(), Some("intent-a".to_string()))]
        );
        drop(first);
        let told = waiter.await.unwrap();
        assert_eq!(
            told,
            Some(("default/redis".to_string(), Some("intent-a".to_string())))
        );
    }
}
