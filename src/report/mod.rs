//! Renderings of job outcomes in a batch: one row per archive, as CSV, JSON or a self-contained HTML page.

use std::io::{self, Write};

use serde::Serialize;

/// One archive's line in a batch report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Row {
    /// Path relative to its input folder.
    pub path: String,
    /// Course shortname.
    pub course: String,
    /// `converted`, `unchanged` (nothing to convert), `failed`, `skipped` or `cancelled`.
    pub status: String,
    /// The error, for failures; the reason, for skips.
    pub error: String,
    /// Users converted.
    pub users_converted: usize,
    /// Users whose end was stamped.
    pub stamped: usize,
    /// Users whose resulting enrolment is suspended.
    pub suspended: usize,
    /// The stamped end, ISO 8601 with offset.
    pub until: String,
    /// Warnings, joined with `; `.
    pub warnings: String,
    /// Wall time for this archive.
    pub seconds: f64,
}

impl Row {
    /// The row of a finished conversion: `converted`, or `unchanged` when it rewrote nothing; the end date in
    /// `tz`.
    pub fn converted(path: &str, o: &crate::ConvertOutcome, tz: chrono_tz::Tz) -> Self {
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
            until: crate::time::format_iso(o.report.until, tz),
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

/// Totals over rows.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Totals {
    /// Rows.
    pub archives: usize,
    /// Converted archives.
    pub converted: usize,
    /// Archives with nothing to convert.
    pub unchanged: usize,
    /// Failed archives.
    pub failed: usize,
    /// Skipped files.
    pub skipped: usize,
    /// Cancelled archives.
    pub cancelled: usize,
    /// Users converted, over all archives.
    pub users_converted: usize,
    /// Users stamped.
    pub stamped: usize,
    /// Users suspended.
    pub suspended: usize,
}

/// Totals of `rows`.
pub fn totals(rows: &[Row]) -> Totals {
    let mut t = Totals {
        archives: rows.len(),
        ..Totals::default()
    };
    for r in rows {
        match r.status.as_str() {
            "converted" => t.converted += 1,
            "unchanged" => t.unchanged += 1,
            "failed" => t.failed += 1,
            "skipped" => t.skipped += 1,
            _ => t.cancelled += 1,
        }
        t.users_converted += r.users_converted;
        t.stamped += r.stamped;
        t.suspended += r.suspended;
    }
    t
}

/// Rows with failures first, then by path.
pub fn ordered(rows: &[Row]) -> Vec<&Row> {
    let rank = |s: &str| match s {
        "failed" => 0,
        "cancelled" => 1,
        "converted" => 2,
        "unchanged" => 3,
        _ => 4,
    };
    let mut v: Vec<&Row> = rows.iter().collect();
    v.sort_by(|a, b| (rank(&a.status), &a.path).cmp(&(rank(&b.status), &b.path)));
    v
}

/// CSV with a header line.
///
/// # Errors
/// Write errors.
pub fn write_csv(rows: &[Row], out: impl Write) -> io::Result<()> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(out);
    // The header is written even for an empty batch.
    w.write_record([
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
    ])
    .map_err(io::Error::other)?;
    for r in ordered(rows) {
        w.serialize(r).map_err(io::Error::other)?;
    }
    w.flush()
}

/// JSON: `{ "totals": …, "archives": [ … ] }`.
///
/// # Errors
/// Write errors.
pub fn write_json(rows: &[Row], mut out: impl Write) -> io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        totals: Totals,
        archives: Vec<&'a Row>,
    }
    serde_json::to_writer_pretty(
        &mut out,
        &Doc {
            totals: totals(rows),
            archives: ordered(rows),
        },
    )?;
    writeln!(out)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One self-contained HTML page (inline CSS and script, no external assets): totals, then a table sortable
/// by clicking its headers, failures first.
///
/// # Errors
/// Write errors.
pub fn write_html(rows: &[Row], title: &str, mut out: impl Write) -> io::Result<()> {
    let t = totals(rows);
    write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222}}
