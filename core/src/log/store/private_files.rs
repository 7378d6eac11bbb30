//! Files only the account running Cairn may read: the data dir, its
//! snapshots and backups hold ciphertexts, wrapped keys and the audit
//! trail. Directories are created 0700 and files 0600 whatever the umask
//! (the mode given at creation is only ever narrowed by it), and what
//! others create in the data dir (sled's own files) is tightened at open.

use std::fs::{DirBuilder, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::{StoreError, io};

/// The mode of every directory Cairn creates.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file Cairn creates.
pub const FILE_MODE: u32 = 0o600;

/// How deep [`tighten`] walks (the data dir holds a few levels at most:
/// `snapshots/`, sled's `blobs/`, a compaction's folders).
const MAX_DEPTH: usize = 8;

/// The data dir's lock file, held by the open store.
pub const LOCK_FILE: &str = "store.lock";

/// Creates `dir` and its missing parents, each 0700.
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates (or truncates) a file for writing, 0600 when it is created.
pub fn create_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates a new file for writing, 0600; fails when it exists.
pub fn create_new_file(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Narrows every directory under `root` (itself included) to 0700 and
/// every file to 0600 when others could read, write or enter it.
/// Symbolic links are neither followed nor changed. Idempotent; returns
/// how many entries it changed.
pub fn tighten(root: &Path) -> std::io::Result<u64> {
    tighten_at(root, 0)
}

fn tighten_at(path: &Path, depth: usize) -> std::io::Result<u64> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        // Removed meanwhile (a snapshot replaced, a temp file gone).
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let file_type = meta.file_type();
    if file_type.is_symlink() {
        return Ok(0);
    }
    let wanted = if file_type.is_dir() {
        DIR_MODE
    } else {
        FILE_MODE
    };
    let mode = meta.permissions().mode() & 0o777;
    let mut changed = 0;
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & wanted))?;
        changed += 1;
    }
    if file_type.is_dir() && depth < MAX_DEPTH {
        for entry in std::fs::read_dir(path)? {
            changed += tighten_at(&entry?.path(), depth + 1)?;
        }
    }
    Ok(changed)
}

/// Takes the data dir's lock (`store.lock`, exclusive, held until the
/// returned file is dropped). A lock still held after a short wait belongs
/// to another process (or another open store in this one).
pub(super) fn lock_data_dir(dir: &Path) -> Result<File, StoreError> {
    const PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(&path)
        .map_err(io(format!("opening {}", path.display())))?;
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StoreError::InUse(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(io(format!("locking {}", path.display()))(error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn tighten_narrows_loose_entries_once_and_leaves_tight_ones() {
        // Given a tree made loose, as a 022 umask leaves it
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("data");
        std::fs::create_dir_all(root.join("snapshots")).expect("mkdir");
        std::fs::write(root.join("db"), b"x").expect("write");
        std::fs::write(root.join("snapshots/one"), b"x").expect("write");
        for (path, mode) in [
            (root.clone(), 0o755),
            (root.join("snapshots"), 0o755),
            (root.join("db"), 0o644),
            (root.join("snapshots/one"), 0o640),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        // When it is tightened twice
        let first = tighten(&root).expect("tighten");
        let second = tighten(&root).expect("tighten again");
        // Then every directory is 0700 and every file 0600, changed once
        assert_eq!((first, second), (4, 0));
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("snapshots")), 0o700);
        assert_eq!(mode(&root.join("db")), 0o600);
        assert_eq!(mode(&root.join("snapshots/one")), 0o600);
    }

    #[test]
    fn created_dirs_and_files_are_private_whatever_the_umask_allows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).expect("mkdir");
        let file = nested.join("f");
        drop(create_file(&file).expect("create"));
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert!(
            create_new_file(&file).is_err(),
            "create_new refuses an existing file"
        );
    }

    #[test]
    fn the_data_dir_lock_is_exclusive() {
        let dir = tempfile::tempdir().expect("tempdir");
        let held = lock_data_dir(dir.path()).expect("lock");
        assert!(matches!(
            lock_data_dir(dir.path()),
            Err(StoreError::InUse(_))
        ));
        drop(held);
        lock_data_dir(dir.path()).expect("free again");
    }
}
