//! The journal of what apply sent and Moodle accepted, one JSON line per accepted call, kept per site and course
//! beside the report. No web service returns enrolment dates, so the journal is what tells a rerun that an
//! enrolment (with exactly these values) was already written: a rerun sends nothing already done.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ApplyError;
use crate::plan::{Call, Enrolment, Member};

/// One accepted call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Line {
    /// When (epoch).
    pub at: i64,
    /// The function.
    pub function: String,
    /// `ok`, or the errorcode Moodle answered although the call was written (`Message was not sent.`).
    pub answer: String,
    /// `enrol_manual_enrol_users` items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrolments: Vec<Enrolment>,
    /// `core_group_add_group_members` items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
}

/// A course's journal.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Enrolments accepted, with their values.
    pub enrolled: BTreeSet<Enrolment>,
    /// Memberships accepted.
    pub members: BTreeSet<Member>,
}

/// The journal's file name for `host` and course `id`.
pub fn file_name(host: &str, course: i64) -> String {
    let host: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("mbz-apply.{host}.course-{course}.jsonl")
}

impl Journal {
    /// The journal at `path`, empty when it does not exist; a last line cut short (a run killed while writing)
    /// is ignored.
    ///
    /// # Errors
    /// [`ApplyError::Journal`] when it cannot be read, or a line before the last is not a journal line.
    pub fn open(path: &Path) -> Result<Self, ApplyError> {
        let mut j = Self {
            path: path.to_path_buf(),
            enrolled: BTreeSet::new(),
            members: BTreeSet::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(j),
            Err(e) => return Err(journal_err(path, &e)),
        };
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        for (i, l) in lines.iter().enumerate() {
            match serde_json::from_str::<Line>(l) {
                Ok(line) => {
                    j.enrolled.extend(line.enrolments);
                    j.members.extend(line.members);
                }
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
                Err(e) => return Err(journal_err(path, &format!("line {}: {e}", i + 1))),
            }
        }
        Ok(j)
    }

    /// Records `call` as accepted with `answer`; flushed to disk before returning.
    ///
    /// # Errors
    /// [`ApplyError::Journal`].
    pub fn record(&mut self, call: &Call, answer: &str, at: i64) -> Result<(), ApplyError> {
        let mut line = Line {
            at,
            function: call.function().to_owned(),
            answer: answer.to_owned(),
            enrolments: Vec::new(),
            members: Vec::new(),
        };
        match call {
            Call::Enrol(items) => line.enrolments = items.clone(),
            Call::AddMembers(items) => line.members = items.clone(),
        }
        let mut text = serde_json::to_string(&line).map_err(|e| journal_err(&self.path, &e))?;
        text.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| journal_err(&self.path, &e))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| journal_err(&self.path, &e))?;
        self.enrolled.extend(line.enrolments);
        self.members.extend(line.members);
        Ok(())
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn journal_err(path: &Path, e: &dyn std::fmt::Display) -> ApplyError {
    ApplyError::Journal {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}
