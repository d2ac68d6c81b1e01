//! What resuming trusts: one small record per batch output, in `OUTDIR/.mbz-enrol-resume/` under the output's
//! relative path plus `.json`, naming the tool version, the input's SHA-256 and size, the course it held and the
//! options the output was made with. An output is done work only when its record says it was made from the same
//! input bytes with the same options by the same version; the outputs themselves never change.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Job;

/// The folder inside OUTDIR that holds the records.
pub const FOLDER: &str = ".mbz-enrol-resume";

/// The options that would shape a job's output now, for the course its record names (`None`: none apply).
pub type Options<'a> = dyn Fn(&Job, &Record) -> Option<serde_json::Value> + 'a;

/// What one output was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The tool and its version (`mbz-enrol 0.1.0`).
    pub tool: String,
    /// The input's SHA-256, lowercase hex.
    pub input_sha256: String,
    /// The input's size in bytes.
    pub input_bytes: u64,
    /// The course's shortname, when the backup names it (what a per-course option was chosen by).
    pub shortname: Option<String>,
    /// The course's idnumber, when set.
    pub idnumber: Option<String>,
    /// The options that shaped the output, as the caller words them (compared whole).
    pub options: serde_json::Value,
}

/// This build's name and version, as records hold it.
pub fn tool() -> String {
    format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
}

/// Where the record of the output at `relative` in `outdir` lives.
pub fn path(outdir: &Path, relative: &str) -> PathBuf {
    let mut p = outdir.join(FOLDER);
    for part in relative.split('/') {
        p.push(part);
    }
    p.as_mut_os_string().push(".json");
    p
}

/// The SHA-256 (lowercase hex) and size of the file at `path`, read as a stream.
///
/// # Errors
/// Reading errors.
pub fn digest(path: &Path) -> io::Result<(String, u64)> {
    let mut f = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((hex, total))
}

impl Record {
    /// The record of an output made from `input` (hashed now), for the course `shortname`/`idnumber`, with
    /// `options`.
    ///
    /// # Errors
    /// Reading errors.
    pub fn new(
        input: &Path,
        shortname: Option<&str>,
        idnumber: Option<&str>,
        options: serde_json::Value,
    ) -> io::Result<Self> {
        let (input_sha256, input_bytes) = digest(input)?;
        Ok(Record {
            tool: tool(),
            input_sha256,
            input_bytes,
            shortname: shortname.map(str::to_owned),
            idnumber: idnumber.map(str::to_owned),
            options,
        })
    }

    /// The record of the output at `relative` in `outdir`, if there is a readable one.
    pub fn read(outdir: &Path, relative: &str) -> Option<Self> {
        let bytes = fs::read(path(outdir, relative)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Writes the record of the output at `relative` in `outdir` (atomically: a temp file renamed).
    ///
    /// # Errors
    /// Writing errors.
    pub fn write(&self, outdir: &Path, relative: &str) -> io::Result<()> {
        let dest = path(outdir, relative);
        let dir = dest.parent().unwrap_or(outdir);
        fs::create_dir_all(dir)?;
        // Serialised whole, then written in one call: serde_json writes each token as it goes, which on an
        // unbuffered file was some 130 system calls per record (one record per archive of a batch).
        let mut text = serde_json::to_vec_pretty(self)?;
        text.push(b'\n');
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(&text)?;
        tmp.persist(&dest).map_err(|e| e.error)?;
        Ok(())
    }

    /// Whether `job`'s existing output was made from its input as it is now by this version, with the options
    /// `options` gives for this record's course (`None`: no options apply, so not done).
    pub fn covers(
        &self,
        job: &Job,
        options: impl FnOnce(&Record) -> Option<serde_json::Value>,
    ) -> bool {
        if self.tool != tool() || self.input_bytes != job.bytes || !job.output.is_file() {
            return false;
        }
        if options(self).as_ref() != Some(&self.options) {
            return false;
        }
        digest(&job.input)
            .is_ok_and(|(sha, bytes)| sha == self.input_sha256 && bytes == self.input_bytes)
    }
}

/// Removes the record of the output at `relative` in `outdir` (before that output is made again: a failure then
/// leaves no record that trusts it).
pub fn forget(outdir: &Path, relative: &str) {
    let _ = fs::remove_file(path(outdir, relative));
}
