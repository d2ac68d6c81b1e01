//! Rewritten members handed to the writer before the others are known.
//!
//! [`super::produce_and_write`] gives its `produce` a [`Handoff`]. When the output is a zip whose untouched
//! records are being copied on another core, a member handed over is compressed at once, on a thread of its
//! own: a conversion rewrites `course/roles.xml` on a second thread while `course/enrolments.xml` is
//! rewritten, and hands it over from there; it is compressed while the enrolments are still being rewritten,
//! on the core the copy has left free. `course/enrolments.xml` is then handed over as pieces
//! ([`Handoff::give_pieces`]: ranges of the original and new bytes), compressed from them without being
//! assembled. Otherwise the bytes are kept and written with the other replacements. Either way the output's
//! bytes are the same: a member's compressed bytes depend only on its content and the level
//! (`zip::write::deflate_pieces`, one deflate stream given the member in fixed chunks).
//!
//! A compressing thread is not stopped when the write fails or is cancelled after the hand-over: it writes no
//! file, and ends once its member is compressed (a few tens of milliseconds for the largest courses).
//!
//! The producer reads the archive through its [`Handoff`] ([`Handoff::load_limited`],
//! [`Handoff::load_streaming`]): a zip writer that has planned the central directory (read as bytes) to start
//! copying gives that plan along, and the first pass does not read and plan it again.

use std::collections::BTreeMap;
use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::zip::{Known, Packed, RawPlan, Reader, deflate, deflate_pieces};
use super::{Error, Limits, Loaded};

/// A member's new bytes, given in order, piece by piece, to the function it is called with (once, on any thread).
/// The same type as `enrol::convert::Pieces` (the rules do not depend on the container code).
pub type Pieces = Box<dyn FnOnce(&mut dyn FnMut(&[u8])) + Send>;

/// Members handed over, by name.
pub struct Handoff {
    /// `Some(level)`: compress each member when it is handed over.
    compress: Option<u32>,
    given: Mutex<BTreeMap<String, Given>>,
    /// The central directory of the zip being written, as the writer read it.
    central: Option<(PathBuf, Arc<RawPlan>)>,
    /// The zip reader the writer parsed that directory with, for the first pass to take.
    reader: Mutex<Option<Reader>>,
}

/// A member handed over: its bytes, or their compressed form.
pub(super) enum Given {
    Kept(Vec<u8>),
    Packed(io::Result<Packed>),
    Packing(std::thread::JoinHandle<io::Result<Packed>>),
}

impl Given {
    /// The compressed member: waited for when it is being compressed, compressed at `level` when it was kept.
    pub(super) fn packed(self, level: u32) -> io::Result<Packed> {
        match self {
            Given::Kept(bytes) => deflate(&bytes, level),
            Given::Packed(p) => p,
            Given::Packing(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("compression thread failed"))),
        }
    }
}

impl Handoff {
    /// Keeps what is handed over, for the usual write.
    pub(super) fn keeping() -> Self {
        Handoff {
            compress: None,
            given: Mutex::new(BTreeMap::new()),
            central: None,
            reader: Mutex::new(None),
        }
    }

    /// Compresses what is handed over at `level`, each on a thread of its own.
    pub(super) fn compressing(level: u32) -> Self {
        Handoff {
            compress: Some(level),
            given: Mutex::new(BTreeMap::new()),
            central: None,
            reader: Mutex::new(None),
        }
    }

    /// Gives the producer the plan of the zip `input`'s central directory the writer has made, and the zip reader
    /// that parsed it (taken by the first load of `input`).
    pub(super) fn reading(mut self, input: &Path, plan: Arc<RawPlan>, reader: Reader) -> Self {
        self.central = Some((input.to_path_buf(), plan));
        self.reader = Mutex::new(Some(reader));
        self
    }

    /// Whether the producer reads `path` through the plan the writer has made.
    #[cfg(test)]
    pub(super) fn reads_central_of(&self, path: &Path) -> bool {
        self.central
            .as_ref()
            .is_some_and(|(input, _)| input == path)
    }

    /// [`super::load_limited`], the central directory not planned again when the writer has planned it.
    ///
    /// # Errors
    /// As [`super::load_limited`].
    pub fn load_limited(
        &self,
        path: &Path,
        wanted: &[&str],
        limits: &Limits,
    ) -> Result<Loaded, Error> {
        self.load_streaming(path, wanted, &[], limits, &mut |_, _| Ok(()))
    }

    /// [`super::load_streaming`], the central directory not planned again when the writer has planned it.
    ///
    /// # Errors
    /// As [`super::load_streaming`].
    pub fn load_streaming<E: From<Error>>(
        &self,
        path: &Path,
        wanted: &[&str],
        streamed: &[&str],
        limits: &Limits,
        each: &mut dyn FnMut(&str, &mut dyn BufRead) -> Result<(), E>,
    ) -> Result<Loaded, E> {
        let known = self
            .central
            .as_ref()
            .filter(|(input, _)| input == path)
            .map(|(_, plan)| Known {
                plan,
                reader: self
                    .reader
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take(),
            });
        super::load_read(path, wanted, streamed, limits, each, known)
    }

    /// True when a member handed over is compressed at once: worth handing over from another thread, early.
    pub fn compresses(&self) -> bool {
        self.compress.is_some()
    }

    /// Hands over `member`'s new bytes (a later hand-over of the same member replaces it).
    pub fn give(&self, member: &str, bytes: Vec<u8>) {
        let given = match self.compress {
            Some(level) => packing(move || deflate(&bytes, level)),
            None => Given::Kept(bytes),
        };
        self.insert(member, given);
    }

    /// Hands over `member`'s new bytes, `len` of them, as the pieces `pieces` writes: compressed from them (on a
    /// thread of its own) without the member being assembled, or assembled to be kept.
    pub fn give_pieces(&self, member: &str, len: usize, pieces: Pieces) {
        let given = match self.compress {
            Some(level) => packing(move || deflate_pieces(level, len, pieces)),
            None => {
                let mut bytes = Vec::with_capacity(len);
                pieces(&mut |p: &[u8]| bytes.extend_from_slice(p));
                debug_assert_eq!(bytes.len(), len, "{member}: the length handed over");
                Given::Kept(bytes)
            }
        };
        self.insert(member, given);
    }

    fn insert(&self, member: &str, given: Given) {
        self.given
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(member.to_owned(), given);
    }

    /// What was handed over.
    pub(super) fn into_given(self) -> BTreeMap<String, Given> {
        self.given
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Runs `compress` on a thread of its own, while the caller rewrites the next member; here when no thread can be
/// started (the job is kept where whichever runs it takes it).
fn packing(compress: impl FnOnce() -> io::Result<Packed> + Send + 'static) -> Given {
    let job = std::sync::Arc::new(Mutex::new(Some(compress)));
    let run = move || match job.lock().ok().and_then(|mut j| j.take()) {
        Some(compress) => compress(),
        None => Err(io::Error::other("compressed already")),
    };
    let here = run.clone();
    match std::thread::Builder::new().spawn(run) {
        Ok(h) => Given::Packing(h),
        Err(_) => Given::Packed(here()),
    }
}
