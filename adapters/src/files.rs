//! Stored document files: content-addressed under a data directory, so that the sha256 recorded
//! with a document is also its file name, and the same file attached twice is stored once.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct FileStore {
    root: PathBuf,
}

/// A file as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub sha256: String,
    pub path: PathBuf,
    pub size: i64,
}

impl FileStore {
    /// Files go under `root/documents/`.
    pub fn new(root: impl Into<PathBuf>) -> FileStore {
        FileStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Stores `bytes`, returning their sha256 and where they are. Writes to a temporary name
    /// first and renames, so a crash never leaves a half-written file under a valid hash. A file
    /// already stored under that hash is kept only if it still has it: a damaged copy (a disk
    /// fault, a truncated restore) is replaced by the good one being stored.
    pub fn put(&self, bytes: &[u8]) -> io::Result<StoredFile> {
        let sha256 = crate::store::sha256_hex(bytes);
        let dir = self.root.join("documents").join(&sha256[..2]);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(&sha256);
        let intact = std::fs::read(&path).is_ok_and(|old| crate::store::sha256_hex(&old) == sha256);
        if !intact {
            if path.exists() {
                tracing::warn!(path = %path.display(), "stored file damaged: replaced by the copy being stored");
            }
            let tmp = dir.join(format!(".{sha256}.{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(StoredFile {
            sha256,
            path,
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        })
    }

    /// Whether a document can be stored now: creates `root/documents/` if needed and writes,
    /// syncs and removes a probe file there. The error says why not (permission, full disk,
    /// read-only file system); `serve` checks it at start and `/ready` on every call.
    pub fn writable(&self) -> io::Result<()> {
        use std::io::Write as _;
        let dir = self.root.join("documents");
        std::fs::create_dir_all(&dir)?;
        let probe = dir.join(format!(".probe.{}", std::process::id()));
        let written = std::fs::File::create(&probe).and_then(|mut f| {
            f.write_all(b"tiendo")?;
            f.sync_all()
        });
        let _ = std::fs::remove_file(&probe);
        written
    }

    /// `path` if it names a file inside this store's `documents/` folder (after resolving `..`
    /// and symbolic links); otherwise `PermissionDenied`. A recorded path is data, and data can
    /// be forged: a row naming `/etc/passwd` must not be served.
    pub fn confined(&self, path: &Path) -> io::Result<PathBuf> {
        let real = path.canonicalize()?;
        // No document folder yet: nothing can be inside it.
        let folder = self.root.join("documents").canonicalize().ok();
        if folder.as_ref().is_some_and(|f| real.starts_with(f)) && real.is_file() {
            Ok(real)
        } else {
            Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is outside the document folder {}",
                    path.display(),
                    self.root.join("documents").display()
                ),
            ))
        }
    }

    /// Reads a stored file back, checking that it lies inside the document folder
    /// ([`FileStore::confined`]) and still has the recorded hash.
    pub fn get(&self, path: &Path, sha256: &str) -> io::Result<Vec<u8>> {
        let path = self.confined(path)?;
        let bytes = std::fs::read(&path)?;
        if crate::store::sha256_hex(&bytes) != sha256 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} no longer matches its recorded sha256", path.display()),
            ));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_stored_once_under_their_hash_and_checked_on_read() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileStore::new(dir.path());
        let a = fs.put("Thuyết minh nhiệm vụ".as_bytes()).unwrap();
        let b = fs.put("Thuyết minh nhiệm vụ".as_bytes()).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.path.file_name().unwrap().to_str().unwrap(), a.sha256);
        assert_eq!(
            fs.get(&a.path, &a.sha256).unwrap(),
            "Thuyết minh nhiệm vụ".as_bytes()
        );
        std::fs::write(&a.path, b"changed").unwrap();
        assert_eq!(
            fs.get(&a.path, &a.sha256).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        // A path outside the document folder is not served, however it is written.
        let outside = dir.path().join("secret.txt");
        std::fs::write(&outside, b"secret").unwrap();
        let sha = crate::store::sha256_hex(b"secret");
        for p in [
            outside.clone(),
            dir.path().join("documents").join("..").join("secret.txt"),
        ] {
            assert_eq!(
                fs.get(&p, &sha).unwrap_err().kind(),
                io::ErrorKind::PermissionDenied,
                "{}",
                p.display()
            );
        }
    }

    #[test]
    fn storing_a_good_copy_replaces_a_damaged_file() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileStore::new(dir.path());
        let text = "Tờ trình phê duyệt".as_bytes();
        let a = fs.put(text).unwrap();
        for damage in [&b"hong"[..], &b""[..]] {
            std::fs::write(&a.path, damage).unwrap();
            let again = fs.put(text).unwrap();
            assert_eq!(again, a);
            assert_eq!(
                fs.get(&a.path, &a.sha256).unwrap(),
                text,
                "repaired after {damage:?}"
            );
        }
    }

    #[test]
    fn writable_checks_the_folder_can_take_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let fs = FileStore::new(dir.path().join("du-lieu"));
        fs.writable().unwrap();
        let blocked = FileStore::new(dir.path().join("tep"));
        std::fs::write(dir.path().join("tep"), b"not a folder").unwrap();
        assert!(blocked.writable().is_err());
    }
}
