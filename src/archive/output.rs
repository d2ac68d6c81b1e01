//! Atomic output: a temp file beside the destination, renamed over it only on success.
//!
//! On any failure (or a drop before [`Atomic::commit`]) the temp file is removed and the destination is
//! left as it was. The input is never opened for writing.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

use crate::archive::{Error, Result};

/// Refuses an output that is the input (same path or same file) or that exists as a non-regular file.
///
/// # Errors
/// [`Error::OutputIsInput`], [`Error::OutputNotFile`], [`Error::OutputFolderMissing`].
pub fn check(input: &Path, output: &Path) -> Result<()> {
    if let Ok(meta) = fs::symlink_metadata(output) {
        if !meta.file_type().is_file() {
            return Err(Error::OutputNotFile {
                path: output.to_path_buf(),
            });
        }
        if same_file(input, output) {
            return Err(Error::OutputIsInput {
                path: output.to_path_buf(),
            });
        }
    }
    // An output that does not exist yet cannot be the input (which does): no path comparison is needed.
    folder_of(output)?;
    Ok(())
}

/// The folder `output` goes in (`.` for a bare name), which must exist.
fn folder_of(output: &Path) -> Result<&Path> {
    let folder = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return Err(Error::OutputFolderMissing {
            path: output.to_path_buf(),
            folder: folder.to_path_buf(),
        });
    }
    Ok(folder)
}

#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// A temp file beside the destination.
#[derive(Debug)]
pub struct Atomic {
    tmp: tempfile::NamedTempFile,
    dest: PathBuf,
}

impl Atomic {
    /// Creates `.NAME.XXXXXX.tmp` in the destination's folder.
    ///
    /// # Errors
    /// [`Error::OutputFolderMissing`], or [`Error::Write`] when the folder is not writable.
    pub fn new(dest: &Path) -> Result<Self> {
        let dir = folder_of(dest)?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|source| Error::Write {
                path: dest.to_path_buf(),
                source,
            })?;
        Ok(Atomic {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    /// The temp file to write to.
    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// A second handle on the temp file.
    ///
    /// # Errors
    /// [`Error::Write`].
    pub fn handle(&self) -> Result<File> {
        self.tmp.reopen().map_err(|e| self.write_error(e))
    }

    /// Wraps an I/O error on the destination.
    pub fn write_error(&self, source: io::Error) -> Error {
        Error::Write {
            path: self.dest.clone(),
            source,
        }
    }

    /// Flushes to disk and renames over the destination.
    ///
    /// # Errors
    /// [`Error::Write`].
    pub fn commit(self) -> Result<()> {
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| self.write_error(e))?;
        // Temp files are created 0600; a backup is an ordinary file (0644, like Moodle's own).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(self.tmp.path(), fs::Permissions::from_mode(0o644));
        }
        let dest = self.dest.clone();
        self.tmp.persist(&dest).map_err(|e| Error::Write {
            path: dest,
            source: e.error,
        })?;
        Ok(())
    }
}
