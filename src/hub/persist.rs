//! The hub's subscriptions on disk: one JSON file under `hub.state_dir`, replaced atomically
//! (temp file, fsync, rename) so a crash leaves the old list or the new one, never half of one.
//! It holds the subscribers' secrets, so it is readable by the owner only.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The file's name inside the state directory.
pub const FILE_NAME: &str = "hub-subscriptions.json";
/// The format version written; a file of another version is not read.
const VERSION: u32 = 1;

/// The whole file.
#[derive(Debug, Serialize, Deserialize)]
struct Contents {
    version: u32,
    subscriptions: Vec<Record>,
}

/// One verified subscription as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The topic URL as the subscriber gave it.
    pub topic: String,
    /// The store route it names (`/rss.xml`).
    pub route: String,
    pub callback: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub lease_seconds: u64,
    /// End of the lease, milliseconds since the Unix epoch.
    pub expires_unix_ms: u64,
    /// Content hash (hex) of the last version of the topic the subscriber has: delivered, or
    /// current when it subscribed. A restart delivers only topics that differ from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<String>,
}

/// The subscriptions file.
#[derive(Debug)]
pub struct StateFile {
    dir: PathBuf,
    path: PathBuf,
    /// One writer at a time (they share the temp file name).
    writing: Mutex<()>,
}

impl StateFile {
    pub fn new(dir: &Path) -> StateFile {
        StateFile {
            dir: dir.to_path_buf(),
            path: dir.join(FILE_NAME),
            writing: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file; a missing file is no subscriptions. A file that cannot be parsed is
    /// moved aside (`….corrupt`) so that the next save does not destroy it, and reported.
    pub fn load(&self) -> Result<Vec<Record>, String> {
        let text = match fs::read(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        };
        match serde_json::from_slice::<Contents>(&text) {
            Ok(c) if c.version == VERSION => Ok(c.subscriptions),
            Ok(c) => Err(self.set_aside(&format!("unknown version {}", c.version))),
            Err(e) => Err(self.set_aside(&e.to_string())),
        }
    }

    fn set_aside(&self, why: &str) -> String {
        let aside = self.path.with_extension("json.corrupt");
        match fs::rename(&self.path, &aside) {
            Ok(()) => format!(
                "{}: {why}; moved to {} and starting with no subscriptions",
                self.path.display(),
                aside.display()
            ),
            Err(e) => format!(
                "{}: {why}; starting with no subscriptions (and it could not be moved aside: {e})",
                self.path.display()
            ),
        }
    }

    /// Replaces the file with `records`, atomically.
    pub fn save(&self, records: Vec<Record>) -> std::io::Result<()> {
        let _one = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let contents = Contents {
            version: VERSION,
            subscriptions: records,
        };
        let mut bytes = serde_json::to_vec_pretty(&contents).map_err(std::io::Error::other)?;
        bytes.push(b'\n');
        create_private_dir(&self.dir)?;
        crate::output::Atomic::SECRET.write(&self.path, &bytes)?;
        Ok(())
    }
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cb: &str) -> Record {
        Record {
            topic: "http://127.0.0.1:8080/rss.xml".into(),
            route: "/rss.xml".into(),
            callback: cb.into(),
            secret: Some("s".into()),
            lease_seconds: 60,
            expires_unix_ms: 1,
            delivered: None,
        }
    }

    #[test]
    fn round_trip_and_corrupt_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = StateFile::new(&dir.path().join("state"));
        assert_eq!(f.load().unwrap(), Vec::new());
        f.save(vec![record("http://a/"), record("http://b/")])
            .unwrap();
        assert_eq!(
            f.load().unwrap(),
            vec![record("http://a/"), record("http://b/")]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(f.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
        }
        // No temp file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path().join("state"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
        fs::write(f.path(), b"{ not json").unwrap();
        let err = f.load().unwrap_err();
        assert!(err.contains("moved to"), "{err}");
        assert!(dir
            .path()
            .join("state")
            .join(format!("{FILE_NAME}.corrupt"))
            .exists());
        assert_eq!(f.load().unwrap(), Vec::new());
    }
}
