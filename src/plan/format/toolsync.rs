//! The tool_sync plugin's enrolment file, written as `vfremaux/moodle-tool_sync` reads it
//! (`enrols/enrols.class.php`, `enrol_sync_manager::cron()`; `lib.php`, `tool_sync_read()`,
//! `tool_sync_parsetime()`, `tool_sync_is_empty_line_or_format()`):
//! - each line is read with `fgets($filereader, 1024)`, so at most 1,023 bytes, newline included: a longer line
//!   would be read as two records. Lines are kept within that; a user's groups spread over extra rows;
//! - each line is split with `explode()` on the site's separator (`csvseparator`, `;` or `,`) with no quoting, and
//!   each value is `trim()`med: a value holding the separator or a line break, or with surrounding spaces, is
//!   refused rather than written where tool_sync would read something else;
//! - with the site's `encoding` not `UTF-8`, every line goes through `utf8_encode()`: the file is then written in
//!   ISO-8859-1, and a character it cannot hold is refused;
//! - groups are read from `g1`..`g9` only (`for ($i = 1; $i < 10; $i++)`), skipped when `empty()` (so a group
//!   named `0` cannot be written).

use std::io::Write;

use super::{Format, FormatError, Output, Settings, Written, key_of, local_seconds, reads_back};
use crate::plan::{Action, CoursePlan};

/// tool_sync: the chosen keys, one line per role (and per group chunk).
pub(super) static FORMAT: Format = Format::new("toolsync", "tool_sync", write_toolsync)
    .with_about("The tool_sync plugin's enrolment file (`;` or `,`, no quoting, lines under 1,024 bytes)")
    .with_import_note(import_note);

/// `fgets($filereader, 1024)` returns at most 1,023 bytes: a line (newline included) must fit in them.
pub const MAX_LINE_BYTES: usize = 1023;

/// Groups per line: `g1`..`g9` (`enrols.class.php`, `cron()`, `$optional` and the `$i < 10` loop).
pub const GROUPS_PER_LINE: usize = 9;

/// tool_sync's field separator, the site setting `tool_sync/csvseparator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Separator {
    /// `;`, the plugin's default (`cron()`: `$csvdelimiter2 = ";"` when unset).
    #[default]
    Semicolon,
    /// `,`.
    Comma,
}

impl Separator {
    /// The character.
    pub fn char(self) -> char {
        match self {
            Self::Semicolon => ';',
            Self::Comma => ',',
        }
    }
}

/// The file's encoding, the site setting `tool_sync/encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// `UTF-8`, read as it is (a BOM would be stripped; none is written).
    #[default]
    Utf8,
    /// `ISO-8859-1`: `tool_sync_read()` passes every line through `utf8_encode()`.
    Latin1,
}

impl Encoding {
    /// The name tool_sync's setting shows.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Latin1 => "ISO-8859-1",
        }
    }

    /// `text` as the file's bytes, or the first character this encoding cannot hold.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, char> {
        match self {
            Self::Utf8 => Ok(text.as_bytes().to_vec()),
            Self::Latin1 => text
                .chars()
                .map(|c| u8::try_from(u32::from(c)).map_err(|_| c))
                .collect(),
        }
    }
}

/// The site settings tool_sync needs.
fn import_note(settings: &Settings) -> String {
    let (user_key, course_key) = (
        format!("{:?}", settings.user_key).to_lowercase(),
        format!("{:?}", settings.course_key).to_lowercase(),
    );
    format!(
        "tool_sync settings: separator \"{}\" (tool_sync/csvseparator), encoding {} (tool_sync/encoding), user \
         identifier = {user_key}, course identifier = {course_key} (tool_sync/enrols_useridentifier and \
         enrols_courseidentifier); server time zone {}; every course needs an enabled manual enrolment method \
         (without one, tool_sync only assigns the role, with no enrolment); try it first with \"Simulate result \
         without altering data\"",
        settings.separator.char(),
        settings.encoding.name(),
        settings.tz
    )
}

/// One user's lines: the values checked, the groups packed in chunks that fit.
struct Lines {
    /// `add;role;uid;cid;manual;start;end` for each role.
    bases: Vec<String>,
    /// Groups per line (empty when the user has none).
    chunks: Vec<Vec<String>>,
}

