//! Renderings of job outcomes in a batch: one row per file, as CSV, JSON or a self-contained HTML page, with
//! the run's details ([`Run`]) so that a report stands as the record of the run.

use std::io::{self, Write};

use chrono_tz::Tz;
use serde::Serialize;

pub mod apply;
mod html;

pub use html::write_html;

/// One file's line in a batch report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Row {
    /// Path relative to its input folder.
    pub path: String,
    /// Course shortname, when the archive was read that far (also on a row that failed later).
    pub course: String,
    /// `converted`, `unchanged` (nothing to convert), `failed`, `skipped` (an archive not run: another shard,
    /// already done, a clash), `cancelled`, or `ignored` (not an archive: not named `*.mbz`).
    pub status: String,
    /// The error, for failures; the reason, for skips.
    pub error: String,
    /// Users converted.
    pub users_converted: usize,
    /// Users whose end was stamped.
    pub stamped: usize,
    /// Users whose resulting enrolment is suspended.
    pub suspended: usize,
    /// The stamped end as Moodle stores it (the first instant without access), ISO 8601 with offset.
    pub until: String,
    /// Warnings, joined with `; `.
    pub warnings: String,
    /// Wall time for this archive.
    pub seconds: f64,
    /// The last second of access under the stamped end, ISO 8601 with offset (`until` minus one second).
    pub access_through: String,
    /// The same last second in words, in the zone, named (`31 Aug 2027 23:59:59 Europe/Paris`).
    #[serde(skip)]
    pub access_through_words: String,
}

/// The CSV header: the columns in order (`access_through` last, so that earlier columns keep their places).
pub const CSV_COLUMNS: [&str; 11] = [
    "path",
    "course",
    "status",
    "error",
    "users_converted",
    "stamped",
    "suspended",
    "until",
    "warnings",
    "seconds",
    "access_through",
];

impl Row {
    /// The row of a finished conversion: `converted`, or `unchanged` when it rewrote nothing; the end date in
    /// `tz`.
    pub fn converted(path: &str, o: &crate::ConvertOutcome, tz: Tz) -> Self {
        let end = o.report.until;
        Row {
            path: path.to_owned(),
            course: o.course.shortname.clone().unwrap_or_default(),
            status: if o.rewritten.is_empty() {
                "unchanged".into()
            } else {
                "converted".into()
            },
            users_converted: o.report.totals.users_converted,
            stamped: o.report.totals.stamped,
            suspended: o.report.totals.suspended,
            until: crate::time::format_iso(end, tz),
            access_through: if end == 0 {
                String::new()
            } else {
                crate::time::format_iso(end - 1, tz)
            },
            access_through_words: if end == 0 {
                String::new()
            } else {
                words(end - 1, tz)
            },
            warnings: o
                .report
                .warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            ..Row::default()
        }
    }
}

/// An instant as an admin reads it, in `tz`, the zone named in full: `31 Aug 2027 23:59:59 Europe/Paris`.
#[must_use]
pub fn words(epoch: i64, tz: Tz) -> String {
    match chrono::DateTime::from_timestamp(epoch, 0) {
        Some(utc) => format!(
            "{} {}",
            utc.with_timezone(&tz).format("%-d %b %Y %H:%M:%S"),
            tz.name()
        ),
        None => crate::time::format_iso(epoch, tz),
    }
}

/// How a batch was run: the head of its report.
#[derive(Debug, Clone)]
pub struct Run {
    /// When it started (epoch seconds).
    pub started: i64,
    /// When it finished (epoch seconds).
    pub finished: i64,
    /// The zone its dates were read and are shown in.
    pub tz: Tz,
    /// The tool and its version (`mbz-enrol 0.1.0 (commit …, date)`).
    pub version: String,
    /// The inputs (files or folders), as given.
    pub inputs: Vec<String>,
    /// The output folder.
    pub output: String,
    /// The options that shaped the outputs, as given (`--until 2027-08-31`), none that depend on the host.
    pub options: Vec<String>,
}

impl Run {
    /// The run details as JSON holds them: instants in ISO 8601 and in words, in the zone.
    fn doc(&self) -> RunDoc<'_> {
        RunDoc {
            started: crate::time::format_iso(self.started, self.tz),
            finished: crate::time::format_iso(self.finished, self.tz),
            timezone: self.tz.name(),
            version: &self.version,
            inputs: &self.inputs,
            output: &self.output,
            options: &self.options,
        }
    }
}

/// [`Run`] in the JSON report.
#[derive(Serialize)]
struct RunDoc<'a> {
    started: String,
    finished: String,
    timezone: &'a str,
    version: &'a str,
    inputs: &'a [String],
    output: &'a str,
    options: &'a [String],
}

