//! The plan's file formats behind one interface: [`Format`] is what every format implements, [`FORMATS`] the one
//! list of them. Adding a format is one new file in this folder and one line in the `register!` list below.
//!
//! Each writer documents the trap it avoids (peers.md §1–3).

use std::io::{self, Write};

use chrono_tz::Tz;

use super::{Action, CourseKey, CoursePlan, UserKey};
use crate::backup::Release;
use crate::time;

pub use toolsync::{Encoding, GROUPS_PER_LINE, MAX_LINE_BYTES, Separator};
pub use uploaduser::{ASSUMED, ENROLTIMESTART_SINCE, PLAN_FILE};
pub use ws::{
    Call, ENROLMENTS_PER_CALL, Enrolment, MAX_INPUT_VARS, MEMBERS_PER_CALL, Member, calls,
    form_encode, items as ws_items,
};

/// Declares each format's module and lists its [`Format`] in [`FORMATS`], in the order users see them.
macro_rules! register {
    ($($module:ident),* $(,)?) => {
        $(mod $module;)*
        /// Every plan format, in the order they are offered.
        pub static FORMATS: &[&Format] = &[$(&$module::FORMAT),*];
    };
}

register! {
    uploaduser,
    toolsync,
    json,
    ws,
}

/// The format named `name` (its [`Format::name`]).
pub fn format(name: &str) -> Option<&'static Format> {
    FORMATS.iter().copied().find(|f| f.name() == name)
}

/// Which identifiers a format writes for users and courses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// The keys chosen in [`Settings`].
    Chosen,
    /// Always these, whatever [`Settings`] says.
    Fixed {
        /// The user identifier.
        user: UserKey,
        /// The course identifier.
        course: CourseKey,
    },
    /// The backup's numeric user, course and role ids: valid only on the site that made the backup.
    SourceIds,
}

/// What a writer needs besides the plans.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The zone times are written in (the Moodle server's).
    pub tz: Tz,
    /// The user identifier, where the format lets it be chosen.
    pub user_key: UserKey,
    /// The course identifier, where the format lets it be chosen.
    pub course_key: CourseKey,
    /// tool_sync's field separator.
    pub separator: Separator,
    /// tool_sync's file encoding.
    pub encoding: Encoding,
    /// The plan's run time (epoch): Upload users' start for a planned start of 0.
    pub now: i64,
    /// Leave out (and list) the rows a consumer would misread, instead of refusing the plan.
    pub allow_partial: bool,
    /// The release of the site that will read the plan, when known (Upload users' columns depend on it).
    pub moodle: Option<Release>,
}

/// What a writer wrote: how many rows (lines, actions or requests, as `unit` says), how many actions it left
/// out, and warnings (users left out, values written inexactly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Rows written, the header not counted.
    pub rows: usize,
    /// What a row is (`rows`, `actions`, `requests`).
    pub unit: &'static str,
    /// Actions left out (each has its warning).
    pub left_out: usize,
    /// Warnings, the left-out actions' included.
    pub warnings: Vec<String>,
    /// What the plan assumes of the target courses it could not read (said once).
    pub assumed: Option<String>,
}

impl Output {
    /// Nothing written yet; rows are `unit`.
    pub fn new(unit: &'static str) -> Self {
        Self {
            unit,
            ..Self::default()
        }
    }

    /// An action left out, and why.
    pub fn left_out(&mut self, why: String) {
        self.left_out += 1;
        self.warnings.push(why);
    }
}

/// What a writer returns: what it wrote, or why it could not write.
pub type Written = Result<Output, FormatError>;

/// One plan format: its name, what it carries, and its writer. Each format's file declares one, in a few lines:
/// `Format::new(name, title, writer)`, then `.with_about(..)` and, where they differ from the defaults,
/// `.with_keys(..)` and `.with_import_note(..)`.
pub struct Format {
    name: &'static str,
    title: &'static str,
    about: &'static str,
    keys: Keys,
    write: fn(&[CoursePlan], &Settings, &mut dyn Write) -> Written,
    import_note: Option<fn(&Settings) -> String>,
}

impl Format {
    /// A format called `name` (one lowercase word, e.g. `uploaduser`), `title` in sentences (e.g. `Upload
    /// users`), written by `write`; it uses the chosen keys and needs no import note.
    pub const fn new(
        name: &'static str,
        title: &'static str,
        write: fn(&[CoursePlan], &Settings, &mut dyn Write) -> Written,
    ) -> Self {
        Self {
            name,
            title,
            about: "",
            keys: Keys::Chosen,
            write,
            import_note: None,
        }
    }

    /// With `about`, what it is in one line.
    pub const fn with_about(self, about: &'static str) -> Self {
        Self { about, ..self }
    }

    /// With `keys`, the identifiers it writes.
    pub const fn with_keys(self, keys: Keys) -> Self {
        Self { keys, ..self }
    }

    /// With `note`, how the site must be set up to read the written file.
    pub const fn with_import_note(self, note: fn(&Settings) -> String) -> Self {
        Self {
            import_note: Some(note),
            ..self
        }
    }

    /// The name it is chosen by.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What it is called in sentences.
    pub fn title(&self) -> &'static str {
        self.title
    }

    /// What it is, in one line.
    pub fn about(&self) -> &'static str {
        self.about
    }

    /// The identifiers it writes.
    pub fn keys(&self) -> Keys {
        self.keys
    }

    /// Writes `plans` to `out`. Returns warnings (users left out, values written inexactly).
    ///
    /// # Errors
    /// [`FormatError`].
    pub fn write(&self, plans: &[CoursePlan], settings: &Settings, out: &mut dyn Write) -> Written {
        (self.write)(plans, settings, out)
    }

    /// How the site must be set up to read the written file, if there is something to say.
    pub fn import_note(&self, settings: &Settings) -> Option<String> {
        self.import_note.map(|note| note(settings))
    }
}

