//! Atomic output: a temp file beside the destination, renamed over it only on success.
//!
//! On any failure (or a drop before [`Atomic::commit`]) the temp file is removed and the destination is
//! left as it was. The input is never opened for writing.
//!
//! A destination replaced on a local Linux filesystem is freed off the caller's path: its pages (a previous
//! conversion's output, hundreds of megabytes for a large course) are released when its last handle closes,
//! and that handle is held across the rename and closed on a thread of its own, so the rename is quick and the
//! freeing runs beside whatever the caller does next (a report, the process's own exit), at the latest when
//! the process exits. Not on a network filesystem (NFS renames an open file aside, a share may refuse to
//! replace it), nor elsewhere; and a rename refused while the handle is held is tried again without it.

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
        // Not joined: the thread only closes the replaced file.
        let _ = self.commit_releasing()?;
        Ok(())
    }

    /// [`Atomic::commit`], and the thread closing the replaced file, if any.
    fn commit_releasing(self) -> Result<Option<std::thread::JoinHandle<()>>> {
        let dest = self.dest;
        let write_error = |source| Error::Write {
            path: dest.clone(),
            source,
        };
        let held = replaced(&dest);
        match self.tmp.persist(&dest) {
            Ok(_) => Ok(held.and_then(|file| {
                // A spawn that fails closes it here.
                std::thread::Builder::new().spawn(move || drop(file)).ok()
            })),
            Err(e) if held.is_some() => {
                drop(held);
                e.file.persist(&dest).map_err(|e| write_error(e.error))?;
                Ok(None)
            }
            Err(e) => Err(write_error(e.error)),
        }
    }
}

/// The regular file at `dest` that a rename is about to replace, when it is on a local filesystem where renaming
/// over an open file is plain, opened ([`open_held`]); `None` otherwise.
#[cfg(target_os = "linux")]
fn replaced(dest: &Path) -> Option<File> {
    if !fs::symlink_metadata(dest).ok()?.file_type().is_file() {
        return None;
    }
    let file = open_held(dest)?;
    // tmpfs, ramfs, ext2/3/4, XFS, Btrfs, F2FS, ZFS, overlayfs (a container's: its upper layer is one of these).
    const LOCAL: [u64; 8] = [
        0x0102_1994,
        0x8584_58f6,
        0xef53,
        0x5846_5342,
        0x9123_683e,
        0xf2f5_2010,
        0x2fc1_2fc1,
        0x794c_7630,
    ];
    let kind = rustix::fs::fstatfs(&file).ok()?.f_type as u64 & 0xffff_ffff;
    LOCAL.contains(&kind).then_some(file)
}

/// `dest` opened for reading without following a link or waiting (on a FIFO), `None` unless a regular file.
#[cfg(target_os = "linux")]
fn open_held(dest: &Path) -> Option<File> {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt;
    let flags = (OFlags::NONBLOCK | OFlags::NOFOLLOW).bits();
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(i32::try_from(flags).ok()?)
        .open(dest)
        .ok()?;
    file.metadata().ok()?.file_type().is_file().then_some(file)
}

#[cfg(not(target_os = "linux"))]
fn replaced(_dest: &Path) -> Option<File> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn commit(dest: &Path, bytes: &[u8]) {
        let mut out = Atomic::new(dest).unwrap();
        out.file().write_all(bytes).unwrap();
        out.commit().unwrap();
    }

    /// The rename replaces what was there (a file, nothing, a FIFO: never waited on, a link: replaced itself)
    /// and leaves no temp file.
    #[test]
    fn commit_replaces_the_destination_whatever_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.mbz");
        commit(&dest, b"first");
        commit(&dest, b"second");
        assert_eq!(fs::read(&dest).unwrap(), b"second");
        #[cfg(unix)]
        {
            let target = dir.path().join("target");
            fs::write(&target, b"kept").unwrap();
            let link = dir.path().join("link.mbz");
            std::os::unix::fs::symlink(&target, &link).unwrap();
            commit(&link, b"third");
            assert!(fs::symlink_metadata(&link).unwrap().file_type().is_file());
            assert_eq!(fs::read(&target).unwrap(), b"kept");
            let fifo = dir.path().join("fifo.mbz");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.is_ok_and(|s| s.success()), "mkfifo");
            assert!(replaced(&fifo).is_none());
            commit(&fifo, b"fourth");
            assert_eq!(fs::read(&fifo).unwrap(), b"fourth");
        }
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    }

    /// What is held across the rename: a regular file, opened without waiting on a FIFO or following a link
    /// (checked on `open_held` itself, not only behind the metadata check `replaced` makes first).
    #[cfg(target_os = "linux")]
    #[test]
    fn only_a_regular_file_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, b"x").unwrap();
        assert!(open_held(&file).is_some());
        assert!(open_held(&dir.path().join("missing")).is_none());
        assert!(open_held(dir.path()).is_none());
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(open_held(&link).is_none());
        assert!(replaced(&link).is_none());
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo");
        // Returns at once (no writer needed), and holds nothing.
        assert!(open_held(&fifo).is_none());
        assert!(replaced(&fifo).is_none());
    }

    /// On a local filesystem the replaced file is held across the rename and closed on the thread `commit`
    /// starts: once it has run, no descriptor of the process is left on the replaced (deleted) file.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_replaced_file_is_closed_after_the_rename() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("held-out.mbz");
        commit(&dest, b"first");
        assert!(
            replaced(&dest).is_some(),
            "{}: not a local filesystem?",
            dest.display()
        );
        let mut out = Atomic::new(&dest).unwrap();
        out.file().write_all(b"second").unwrap();
        let closing = out
            .commit_releasing()
            .unwrap()
            .expect("a thread closing the held file");
        closing.join().unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"second");
        let open_on_deleted: Vec<_> = fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
            .filter(|t| t.to_string_lossy().contains("held-out.mbz"))
            .collect();
        assert!(open_on_deleted.is_empty(), "{open_on_deleted:?}");
    }
}
