//! The `apply` report as CSV or as batch's HTML page (run details, totals, a sortable table, failures first):
//! one row per course: what was sent, already done, left out, the calls, the warnings, the error in plain text.
//! (Its JSON report keeps every user: the binary writes it.)

use std::io::{self, Write};

use serde::Serialize;

use super::Run;
use super::html::{boxes, head, table_row, tail};
use crate::apply::{Applied, State};

/// One course's line in an apply report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ApplyRow {
    /// The archive, relative to its input folder.
    pub archive: String,
    /// Course shortname, when known (also on a row that failed once its course was read).
    pub course: String,
    /// `done`, `dry-run` (read calls only) or `failed`.
    pub status: String,
    /// The error, for a failure.
    pub error: String,
    /// Users sent and read back (on a dry run: the users that would be sent).
    pub users_sent: usize,
    /// Users with nothing left to send (journal and participants agree).
    pub already_done: usize,
    /// Users left out (no role in the backup).
    pub left_out: usize,
    /// Write calls sent (0 on a dry run).
    pub calls: usize,
    /// Warnings, joined with `; `.
    pub warnings: String,
    /// The course's journal.
    pub journal: String,
    /// Wall time for this course.
    pub seconds: f64,
}

/// The CSV header: the columns in order.
pub const APPLY_COLUMNS: [&str; 11] = [
    "archive",
    "course",
    "status",
    "error",
    "users_sent",
    "already_done",
    "left_out",
    "calls",
    "warnings",
    "journal",
    "seconds",
];

impl ApplyRow {
    /// The row of a course put into the live course (`dry_run`: read calls only).
    #[must_use]
    pub fn applied(archive: &str, a: &Applied, dry_run: bool, seconds: f64) -> Self {
        let count = |s: State| a.users.iter().filter(|u| u.state == s).count();
        ApplyRow {
            archive: archive.to_owned(),
            course: a.shortname.clone(),
            status: if dry_run { "dry-run" } else { "done" }.into(),
            users_sent: count(if dry_run {
                State::WouldSend
            } else {
                State::Sent
            }),
            already_done: count(State::AlreadyDone),
            left_out: count(State::LeftOut),
            calls: a.calls,
            warnings: a.warnings.join("; "),
            journal: a.journal.display().to_string(),
            seconds,
            ..ApplyRow::default()
        }
    }

    /// The row of a course that failed with `error` (its course when known).
    #[must_use]
    pub fn failed(archive: &str, course: &str, error: &str, seconds: f64) -> Self {
        ApplyRow {
            archive: archive.to_owned(),
            course: course.to_owned(),
            status: "failed".into(),
            error: error.to_owned(),
            seconds,
            ..ApplyRow::default()
        }
    }
}

/// Rows with failures first, then by archive; their texts in plain words.
#[must_use]
pub fn ordered(rows: &[ApplyRow]) -> Vec<ApplyRow> {
    super::failures_first(
        rows,
        |r| (&r.status, &r.archive),
        |r| [&mut r.error, &mut r.warnings],
    )
}

/// CSV with a header line ([`APPLY_COLUMNS`]), failures first.
///
/// # Errors
/// Write errors.
pub fn write_csv(rows: &[ApplyRow], out: impl Write) -> io::Result<()> {
    super::csv_table(&APPLY_COLUMNS, ordered(rows), out)
}

/// The self-contained HTML page of batch's report ([`super::write_html`]) for apply: the run's details
/// ([`Run::output`] is the journals' folder), the totals, then one row per course, failures first.
///
/// # Errors
/// Write errors.
pub fn write_html(
    rows: &[ApplyRow],
    run: &Run,
    title: &str,
    mut out: impl Write,
) -> io::Result<()> {
    head(&mut out, title, run, "journals in")?;
    let with = |s: &str| rows.iter().filter(|r| r.status == s).count();
    let sum = |f: fn(&ApplyRow) -> usize| rows.iter().map(f).sum::<usize>();
    boxes(
        &mut out,
        &[
            (rows.len(), "courses"),
            (with("done"), "done"),
            (with("dry-run"), "dry run"),
            (with("failed"), "failed"),
            (sum(|r| r.users_sent), "users sent (or to send)"),
            (sum(|r| r.already_done), "users already done"),
            (sum(|r| r.left_out), "users left out"),
            (sum(|r| r.calls), "calls"),
        ],
    )?;
    writeln!(
        out,
        "<div class=\"scroll\"><table id=\"r\"><thead><tr><th>archive</th><th>course</th><th>status</th>\
         <th>error</th><th title=\"users sent and read back (dry run: to send)\">sent</th>\
         <th title=\"users with nothing left to send\">already done</th>\
         <th title=\"users with no role in the backup\">left out</th><th>calls</th><th>warnings</th>\
         <th>journal</th><th>seconds</th></tr></thead><tbody>"
    )?;
    for r in ordered(rows) {
        table_row(
            &mut out,
            &r.status,
            &[
                ("p", "", &r.archive),
                ("c", "", &r.course),
                ("s", "", &r.status),
                ("e", "", &r.error),
                ("n", "", &r.users_sent.to_string()),
                ("n", "", &r.already_done.to_string()),
                ("n", "", &r.left_out.to_string()),
                ("n", "", &r.calls.to_string()),
                ("w", "", &r.warnings),
                ("p", "", &r.journal),
                ("n", "", &format!("{:.2}", r.seconds)),
            ],
        )?;
    }
    tail(&mut out)
}
