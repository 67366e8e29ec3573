//! Worker identity and liveness through OS file locks.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use repowatch_core::PortError;

const PREFIX: &str = "worker-";

pub(crate) fn workers_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("workers")
}

/// A worker process's identity, `worker-<pid>-<16 hex>`. While it lives it holds
/// an exclusive lock on `<state_dir>/workers/<id>.lock`; the OS drops the lock
/// when the process dies (even by SIGKILL), which is how others learn that its
/// in-flight messages and idempotency claims are abandoned. Dropping the
/// `Owner` removes the file (a graceful exit).
#[derive(Debug)]
pub struct Owner {
    id: String,
    path: PathBuf,
    _lock: File,
}

impl Owner {
    /// Creates and locks this process's lock file, and removes lock files of
    /// workers that died. The file is locked before it gets its final name, so
    /// nobody ever sees an unlocked file of a live worker.
    pub fn register(state_dir: &Path) -> Result<Owner, PortError> {
        let dir = workers_dir(state_dir);
        std::fs::create_dir_all(&dir).map_err(|e| {
            PortError::with_source(format!("cannot create {}; check the permissions of state_dir", dir.display()), e)
        })?;
        sweep(&dir);
        let id = format!("{PREFIX}{}-{}", std::process::id(), random_hex(8));
        let tmp = dir.join(format!(".{id}.tmp"));
        let path = dir.join(format!("{id}.lock"));
        let fail = |e: std::io::Error| {
            PortError::with_source(format!("cannot create the worker lock file {}", path.display()), e)
        };
        let file = OpenOptions::new().read(true).write(true).create_new(true).open(&tmp).map_err(fail)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(PortError::new(format!("the new lock file {} is locked by someone else", tmp.display())));
            }
            Err(TryLockError::Error(e)) => return Err(fail(e)),
        }
        std::fs::rename(&tmp, &path).map_err(fail)?;
        Ok(Owner { id, path, _lock: file })
    }

    /// The owner string recorded on messages and claims.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The lock file held while this owner lives.
    pub fn lock_path(&self) -> &Path {
        &self.path
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.id)
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Removed while still locked; the lock goes with the file handle right after.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Is `owner` a registered worker that is gone? `false` for owners that are not
/// worker ids (a Lambda request, a test): for those only the lease tells. A
/// missing lock file means the worker exited (or died and was swept).
pub(crate) fn owner_is_dead(workers_dir: &Path, owner: &str) -> bool {
    if !is_worker_id(owner) {
        return false;
    }
    let path = workers_dir.join(format!("{owner}.lock"));
    match OpenOptions::new().read(true).write(true).open(&path) {
        Ok(file) => probe(&file, &path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot open a worker lock file; treating the worker as alive");
            false
        }
    }
}

/// Locks `file` if nobody holds it: then its worker is dead and the file is removed.
fn probe(file: &File, path: &Path) -> bool {
    match file.try_lock() {
        Ok(()) => {
            let _ = std::fs::remove_file(path);
            true
        }
        Err(TryLockError::WouldBlock) => false,
        Err(TryLockError::Error(e)) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot probe a worker lock file; treating the worker as alive");
            false
        }
    }
}

/// Removes the lock files (and interrupted registrations) of dead workers.
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.ends_with(".lock") || name.ends_with(".tmp")) {
            continue;
        }
        if let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) {
            probe(&file, &path);
        }
    }
}

fn is_worker_id(owner: &str) -> bool {
    let Some(rest) = owner.strip_prefix(PREFIX) else { return false };
    let Some((pid, token)) = rest.split_once('-') else { return false };
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && !token.is_empty()
        && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub(crate) fn random_hex(bytes: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        let _ = write!(out, "{:02x}", rand::random::<u8>());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_owner_is_alive_and_dropped_owner_is_dead() {
        let dir = tempfile::tempdir().unwrap();
        let owner = Owner::register(dir.path()).unwrap();
        assert!(is_worker_id(owner.as_str()), "{owner}");
        assert!(owner.lock_path().exists());
        let workers = workers_dir(dir.path());
        assert!(!owner_is_dead(&workers, owner.as_str()));
        let id = owner.as_str().to_owned();
        drop(owner);
        assert!(owner_is_dead(&workers, &id));
    }

    #[test]
    fn crashed_owner_lock_file_is_detected_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let workers = workers_dir(dir.path());
        std::fs::create_dir_all(&workers).unwrap();
        // What a SIGKILLed worker leaves: its file, with no lock held.
        let stale = "worker-999999-00aa11bb22cc33dd";
        std::fs::write(workers.join(format!("{stale}.lock")), b"").unwrap();
        assert!(owner_is_dead(&workers, stale));
        assert!(!workers.join(format!("{stale}.lock")).exists());

        std::fs::write(workers.join(format!("{stale}.lock")), b"").unwrap();
        let live = Owner::register(dir.path()).unwrap();
        assert!(!workers.join(format!("{stale}.lock")).exists(), "register sweeps stale files");
        assert!(live.lock_path().exists());
    }

    #[test]
    fn foreign_owner_strings_are_never_declared_dead() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!owner_is_dead(dir.path(), "lambda-request-1"));
        assert!(!owner_is_dead(dir.path(), "worker-abc"));
    }
}