/// tool_sync's enrolment file: no quoting, times `YYYY-MM-DD HH:MM:SS` in the server zone, `cmd` add and `enrol`
/// manual; one line per role, and extra lines (the first role again, same dates: `enrol_user()` changes nothing
/// the second time) for groups past the first line's. Suspended enrolments cannot be written (`add` forces
/// active, `enrol_user(..., ENROL_USER_ACTIVE)`): they are left out and returned as warnings.
///
/// Errors: a value tool_sync cannot carry, an empty identifier, or a line that cannot fit in 1,023 bytes.
fn write_toolsync(plans: &[CoursePlan], settings: &Settings, out: &mut dyn Write) -> Written {
    let sep = settings.separator.char();
    let mut output = Output::new("rows");
    let any_groups = plans
        .iter()
        .flat_map(|p| &p.actions)
        .any(|a| a.values.status == 0 && !a.roles.is_empty() && !a.groups.is_empty());
    let mut header: Vec<String> = ["cmd", "rolename", "uid", "cid", "enrol", "starttime", "endtime"]
        .map(String::from)
        .to_vec();
    if any_groups {
        header.push("gcmd".into());
        header.extend((1..=GROUPS_PER_LINE).map(|i| format!("g{i}")));
    }
    let mut lines = vec![header.join(&sep.to_string())];
    for a in plans.iter().flat_map(|p| &p.actions) {
        let user = &a.user.user.username;
        if a.values.status != 0 {
            output.left_out(format!(
                "user {user} in {}: the planned enrolment is suspended, which tool_sync cannot write (add forces \
                 active): left out",
                a.course.shortname
            ));
            continue;
        }
        if a.roles.is_empty() {
            output.left_out(format!(
                "user {user} holds no role in {}: left out",
                a.course.shortname
            ));
            continue;
        }
        let user_lines = lines_of(a, settings, any_groups, &mut output.warnings)?;
        let rows = user_lines.bases.len().max(user_lines.chunks.len());
        for i in 0..rows {
            let mut line = user_lines.bases.get(i).unwrap_or(&user_lines.bases[0]).clone();
            if any_groups {
                let chunk = user_lines.chunks.get(i).map(Vec::as_slice).unwrap_or(&[]);
                line.push_str(&group_fields(chunk, sep));
            }
            lines.push(line);
        }
    }
    for line in &lines {
        // Every value was checked in `lines_of`; the rest is ASCII.
        let mut bytes = settings.encoding.encode(line).map_err(|c| {
            FormatError::Io(std::io::Error::other(format!("`{c}` cannot be encoded")))
        })?;
        bytes.push(b'\n');
        out.write_all(&bytes)?;
    }
    output.rows = lines.len() - 1;
    Ok(output)
}

/// `;gaddcreate;g1;…;g9` (or `;;…` with no groups): `gaddcreate` creates a missing group
/// (`groups_create_group`) and adds the member (`groups_add_member`).
fn group_fields(chunk: &[String], sep: char) -> String {
    let gcmd = if chunk.is_empty() { "" } else { "gaddcreate" };
    let mut fields = vec![gcmd.to_owned()];
    fields.extend((0..GROUPS_PER_LINE).map(|i| chunk.get(i).cloned().unwrap_or_default()));
    format!("{sep}{}", fields.join(&sep.to_string()))
}

/// The checked values of `a`'s lines, its groups packed so that every line fits.
fn lines_of(
    a: &Action,
    settings: &Settings,
    any_groups: bool,
    warnings: &mut Vec<String>,
) -> Result<Lines, FormatError> {
    let (tz, sep, encoding) = (settings.tz, settings.separator.char(), settings.encoding);
    let user = a.user.user.username.clone();
    let course = a.course.shortname.clone();
    let (uid, cid) = key_of(a, settings)?;
    let check = |column: &'static str, value: &str| -> Result<usize, FormatError> {
        let refuse = |why: String| FormatError::Unreadable {
            user: user.clone(),
            course: course.clone(),
            column,
            value: value.to_owned(),
            why,
        };
        if value.contains([sep, '\n', '\r']) {
            return Err(refuse(format!(
                "it holds the separator `{sep}` or a line break, and tool_sync has no quoting"
            )));
        }
        if value.trim() != value {
            return Err(refuse("tool_sync trims surrounding spaces".into()));
        }
        encoding.encode(value).map(|b| b.len()).map_err(|c| {
            refuse(format!(
                "`{c}` cannot be written in {}, the file's encoding",
                encoding.name()
            ))
        })
    };
    check("uid", &uid)?;
    check("cid", &cid)?;
    let start = local_seconds(a.values.timestart, tz);
    let end = if a.values.timeend == 0 {
        String::new()
    } else {
        local_seconds(a.values.timeend, tz)
    };
    for (epoch, text) in [(a.values.timestart, &start), (a.values.timeend, &end)] {
        if epoch != 0 && !reads_back(text, epoch, tz) {
            warnings.push(format!(
                "user {user}: {text} is ambiguous in {tz} (DST change): tool_sync may read it an hour off"
            ));
        }
    }
    let mut bases = Vec::new();
    let mut longest = 0;
    for role in &a.roles {
        check("rolename", &role.shortname)?;
        let base = [
            "add",
            role.shortname.as_str(),
            &uid,
            &cid,
            "manual",
            &start,
            &end,
        ]
        .join(&sep.to_string());
        longest = longest.max(encoding.encode(&base).map(|b| b.len()).unwrap_or(0));
        bases.push(base);
    }
    // Bytes of a line with `n` bytes of group names: base, `;gaddcreate`, 9 separators, newline.
    let fixed = longest + if any_groups { 1 + "gaddcreate".len() + GROUPS_PER_LINE } else { 0 } + 1;
    let too_long = |bytes: usize| FormatError::LineTooLong {
        user: user.clone(),
        course: course.clone(),
        bytes,
    };
    if fixed > MAX_LINE_BYTES {
        return Err(too_long(fixed));
    }
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut used = 0;
    for g in &a.groups {
        let len = check("group", g)?;
        if g == "0" {
            return Err(FormatError::Unreadable {
                user: user.clone(),
                course: course.clone(),
                column: "group",
                value: g.clone(),
                why: "tool_sync skips a group whose name PHP's empty() takes as empty".into(),
            });
        }
        if fixed + len > MAX_LINE_BYTES {
            return Err(too_long(fixed + len));
        }
        match chunks.last_mut() {
            Some(c) if c.len() < GROUPS_PER_LINE && fixed + used + len <= MAX_LINE_BYTES => {
                c.push(g.clone());
                used += len;
            }
            _ => {
                chunks.push(vec![g.clone()]);
                used = len;
            }
        }
    }
    Ok(Lines { bases, chunks })
}
