//! `verify`: prove that an archive will restore, and, against its original, that a conversion changed only
//! what it promised.
//!
//! Every check has a stable name and a one-line finding. [`verify_file`] reads the archive once with its own
//! reader ([`scan`]), so convert, renew and batch can run it on their own output as an independent check.

mod change;
pub mod scan;
mod starts;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

pub use change::{Changes, InstanceChange, UserChange, UserState};
use scan::{Scan, names};

use crate::archive::Container;
use crate::enrol::members::{
    COURSE, COURSE_ROLES, ENROLMENT_FIELDS, ENROLMENTS, GROUPS, MOODLE_BACKUP, ROLES, USERS,
};
use crate::enrol::model::{self, MANUAL, Owned};
use crate::error::{Error, Result};
use crate::xml;

/// Check names of the content checks.
pub mod checks {
    pub use super::scan::names::*;
    /// `.ARCHIVE_INDEX`, if present, is first and lists every member with its type and size.
    pub const INDEX: &str = "archive-index";
    /// `moodle_backup.xml` is present and starts the way restore's format detection requires.
    pub const MOODLE_BACKUP: &str = "moodle-backup-header";
    /// The files restore requires are present (moodle-format.md §6).
    pub const REQUIRED: &str = "required-files";
    /// Integer fields of enrolments are integers; `$@NULL@$` only in nullable fields.
    pub const INTEGERS: &str = "enrol-integers";
    /// At most one `<enrolment>` per user per instance.
    pub const ONE_PER_USER: &str = "enrol-one-per-user";
    /// Every enrolment's and role assignment's user is in `users.xml` (a warning: restore skips the others).
    pub const USERS: &str = "enrol-users-known";
    /// Every role id used by instances and assignments is defined in the root `roles.xml`.
    pub const ROLES: &str = "roles-defined";
    /// `enrol_*` role assignments and group members point at an existing `<enrol id>`.
    pub const COMPONENTS: &str = "enrol-components";
    /// With `--against`: same members in the same order.
    pub const SAME_MEMBERS: &str = "same-members";
    /// With `--against`: every member but the enrolment XML and the index is byte-identical.
    pub const UNTOUCHED: &str = "untouched-members";
    /// With `--against`: the rewritten XML differs only inside enrolment, role-assignment and group-member
    /// records, and keeps every `<enrol id>` in order.
    pub const RECORDS_ONLY: &str = "changes-inside-records";
}

/// How much a finding matters to Moodle's restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Nothing found.
    Info,
    /// Restore skips something or misreports (an enrolment of an unknown user, a stale index).
    Warning,
    /// Restore fails or restores something else.
    Error,
}

/// One named check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable name.
    pub name: &'static str,
    /// Whether it does not fail the verification: no error, and with `--against` nothing the conversion
    /// introduced (pre-existing problems of the original do not fail it).
    pub passed: bool,
    /// The worst finding: `info` when nothing was found.
    pub severity: Severity,
    /// One-line finding.
    pub finding: String,
    /// Every failure, when it failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// With `--against`: the findings already present in the original (a subset of `failures`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_existing: Vec<String>,
}

/// The result of verifying one archive.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The archive.
    pub archive: String,
    /// The original, with `--against`.
    pub against: Option<String>,
    /// The container.
    pub container: Option<Container>,
    /// Number of members (index included).
    pub members: usize,
    /// All checks, in order.
    pub checks: Vec<Check>,
    /// With `--against`: what changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Changes>,
    /// Every check passed.
    pub passed: bool,
}

impl Verification {
    /// The failed checks.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.passed)
    }
    /// The checks that passed with findings (warnings, or problems the original already had).
    pub fn warned(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| c.passed && !c.failures.is_empty())
    }
}

/// One finding of a check.
#[derive(Debug, Clone)]
struct Finding {
    why: String,
    severity: Severity,
    /// What identifies it in the original too (byte offsets and instance labels move when converting).
    key: String,
}