/// An identifier a format needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier {
    /// A user identifier.
    User(UserKey),
    /// A course identifier.
    Course(CourseKey),
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Self::User(k) => format!("user {k:?}"),
            Self::Course(k) => format!("course {k:?}"),
        };
        f.write_str(&text.to_lowercase())
    }
}

/// A value a format cannot carry, or a write error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A value the consumer would read as something else (tool_sync: no quoting, values trimmed, one encoding).
    #[error("user `{user}` in course `{course}`: {column} `{value}` cannot be written: {why}")]
    Unreadable {
        /// The user (username).
        user: String,
        /// The course (shortname).
        course: String,
        /// The column.
        column: &'static str,
        /// The value.
        value: String,
        /// Why, in the consumer's terms.
        why: String,
    },
    /// A line tool_sync would split: it reads at most 1,023 bytes per line (`fgets(…, 1024)`).
    #[error(
        "user `{user}` in course `{course}`: its tool_sync line needs {bytes} bytes, more than the 1,023 that \
         tool_sync reads per line (fgets 1024), even with one group per line"
    )]
    LineTooLong {
        /// The user (username).
        user: String,
        /// The course (shortname).
        course: String,
        /// Bytes the shortest line would take, newline included.
        bytes: usize,
    },
    /// A column the consumer of this release does not know: it would refuse the whole file.
    #[error(
        "Moodle {release}'s Upload users does not know the `{column}#` column (it came in Moodle {since}): it \
         refuses the whole file (invalidfieldname), and without the column every enrolment would start on the \
         upload day, so no end could be exact"
    )]
    UnknownColumn {
        /// The release the plan is for.
        release: Release,
        /// The column (without its number).
        column: &'static str,
        /// The first release that knows it.
        since: Release,
    },
    /// A row its consumer would not apply as planned.
    #[error("user `{user}` in course `{course}`: {why}")]
    Inexact {
        /// The user (username).
        user: String,
        /// The course (shortname).
        course: String,
        /// What the consumer would do instead, in its terms.
        why: String,
    },
    /// The identifier the format needs is empty for this user or course.
    #[error("user `{user}` in course `{course}`: the {what} is empty")]
    MissingKey {
        /// The user.
        user: String,
        /// The course.
        course: String,
        /// Which identifier.
        what: Identifier,
    },
    /// Writing failed.
    #[error("write error")]
    Io(#[from] io::Error),
}

/// `YYYY-MM-DD HH:MM:SS` in `tz` (tool_sync's only accepted form).
fn local_seconds(epoch: i64, tz: Tz) -> String {
    time::format_iso(epoch, tz)
        .get(..19)
        .map(|s| s.replace('T', " "))
        .unwrap_or_default()
}

/// `YYYY-MM-DD HH:MM` in `tz`.
fn local_minutes(epoch: i64, tz: Tz) -> String {
    local_seconds(epoch, tz)
        .get(..16)
        .unwrap_or_default()
        .to_owned()
}

/// Whether `text` (local time in `tz`) reads back as exactly `epoch` (PHP takes the earlier instant of an
/// ambiguous local time).
fn reads_back(text: &str, epoch: i64, tz: Tz) -> bool {
    use chrono::{NaiveDateTime, TimeZone};
    let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"));
    parsed
        .ok()
        .and_then(|n| tz.from_local_datetime(&n).earliest())
        .is_some_and(|t| t.timestamp() == epoch)
}

/// The chosen user and course identifiers of `a`, both non-empty.
fn key_of(a: &Action, settings: &Settings) -> Result<(String, String), FormatError> {
    let (user_key, course_key) = (settings.user_key, settings.course_key);
    let (uid, cid) = (a.user.key(user_key), a.course.key(course_key));
    for (value, what) in [
        (&uid, Identifier::User(user_key)),
        (&cid, Identifier::Course(course_key)),
    ] {
        if value.is_empty() {
            return Err(FormatError::MissingKey {
                user: a.user.user.username.clone(),
                course: a.course.shortname.clone(),
                what,
            });
        }
    }
    Ok((uid, cid))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{CourseRef, UserRef};

    #[test]
    fn names_are_unique_and_found() {
        for f in FORMATS {
            assert!(format(f.name()).is_some_and(|g| g.name() == f.name()));
        }
        assert!(format("nope").is_none());
    }

    #[test]
    fn an_empty_identifier_is_a_typed_error_naming_no_flag() {
        let mut action = Action {
            course: CourseRef::default(),
            user: UserRef::default(),
            roles: Vec::new(),
            groups: Vec::new(),
            group_ids: Vec::new(),
            values: crate::plan::into::Values {
                status: 0,
                timestart: 0,
                timeend: 0,
            },
            stamped: false,
            sources: Vec::new(),
            into: None,
        };
        action.user.user.username = "u1".into();
        action.course.shortname = "c1".into();
        let settings = Settings {
            tz: Tz::UTC,
            user_key: UserKey::Idnumber,
            course_key: CourseKey::Shortname,
            separator: Separator::default(),
            encoding: Encoding::default(),
            now: 0,
            allow_partial: false,
            moodle: None,
        };
        let e = key_of(&action, &settings).unwrap_err();
        assert!(matches!(
            e,
            FormatError::MissingKey {
                what: Identifier::User(UserKey::Idnumber),
                ..
            }
        ));
        assert_eq!(
            e.to_string(),
            "user `u1` in course `c1`: the user idnumber is empty"
        );
    }
}