/// Totals over rows: archives only (a file not named `*.mbz` is counted apart, as `ignored`).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Totals {
    /// Archives (every row but the ignored files).
    pub archives: usize,
    /// Converted archives.
    pub converted: usize,
    /// Archives with nothing to convert.
    pub unchanged: usize,
    /// Failed archives.
    pub failed: usize,
    /// Archives skipped (another shard, already done, a clash).
    pub skipped: usize,
    /// Cancelled archives.
    pub cancelled: usize,
    /// Files that are not archives (not named `*.mbz`), listed but not counted as archives.
    pub ignored: usize,
    /// Users converted, over all archives.
    pub users_converted: usize,
    /// Users stamped.
    pub stamped: usize,
    /// Users suspended.
    pub suspended: usize,
}

/// Totals of `rows`.
pub fn totals(rows: &[Row]) -> Totals {
    let mut t = Totals::default();
    for r in rows {
        match r.status.as_str() {
            "ignored" => {
                t.ignored += 1;
                continue;
            }
            "converted" => t.converted += 1,
            "unchanged" => t.unchanged += 1,
            "failed" => t.failed += 1,
            "skipped" => t.skipped += 1,
            _ => t.cancelled += 1,
        }
        t.archives += 1;
        t.users_converted += r.users_converted;
        t.stamped += r.stamped;
        t.suspended += r.suspended;
    }
    t
}

/// Where a row of this status goes in a report: failures first, then cancelled, done, unchanged, skipped.
#[must_use]
pub fn rank(status: &str) -> u8 {
    match status {
        "failed" => 0,
        "cancelled" => 1,
        "converted" | "done" | "dry-run" => 2,
        "unchanged" => 3,
        "skipped" => 4,
        _ => 5,
    }
}

/// Rows with failures first, then by path; each with its texts in plain words ([`plain`]).
pub fn ordered(rows: &[Row]) -> Vec<Row> {
    failures_first(
        rows,
        |r| (&r.status, &r.path),
        |r| [&mut r.error, &mut r.warnings],
    )
}

/// `rows` ordered by [`rank`] of their status, then by path (`key`: status and path), the texts `texts` names
/// made [`plain`]: the order of every report.
pub(crate) fn failures_first<T: Clone>(
    rows: &[T],
    key: impl Fn(&T) -> (&String, &String),
    texts: impl Fn(&mut T) -> [&mut String; 2],
) -> Vec<T> {
    let mut v: Vec<T> = rows.to_vec();
    for r in &mut v {
        for t in texts(r) {
            *t = plain(t);
        }
    }
    v.sort_by(|a, b| {
        let ((sa, pa), (sb, pb)) = (key(a), key(b));
        (rank(sa), pa).cmp(&(rank(sb), pb))
    });
    v
}

/// A message as plain text: the backticks that quote names on the terminal become quotation marks
/// (`` archive `a.mbz` `` → `archive "a.mbz"`), an unpaired one is dropped.
#[must_use]
pub fn plain(s: &str) -> String {
    let quotes = s.matches('`').count();
    let mut out = String::with_capacity(s.len());
    let mut seen = 0;
    for c in s.chars() {
        if c == '`' {
            seen += 1;
            if seen <= quotes - quotes % 2 {
                out.push('"');
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// CSV with a header line ([`CSV_COLUMNS`]). The run's details have no place in its columns: the JSON and HTML
/// reports carry them.
///
/// # Errors
/// Write errors.
pub fn write_csv(rows: &[Row], out: impl Write) -> io::Result<()> {
    csv_table(&CSV_COLUMNS, ordered(rows), out)
}

/// CSV: the header `columns` (written even with no row), then `rows`.
pub(crate) fn csv_table<T: Serialize>(
    columns: &[&str],
    rows: Vec<T>,
    out: impl Write,
) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    w.write_record(columns).map_err(io::Error::other)?;
    for r in rows {
        w.serialize(r).map_err(io::Error::other)?;
    }
    w.flush()
}

/// JSON: `{ "run": …, "totals": …, "archives": [ … ] }`.
///
/// # Errors
/// Write errors.
pub fn write_json(rows: &[Row], run: &Run, mut out: impl Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        run: RunDoc<'a>,
        totals: Totals,
        archives: Vec<Row>,
    }
    serde_json::to_writer_pretty(
        &mut out,
        &Doc {
            run: run.doc(),
            totals: totals(rows),
            archives: ordered(rows),
        },
    )?;
    writeln!(out)
}

#[cfg(test)]
mod tests;
