//! The one atomic file write: a temporary file beside the target, renamed into place, so a
//! reader (or a restart after a crash) sees the old file or the new one, never a part.
//!
//! How durable the write is depends on what the file is:
//! - [`Durability::Synced`] — state that cannot be made again (hub subscriptions, the archive
//!   pages' validators, the post pages' epoch): the file is fsynced before the rename and the
//!   directory after it, so the new file survives a power cut once the call returns.
//! - [`Durability::Renamed`] — documents under `feeds/`, which are a pure function of the posts
//!   and are written again by the next run: atomic but not fsynced. A `build` writes thousands
//!   of them; an fsync each would make it disk-bound (Hugo and Jekyll do not fsync either).

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::SystemTime;

/// Whether a write must survive a power cut once it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Atomic (rename), not fsynced.
    Renamed,
    /// Atomic, the file and its directory fsynced.
    Synced,
}

/// How to write a file.
#[derive(Debug, Clone, Copy)]
pub struct Atomic {
    pub durability: Durability,
    /// Readable by its owner only (mode 0600 on Unix): secrets.
    pub private: bool,
    /// The file's mtime, when it must be a given time rather than now.
    pub mtime: Option<SystemTime>,
}

impl Atomic {
    /// A generated document: atomic, not fsynced.
    pub const DOCUMENT: Atomic = Atomic {
        durability: Durability::Renamed,
        private: false,
        mtime: None,
    };
    /// State kept across restarts: atomic and durable.
    pub const STATE: Atomic = Atomic {
        durability: Durability::Synced,
        private: false,
        mtime: None,
    };
    /// State holding secrets: atomic, durable, owner-only.
    pub const SECRET: Atomic = Atomic {
        durability: Durability::Synced,
        private: true,
        mtime: None,
    };

    /// The same with the file's mtime set to `mtime` (when given).
    pub fn with_mtime(self, mtime: Option<SystemTime>) -> Atomic {
        Atomic { mtime, ..self }
    }

    /// Writes `bytes` to `path` (creating its directory); returns the file's mtime afterwards,
    /// when the platform has one. On failure the temporary file is removed and the old file,
    /// if any, is left as it was.
    pub fn write(self, path: &Path, bytes: &[u8]) -> io::Result<Option<SystemTime>> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir {
            fs::create_dir_all(dir)?;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut f = self.create(&tmp)?;
            f.write_all(bytes)?;
            if let Some(t) = self.mtime {
                f.set_modified(t)?;
            }
            if self.durability == Durability::Synced {
                f.sync_all()?;
            }
            drop(f);
            fs::rename(&tmp, path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        if self.durability == Durability::Synced {
            // The rename itself made durable (best effort: not every platform opens
            // directories).
            if let Ok(d) = fs::File::open(dir.unwrap_or(Path::new("."))) {
                let _ = d.sync_all();
            }
        }
        Ok(fs::metadata(path).and_then(|m| m.modified()).ok())
    }

    fn create(self, path: &Path) -> io::Result<fs::File> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if self.private {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        Atomic::STATE.write(&path, b"one").unwrap();
        Atomic::STATE.write(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn sets_the_mtime_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
        let path = dir.path().join("rss.xml");
        let got = Atomic::DOCUMENT
            .with_mtime(Some(t))
            .write(&path, b"x")
            .unwrap();
        assert_eq!(got, Some(t));
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        Atomic::SECRET.write(&path, b"k").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        Atomic::STATE.write(&path, b"old").unwrap();
        // A directory where the file should go: the rename fails.
        let blocked = dir.path().join("d");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(Atomic::STATE.write(&blocked, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