/// Accumulates findings per check, then renders every check (passed ones too).
struct Book {
    order: Vec<(&'static str, String)>,
    failures: BTreeMap<&'static str, Vec<Finding>>,
}

/// The stable part of a finding: its text without byte offsets.
fn key_of(why: &str) -> String {
    let mut out = String::with_capacity(why.len());
    let mut rest = why;
    while let Some(i) = rest.find("at byte ") {
        out.push_str(&rest[..i + 8]);
        rest = rest[i + 8..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

impl Book {
    fn new() -> Self {
        Book {
            order: Vec::new(),
            failures: BTreeMap::new(),
        }
    }
    /// Declares a check and what it says when it passes.
    fn check(&mut self, name: &'static str, ok: impl Into<String>) {
        if !self.order.iter().any(|(n, _)| *n == name) {
            self.order.push((name, ok.into()));
        }
    }
    /// An error: restore fails or restores something else.
    fn fail(&mut self, name: &'static str, why: impl Into<String>) {
        let why = why.into();
        let key = key_of(&why);
        self.add(name, Severity::Error, key, why);
    }
    /// An error identified by `key` (what names it in the original too) rather than by its whole message.
    fn fail_keyed(&mut self, name: &'static str, key: &str, why: impl Into<String>) {
        self.add(name, Severity::Error, key_of(key), why.into());
    }
    /// A warning identified by `key`: restore skips something or misreports.
    fn warn(&mut self, name: &'static str, key: impl Into<String>, why: impl Into<String>) {
        self.add(name, Severity::Warning, key.into(), why.into());
    }
    fn add(&mut self, name: &'static str, severity: Severity, key: String, why: String) {
        self.failures
            .entry(name)
            .or_default()
            .push(Finding { why, severity, key });
    }
    /// Every (check, key) found.
    fn keys(&self) -> BTreeSet<(&'static str, String)> {
        self.failures
            .iter()
            .flat_map(|(n, v)| v.iter().map(|f| (*n, f.key.clone())))
            .collect()
    }
    /// The checks; with `original` (the keys of the original's findings), those findings are pre-existing and
    /// fail nothing, and every other finding fails, warnings included.
    fn finish(self, original: Option<&BTreeSet<(&'static str, String)>>) -> Vec<Check> {
        let mut out = Vec::new();
        for (name, ok) in self.order {
            let found = self.failures.get(name).cloned().unwrap_or_default();
            let old = |f: &Finding| original.is_some_and(|o| o.contains(&(name, f.key.clone())));
            let passed = found.iter().all(|f| match original {
                Some(_) => old(f),
                None => f.severity < Severity::Error,
            });
            let severity = found
                .iter()
                .map(|f| f.severity)
                .max()
                .unwrap_or(Severity::Info);
            // Introduced findings first, so the one-line finding names what fails.
            let (mut first, later): (Vec<&Finding>, Vec<&Finding>) =
                found.iter().partition(|f| !old(f));
            first.extend(later);
            let failures: Vec<String> = first.iter().map(|f| f.why.clone()).collect();
            let pre_existing = first
                .iter()
                .filter(|f| old(f))
                .map(|f| f.why.clone())
                .collect();
            let finding = match failures.len() {
                0 => ok,
                1 => failures[0].clone(),
                n => format!("{} (and {} more)", failures[0], n - 1),
            };
            out.push(Check {
                name,
                passed,
                severity,
                finding,
                failures,
                pre_existing,
            });
        }
        out
    }
}

fn read_scan(
    path: &Path,
    limits: &crate::archive::Limits,
    stop: Option<Arc<AtomicBool>>,
) -> Result<Scan> {
    let mut scan =
        scan::scan_stopping(path, limits, stop).map_err(|source| crate::archive::Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
    match scan.too_large.take() {
        Some(e) => Err(e),
        None => Ok(scan),
    }
}

/// Verifies `archive`, and with `against` proves what changed relative to it.
///
/// # Errors
/// [`crate::archive::Error::Read`] (as [`Error::Archive`]) when a file cannot be opened or read at all;
/// every other problem is a failed check.
pub fn verify_file(archive: &Path, against: Option<&Path>) -> Result<Verification> {
    verify_file_limited(archive, against, &crate::archive::Limits::default())
}

/// [`verify_file`] within `limits` (XML members held, total inflated size).
///
/// # Errors
/// As [`verify_file`], and [`crate::archive::Error::TooLarge`] (as [`Error::Archive`]) when either archive goes
/// past `limits`.
pub fn verify_file_limited(
    archive: &Path,
    against: Option<&Path>,
    limits: &crate::archive::Limits,
) -> Result<Verification> {
    // The two archives are read at once, the original on a thread of its own: each read is a core's work
    // (inflating, hashing and checking every member). The output's result is looked at first, as when they were
    // read one after the other, so the same error is reported, and when the output's read fails the original's
    // is stopped. An output that cannot be opened, is no archive, or is not a regular file (a pipe: its first
    // bytes would be consumed by the look) is read first, alone, as before.
    let beside = against.filter(|_| {
        std::fs::metadata(archive).is_ok_and(|m| m.is_file())
            && crate::archive::detect(archive).is_ok()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let (scan, read_before) = std::thread::scope(|s| {
        let thread = beside.and_then(|orig| {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .spawn_scoped(s, move || read_scan(orig, limits, Some(stop)))
                .ok()
        });
        let scan = read_scan(archive, limits, None);
        if scan.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let before = thread.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (scan, before)
    });
    let scan = scan?;
    if scan.container.is_none() {
        return Err(no_archive(archive));
    }
    let mut book = Book::new();
    restorability(&scan, &mut book);
    let mut changes = None;
    let mut original = None;
    if let Some(orig) = against {
        let before = match read_before {
            Some(read) => read?,
            // Not read beside the output (no thread for it, or the output is no archive): read now.
            None => read_scan(orig, limits, None)?,
        };
        if before.container.is_none() {
            return Err(no_archive(orig));
        }
        let mut old = Book::new();
        restorability(&before, &mut old);
        original = Some(old.keys());
        changes = Some(change::prove(&before, &scan, &mut book));
    }
    let checks = book.finish(original.as_ref());
    let passed = checks.iter().all(|c| c.passed);
    Ok(Verification {
        archive: archive.display().to_string(),
        against: against.map(|p| p.display().to_string()),
        container: scan.container,
        members: scan.members.len(),
        checks,
        changes,
        passed,
    })
}

fn restorability(scan: &Scan, book: &mut Book) {
    let container = scan.container;
    book.check(
        names::CONTAINER,
        match container {
            Some(Container::TarGz) => "gzip magic: tar.gz",
            _ => "zip magic",
        },
    );
    if container == Some(Container::TarGz) {
        book.check(
            names::GZIP,
            "the gzip stream decodes to its end (CRC and length match)",
        );
        book.check(
            names::USTAR,
            "every header is POSIX ustar with a valid checksum",
        );
        book.check(names::EXTENSIONS, "no pax or GNU extension records");
        book.check(names::SIZES, "every member's data is complete");
    } else {
        book.check(
            names::ZIP,
            "central directory and entries agree; every entry decompresses",
        );
    }
    book.check(names::PATHS, "every path is relative, without `./` or `..`");
    book.check(names::DUPLICATES, "no member name occurs twice");
    book.check(names::XML, "every XML member is well-formed UTF-8");
    for (name, why) in &scan.failures {
        book.fail(name, why.clone());
    }
    for (name, why) in &scan.warnings {
        book.warn(name, key_of(why), why.clone());
    }
    if container == Some(Container::TarGz) {
        check_index(scan, book);
    }
    let info = check_moodle_backup(scan, book);
    check_required(scan, info.as_ref(), book);
    check_enrolments(scan, book);
}

fn check_index(scan: &Scan, book: &mut Book) {
    let Some(text) = scan.held.get(".ARCHIVE_INDEX") else {
        book.check(
            checks::INDEX,
            "no .ARCHIVE_INDEX (Moodle estimates progress instead)",
        );
        return;
    };
    book.check(checks::INDEX, "");
    let first = scan
        .members
        .iter()
        .find(|m| !matches!(m.kind, 'x' | 'g' | 'L' | 'K'));
    if first.map(|m| m.path.as_str()) != Some(".ARCHIVE_INDEX") {
        book.warn(
            checks::INDEX,
            "not first",
            ".ARCHIVE_INDEX is not the first member (restore extracts it as a file and estimates progress)",
        );
    }
    let others: Vec<&scan::Found> = scan
        .members
        .iter()
        .filter(|m| m.path != ".ARCHIVE_INDEX" && matches!(m.kind, 'f' | 'd'))
        .collect();
    let text = String::from_utf8_lossy(text);
    let mut lines = text.split_terminator('\n');
    let header: String = lines.next().unwrap_or_default().chars().take(120).collect();
    let count = header
        .strip_prefix("Moodle archive file index. Count: ")
        .and_then(|n| n.parse::<usize>().ok());
    let entries: Vec<&str> = lines.collect();
    match count {
        None => book.fail(checks::INDEX, format!("bad first line `{header}`")),
        Some(n) if n < others.len() => book.fail(
            checks::INDEX,
            format!(
                "Count: {n} but the archive has {} files and folders (too low: a web restore of a large archive aborts with 'progress() value out of range')",
                others.len(),
            ),
        ),
        Some(n) if n != others.len() => book.warn(
            checks::INDEX,
            "stale",
            format!(
                "Count: {n} but the archive has {} files and folders (stale: members were removed after backup; restore only misreports progress)",
                others.len(),
            ),
        ),
        Some(n) if n != entries.len() => book.warn(
            checks::INDEX,
            "stale",
            format!(
                "Count: {n} but {} lines follow (stale: restore only misreports progress)",
                entries.len()
            ),
        ),
        Some(_) => {}
    }
    for (i, (line, m)) in entries.iter().zip(&others).enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        let expect_type = if m.kind == 'd' { "d" } else { "f" };
        let size = if m.kind == 'd' { 0 } else { m.size };
        let ok = fields.len() == 4
            && fields[0] == m.path
            && fields[1] == expect_type
            && fields[2].parse::<u64>().ok() == Some(size);
        if !ok {
            book.warn(
                checks::INDEX,
                "stale",
                format!(
                    "line {}: `{}` does not match member `{}` ({expect_type}, {size} bytes; stale: restore only misreports progress)",
                    i + 2,
                    line.chars()
                        .take(200)
                        .collect::<String>()
                        .replace('\t', " "),
                    m.path
                ),
            );
            break;
        }
    }
    let detail = format!(
        ".ARCHIVE_INDEX is first and lists all {} files and folders with their types and sizes",
        others.len()
    );
    if let Some(pos) = book.order.iter().position(|(n, _)| *n == checks::INDEX) {
        book.order[pos].1 = detail;
    }
}

fn check_moodle_backup(scan: &Scan, book: &mut Book) -> Option<crate::backup::Info> {
    book.check(
        checks::MOODLE_BACKUP,
        "moodle_backup.xml starts with the XML declaration, <moodle_backup> and <information>",
    );
    let Some(x) = scan.held.get(MOODLE_BACKUP) else {
        book.fail(
            checks::MOODLE_BACKUP,
            "moodle_backup.xml is missing at the archive root",
        );
        return None;
    };
    let head = &x[..x.len().min(200)];
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    for needle in [
        &br#"<?xml version="1.0" encoding="UTF-8"?>"#[..],
        b"<moodle_backup>",
        b"<information>",
    ] {
        if !has(needle) {
            book.fail(
                checks::MOODLE_BACKUP,
                format!(
                    "the first 200 bytes lack `{}`: restore cannot detect the format",
                    String::from_utf8_lossy(needle)
                ),
            );
        }
    }
    crate::backup::parse(x).ok()
}

/// The error for a file that is no archive, as every command words it (its first bytes named).
fn no_archive(path: &Path) -> Error {
    match crate::archive::detect(path) {
        Err(e) => Error::Archive(e),
        // Changed since it was read.
        Ok(_) => Error::Archive(crate::archive::Error::UnknownContainer {
            path: path.to_path_buf(),
            magic: "bytes that changed while it was read".into(),
        }),
    }
}

fn check_required(scan: &Scan, info: Option<&crate::backup::Info>, book: &mut Book) {
    let present: BTreeSet<&str> = scan.members.iter().map(|m| m.path.as_str()).collect();
    // Restates `enrol::members::required` (what convert and renew refuse without) on purpose: verify does not
    // share the writer's mistakes.
    let mut required = vec![
        MOODLE_BACKUP,
        ROLES,
        "questions.xml",
        "files.xml",
        "scales.xml",
        "outcomes.xml",
    ];
    let users = info
        .and_then(|i| i.root_settings.get("users"))
        .is_some_and(|v| v == "1");
    if users {
        required.push(USERS);
    }
    let course = info
        .and_then(|i| i.backup_type.as_deref())
        .is_none_or(|t| t == "course");
    if course {
        required.extend([COURSE, COURSE_ROLES, GROUPS]);
    }
    book.check(
        checks::REQUIRED,
        format!("present: {}", required.join(", ")),
    );
    for r in required {
        if !present.contains(r) {
            book.fail(
                checks::REQUIRED,
                format!("`{r}` is missing: restore stops with an error"),
            );
        }
    }
}

/// A strict Moodle integer: optional minus, digits, nothing else.
fn is_int(s: &[u8]) -> bool {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        // Moodle's columns are 64-bit at most.
        && std::str::from_utf8(s).is_ok_and(|t| t.parse::<i64>().is_ok())
}

/// Integer fields of `<enrol>`, with whether `$@NULL@$` is allowed (the column is nullable).
const ENROL_INTS: &[(&str, bool)] = &[
    ("status", false),
    ("enrolperiod", true),
    ("enrolstartdate", true),
    ("enrolenddate", true),
    ("expirynotify", true),
    ("expirythreshold", true),
    ("notifyall", true),
    ("roleid", true),
    ("customint1", true),
    ("customint2", true),
    ("customint3", true),
    ("customint4", true),
    ("customint5", true),
    ("customint6", true),
    ("customint7", true),
    ("customint8", true),
    ("timecreated", false),
    ("timemodified", false),
];
/// Integer fields of `<enrolment>` (none nullable; all required): every field restore reads there.
const ENROLMENT_INTS: &[&str] = &ENROLMENT_FIELDS;

fn check_enrolments(scan: &Scan, book: &mut Book) {
    book.check(
        checks::INTEGERS,
        "integer fields are integers; $@NULL@$ only in nullable fields",
    );
    book.check(
        checks::ONE_PER_USER,
        "at most one <enrolment> per user per instance",
    );
    book.check(checks::USERS, "every enrolled user is in users.xml");
    book.check(
        checks::ROLES,
        "every role id in use is defined in roles.xml",
    );
    book.check(
        checks::COMPONENTS,
        "enrol_* role assignments and group members point at existing <enrol id>s",
    );
    let role_ids: Option<BTreeSet<i64>> = scan
        .held
        .get(ROLES)
        .and_then(|x| model::parse_role_names(x).ok())
        .map(|m| m.keys().copied().collect());
    let role_used = |book: &mut Book, id: i64, what: String| {
        if id != 0 && role_ids.as_ref().is_some_and(|r| !r.contains(&id)) {
            book.warn(
                checks::ROLES,
                format!("role {id}"),
                format!(
                    "{what} uses role {id}, which roles.xml does not define (restore skips it)"
                ),
            );
        }
    };
    let mut instance_ids: BTreeSet<String> = BTreeSet::new();
    if let Some(x) = scan.held.get(ENROLMENTS) {
        let instances = match model::parse_enrolments(x) {
            Ok(i) => i,
            Err(e) => {
                book.fail(
                    checks::INTEGERS,
                    format!("course/enrolments.xml cannot be read as enrolments: {e}"),
                );
                Vec::new()
            }
        };
        // Restore maps every manual-typed <enrol> into one instance: count their enrolments together.
        let mut seen: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
        for inst in &instances {
            instance_ids.insert(inst.id.trim().to_owned());
            let label = format!("<enrol id=\"{}\">", inst.id);
            for (name, nullable) in ENROL_INTS {
                if let Some(f) = inst.fields.get(*name) {
                    // Decoded as restore reads it (CDATA, references, comments).
                    let value = f.text(x);
                    let null = value == xml::NULL;
                    if !(is_int(value.as_bytes()) || (null && *nullable)) {
                        book.fail(checks::INTEGERS, format!("{label} <{name}> is `{value}`"));
                    }
                } else if !*nullable {
                    book.fail(checks::INTEGERS, format!("{label} has no <{name}>"));
                }
            }
            if let Some(r) = inst.int(x, "roleid") {
                role_used(book, r, label.clone());
            }
            let key = if inst.is_manual(x) {
                MANUAL.to_owned()
            } else {
                inst.id.clone()
            };
            for ue in &inst.enrolments {
                let ul = format!("{} in {label}", ue.label(x));
                // What names the enrolment in the original too: its id, else its user (a byte offset moves).
                let ue_label = match ue.id(x) {
                    Some(id) => format!("<enrolment id=\"{id}\">"),
                    None => format!(
                        "<enrolment> of userid `{}`",
                        ue.fields
                            .get("userid")
                            .map(|f| f.text(x))
                            .unwrap_or_default()
                    ),
                };
                for name in ENROLMENT_INTS {
                    // Plain digits as Moodle writes them, else the value decoded as restore reads it. Keyed by the
                    // enrolment alone: a conversion moves it into the manual instance, and a value the original
                    // already had is pre-existing there too.
                    let what = match ue.fields.get(name) {
                        Some(f) if is_int(&x[f.content.clone()]) => continue,
                        Some(f) if is_int(f.text(x).as_bytes()) => continue,
                        Some(f) => format!("<{name}> is `{}`", f.text(x)),
                        None => format!("has no <{name}>"),
                    };
                    book.fail_keyed(
                        checks::INTEGERS,
                        &format!("{ue_label} {what}"),
                        format!("{ul} {what}"),
                    );
                }
                let Some(user) = ue.int(x, "userid") else {
                    continue;
                };
                if !seen.entry(key.clone()).or_default().insert(user) {
                    let place = if key == MANUAL {
                        "the manual instance (all manual <enrol>s restore into one)".to_owned()
                    } else {
                        label.clone()
                    };
                    book.fail(
                        checks::ONE_PER_USER,
                        format!("user {user} has two <enrolment>s in {place}: restore applies them one after another"),
                    );
                }
                unknown_user(scan, user, &ul, "enrolment", book);
            }
        }
    }
    if let Some(x) = scan.held.get(COURSE_ROLES)
        && let Ok(assignments) = model::parse_assignments(x)
    {
        for a in &assignments {
            let what = match &a.id(x) {
                Some(id) => format!("role assignment id=\"{id}\""),
                None => format!("role assignment at byte {}", a.span.start),
            };
            if let Some(u) = a.userid {
                unknown_user(scan, u, &what, "role assignment", book);
            }
            match a.roleid {
                Some(r) => role_used(book, r, what.clone()),
                None => book.fail(checks::INTEGERS, format!("{what} has no integer <roleid>")),
            }
            check_component(x, a.owner(), &instance_ids, &what, book);
        }
    }
    if let Some(x) = scan.held.get(GROUPS)
        && let Ok(members) = model::parse_group_members(x)
    {
        for m in &members {
            let what = format!(
                "member of group `{}` (user {})",
                m.group,
                m.userid
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| "?".into())
            );
            check_component(x, m.owner(), &instance_ids, &what, book);
        }
    }
}

/// A warning when `user` (of `what`, a `kind`) is not in `users.xml`: restore skips the record.
fn unknown_user(scan: &Scan, user: i64, what: &str, kind: &str, book: &mut Book) {
    let key = format!("{kind} of user {user}");
    match &scan.users {
        Some(users) if !users.contains_key(&user) => book.warn(
            checks::USERS,
            key,
            format!("user {user} ({what}) is not in users.xml: restore skips the {kind}"),
        ),
        None => book.warn(
            checks::USERS,
            key,
            format!("{what}: the archive has no users.xml (restore skips the {kind})"),
        ),
        _ => {}
    }
}

fn check_component(
    x: &[u8],
    [component, itemid]: [Option<&model::Field>; 2],
    instances: &BTreeSet<String>,
    what: &str,
    book: &mut Book,
) {
    let Some(c) = component else { return };
    let c = c.text(x);
    if !c.starts_with("enrol_") {
        return;
    }
    let item = itemid
        .map(|i| i.text(x).trim().to_owned())
        .unwrap_or_default();
    if !instances.contains(&item) {
        book.warn(
            checks::COMPONENTS,
            format!("{what} {c} {item}"),
            format!("{what} has component {c} and itemid {item}, which is no <enrol id>: restore drops it silently"),
        );
    }
}
