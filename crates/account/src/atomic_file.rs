//! Replacing a whole file so that a crash or a power loss leaves either the old contents or the
//! new ones, never a mix, an empty file or no file: write a temporary file in the same folder,
//! fsync it, rename it over the target, fsync the folder (a rename is durable only once the
//! folder's entry is).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The temporary file [`replace`] writes before renaming it over `path`: `secrets.json` →
/// `secrets.tmp`. Always the same name, so that one left over by a crash is found again.
pub fn temp_path(path: &Path) -> PathBuf {
    path.with_extension("tmp")
}

/// Replaces `path` with `bytes` atomically and durably, creating its folder if need be. On Unix
/// a new file gets `mode` (subject to the umask); the temporary file has it from the start, so
/// the contents are never readable more widely than the final file.
pub fn replace(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = folder_of(path);
    std::fs::create_dir_all(dir)?;
    let temp = temp_path(path);
    // A leftover from a crash: its contents are worthless, and `create_new` needs it gone.
    remove_if_present(&temp)?;
    let mut file = create_new(&temp, mode)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    drop(file);
    if let Err(err) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(err);
    }
    sync_dir(dir)
}

/// Deletes `path`; a file that is not there is no error.
pub fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// The folder holding `path` (`.` for a bare file name).
pub fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes the folder's entries (a rename, a new or deleted file) durable. Only Unix can open a
/// folder to fsync it; elsewhere the file's own sync is all there is.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_writes_the_new_contents_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deeper/settings.json");
        replace(&path, b"old", 0o644).unwrap();
        // A temporary file left by an earlier crash is simply replaced.
        std::fs::write(temp_path(&path), b"half a wri").unwrap();
        replace(&path, b"new", 0o644).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!temp_path(&path).exists());
    }

    #[cfg(unix)]
    #[test]
    fn replace_creates_the_file_with_the_given_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        replace(&path, b"{}", 0o600).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
