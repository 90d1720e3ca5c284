//! Stored document files: content-addressed under a data directory, so that the sha256 recorded
//! with a document is also its file name, and the same file attached twice is stored once.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Creates `dir` and its missing parents readable by the owner only (0700).
pub(crate) fn private_dir(dir: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Options that create a new file readable by the owner only (0600).
pub(crate) fn private_file() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o
}

/// The sha256 of a file, read in pieces.
fn hash_file(path: &Path) -> io::Result<String> {
    use std::io::Read as _;
    let mut h = Sha256::new();
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// How many first bytes of a file are kept to tell its type.
pub const HEAD_BYTES: usize = 16;

/// A file being received: written as it arrives to a temporary file (0600) inside the document
/// folder and hashed on the way, so that an upload is never held whole in memory. Dropped
/// without [`Staging::finish`], or its [`StagedFile`] without [`FileStore::put_staged`], the
/// temporary file is removed.
pub struct Staging {
    file: tempfile::NamedTempFile,
    hasher: Sha256,
    size: u64,
    head: Vec<u8>,
}

/// A received file, hashed, waiting to be stored under its hash.
pub struct StagedFile {
    path: tempfile::TempPath,
    pub sha256: String,
    pub size: i64,
    /// Its first [`HEAD_BYTES`] bytes, to tell its type.
    pub head: Vec<u8>,
}

impl Staging {
    /// Appends a piece of the file.
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        if self.head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk)
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The whole file received: synced to disk, with its hash.
    pub fn finish(mut self) -> io::Result<StagedFile> {
        self.file.flush()?;
        self.file.as_file().sync_all()?;
        Ok(StagedFile {
            sha256: hex::encode(self.hasher.finalize()),
            size: i64::try_from(self.size).unwrap_or(i64::MAX),
            head: self.head,
            path: self.file.into_temp_path(),
        })
    }
}

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
        let mut staging = self.stage()?;
        staging.write(bytes)?;
        self.put_staged(staging.finish()?)
    }

    /// Starts receiving a file: a temporary file (0600) in `root/documents/.staging/` (0700),
    /// on the same file system as the stored files so that storing it is a rename.
    pub fn stage(&self) -> io::Result<Staging> {
        let dir = self.root.join("documents").join(".staging");
        private_dir(&dir)?;
        // tempfile creates the file 0600 and removes it when dropped.
        let file = tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&dir)?;
        Ok(Staging {
            file,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(HEAD_BYTES),
        })
    }

    /// Stores a received file under its hash (`documents/ab/abcd…`, folders 0700, file 0600).
    /// A file already stored under that hash is kept only if it still has it: a damaged copy
    /// (a disk fault, a truncated restore) is replaced by the good one being stored.
    pub fn put_staged(&self, f: StagedFile) -> io::Result<StoredFile> {
        let dir = self.root.join("documents").join(&f.sha256[..2]);
        private_dir(&dir)?;
        let path = dir.join(&f.sha256);
        let intact = hash_file(&path).is_ok_and(|h| h == f.sha256);
        if !intact {
            if path.exists() {
                tracing::warn!(path = %path.display(), "stored file damaged: replaced by the copy being stored");
            }
            f.path.persist(&path).map_err(|e| e.error)?;
        }
        Ok(StoredFile {
            sha256: f.sha256,
            path,
            size: f.size,
        })
    }

    /// Whether a document can be stored now: creates `root/documents/` if needed and writes,
    /// syncs and removes a probe file there. The error says why not (permission, full disk,
    /// read-only file system); `serve` checks it at start and `/ready` on every call.
    pub fn writable(&self) -> io::Result<()> {
        use std::io::Write as _;
        let dir = self.root.join("documents");
        private_dir(&dir)?;
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