h1{{font-size:1.4em}}
.totals{{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}}
.totals div{{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;min-width:7em}}
.totals b{{display:block;font-size:1.5em}}
table{{border-collapse:collapse;width:100%;font-size:.9em}}
th,td{{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}}
th{{background:#f3f3f3;cursor:pointer;user-select:none}}
th:after{{content:" \2195";color:#999}}
td.n{{text-align:right}} td.d{{white-space:nowrap}}
tr.failed td{{background:#fde8e8}} tr.cancelled td{{background:#fff4d6}}
tr.skipped td{{color:#777}} tr.unchanged td{{background:#f7f7f7}}
</style></head><body>
<h1>{title}</h1>
<div class="totals">
<div><b>{}</b>archives</div><div><b>{}</b>converted</div><div><b>{}</b>nothing to convert</div>
<div><b>{}</b>failed</div><div><b>{}</b>skipped</div><div><b>{}</b>cancelled</div>
<div><b>{}</b>users converted</div><div><b>{}</b>stamped</div><div><b>{}</b>suspended</div>
</div>
<table id="r"><thead><tr><th>path</th><th>course</th><th>status</th><th>error</th><th>users converted</th>
<th>stamped</th><th>suspended</th><th>until</th><th>warnings</th><th>seconds</th></tr></thead><tbody>
"#,
        t.archives,
        t.converted,
        t.unchanged,
        t.failed,
        t.skipped,
        t.cancelled,
        t.users_converted,
        t.stamped,
        t.suspended,
        title = esc(title),
    )?;
    for r in ordered(rows) {
        writeln!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"d\">{}</td><td>{}</td><td class=\"n\">{:.2}</td></tr>",
            esc(&r.status),
            esc(&r.path),
            esc(&r.course),
            esc(&r.status),
            esc(&r.error),
            r.users_converted,
            r.stamped,
            r.suspended,
            esc(&r.until),
            esc(&r.warnings),
            r.seconds
        )?;
    }
    write!(
        out,
        r##"</tbody></table>
<script>
document.querySelectorAll("#r th").forEach(function(th, col) {{
  th.addEventListener("click", function() {{
    var body = document.querySelector("#r tbody");
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.dataset.asc !== "1";
    document.querySelectorAll("#r th").forEach(function(h) {{ delete h.dataset.asc; }});
    th.dataset.asc = asc ? "1" : "0";
    rows.sort(function(a, b) {{
      var x = a.cells[col].textContent, y = b.cells[col].textContent;
      var num = /^-?[0-9]+(\.[0-9]+)?$/;
      var c = (num.test(x) && num.test(y)) ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return asc ? c : -c;
    }});
    rows.forEach(function(r) {{ body.appendChild(r); }});
  }});
}});
</script>
</body></html>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        vec![
            Row {
                path: "b.mbz".into(),
                status: "converted".into(),
                users_converted: 3,
                ..Row::default()
            },
            Row {
                path: "a.mbz".into(),
                status: "failed".into(),
                error: "archive `a.mbz`: <bad> & \"worse\"".into(),
                ..Row::default()
            },
        ]
    }

    #[test]
    fn failures_first_and_escaped() {
        let mut html = Vec::new();
        write_html(&rows(), "Report", &mut html).unwrap();
        let html = String::from_utf8(html).unwrap();
        let (a, b) = (html.find("a.mbz").unwrap(), html.find("b.mbz").unwrap());
        assert!(a < b);
        assert!(html.contains("&lt;bad&gt; &amp; &quot;worse&quot;"));
        assert!(!html.contains("src=") && !html.contains("href="));
        let mut csv = Vec::new();
        write_csv(&rows(), &mut csv).unwrap();
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with(
            "path,course,status,error,users_converted,stamped,suspended,until,warnings,seconds\n"
        ));
        assert!(csv.lines().nth(1).unwrap().starts_with("a.mbz,"));
        assert_eq!(totals(&rows()).failed, 1);
    }
}
