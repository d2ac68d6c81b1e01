//! The HTML batch report: one self-contained page (inline CSS and script, no external assets) that serves as
//! the record of a run: its details, the totals, then a table sortable by its headers, failures first. The page
//! fits a 1280 px window: long paths and messages wrap, and a table wider than its box scrolls inside it.

use std::io::{self, Write};

use super::{Row, Run, Totals, ordered, totals, words};

/// `s` escaped for HTML text and attribute values.
pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = r#"<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin-bottom:.3em}
dl.run{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.2em 1em;margin:.5em 0 1em}
dl.run dt{font-weight:600;color:#555}
dl.run dd{margin:0;overflow-wrap:anywhere}
.totals{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}
.totals div{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;min-width:7em}
.totals b{display:block;font-size:1.5em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
td.p,td.e,td.w{overflow-wrap:anywhere}
td.c{overflow-wrap:break-word} td.s{white-space:nowrap}
th{background:#f3f3f3;cursor:pointer;user-select:none}
th:after{content:" \2195";color:#999}
td.n{text-align:right} td.d{min-width:8em}
td.p{min-width:9em} td.e{min-width:14em} td.w{min-width:8em}
@media (min-width:1600px){td.d{white-space:nowrap}}
tr.failed td{background:#fde8e8} tr.cancelled td{background:#fff4d6}
tr.skipped td,tr.ignored td{color:#777} tr.unchanged td,tr.dry-run td{background:#f7f7f7}
</style>"#;

const SCRIPT: &str = r##"<script>
document.querySelectorAll("#r th").forEach(function(th, col) {
  th.addEventListener("click", function() {
    var body = document.querySelector("#r tbody");
    var rows = Array.prototype.slice.call(body.rows);
    var asc = th.dataset.asc !== "1";
    document.querySelectorAll("#r th").forEach(function(h) { delete h.dataset.asc; });
    th.dataset.asc = asc ? "1" : "0";
    var key = function(cell) { return cell.dataset.k !== undefined ? cell.dataset.k : cell.textContent; };
    rows.sort(function(a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      var num = /^-?[0-9]+(\.[0-9]+)?$/;
      var c = (num.test(x) && num.test(y)) ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function(r) { body.appendChild(r); });
  });
});
</script>"##;

/// The run's details as a definition list.
fn run_details(out: &mut impl Write, run: &Run, output: &str) -> io::Result<()> {
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items
                .iter()
                .map(|s| esc(s))
                .collect::<Vec<_>>()
                .join("<br>")
        }
    };
    writeln!(
        out,
        "<dl class=\"run\">\n<dt>started</dt><dd>{}</dd>\n<dt>finished</dt><dd>{}</dd>\n\
         <dt>time zone</dt><dd>{}</dd>\n<dt>tool</dt><dd>{}</dd>\n<dt>{}</dt><dd>{}</dd>\n\
         <dt>{}</dt><dd>{}</dd>\n<dt>options</dt><dd>{}</dd>\n</dl>",
        esc(&words(run.started, run.tz)),
        esc(&words(run.finished, run.tz)),
        esc(run.tz.name()),
        esc(&run.version),
        if run.inputs.len() == 1 {
            "input"
        } else {
            "inputs"
        },
        list(&run.inputs),
        esc(output),
        esc(&run.output),
        list(&run.options),
    )
}

/// Numbers in boxes, each with what it counts.
pub(super) fn boxes(out: &mut impl Write, boxes: &[(usize, &str)]) -> io::Result<()> {
    writeln!(out, "<div class=\"totals\">")?;
    for (n, what) in boxes {
        writeln!(out, "<div><b>{n}</b>{what}</div>")?;
    }
    writeln!(out, "</div>")
}

/// The page's head, title and run details (`output`: what [`Run::output`] names, e.g. "output folder").
pub(super) fn head(out: &mut impl Write, title: &str, run: &Run, output: &str) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\n\
         {STYLE}</head><body>\n<h1>{title}</h1>",
        title = esc(title)
    )?;
    run_details(out, run, output)
}

/// One table row of class `status`: per cell its class, its sort key (none when empty) and its text, escaped
/// here.
pub(super) fn table_row(
    out: &mut impl Write,
    status: &str,
    cells: &[(&str, &str, &str)],
) -> io::Result<()> {
    let mut line = format!("<tr class=\"{}\">", esc(status));
    for (class, key, text) in cells {
        line.push_str(&format!("<td class=\"{class}\""));
        if !key.is_empty() {
            line.push_str(&format!(" data-k=\"{}\"", esc(key)));
        }
        line.push_str(&format!(">{}</td>", esc(text)));
    }
    writeln!(out, "{line}</tr>")
}

/// The page's end: the table closed, the sorting script.
pub(super) fn tail(out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "</tbody></table></div>\n{SCRIPT}\n</body></html>")
}

/// The totals as boxes: archives only; files that are not archives in a line of their own.
fn totals_boxes(out: &mut impl Write, t: &Totals) -> io::Result<()> {
    boxes(
        out,
        &[
            (t.archives, "archives"),
            (t.converted, "converted"),
            (t.unchanged, "nothing to convert"),
            (t.failed, "failed"),
            (t.skipped, "skipped"),
            (t.cancelled, "cancelled"),
            (t.users_converted, "users converted"),
            (t.stamped, "users given the end date"),
            (t.suspended, "users suspended"),
        ],
    )?;
    if t.ignored > 0 {
        writeln!(
            out,
            "<p>{} not counted: not archives (not named *.mbz), listed last.</p>",
            if t.ignored == 1 {
                "1 other file".to_owned()
            } else {
                format!("{} other files", t.ignored)
            }
        )?;
    }
    Ok(())
}

/// One self-contained HTML page: the run's details, the totals, then a table sortable by clicking its
/// headers, failures first. Messages are plain text ([`super::plain`]); "until" shows the last second of
/// access in the zone.
///
/// # Errors
/// Write errors.
pub fn write_html(rows: &[Row], run: &Run, title: &str, mut out: impl Write) -> io::Result<()> {
    head(&mut out, title, run, "output folder")?;
    totals_boxes(&mut out, &totals(rows))?;
    writeln!(
        out,
        "<div class=\"scroll\"><table id=\"r\"><thead><tr><th>path</th><th>course</th><th>status</th>\
         <th>error</th><th title=\"users converted\">users</th>\
         <th title=\"users given the end date\">ending</th><th title=\"users suspended\">suspended</th>\
         <th title=\"the last second of access\">until</th><th>warnings</th><th>seconds</th></tr></thead><tbody>"
    )?;
    for r in ordered(rows) {
        table_row(
            &mut out,
            &r.status,
            &[
                ("p", "", &r.path),
                ("c", "", &r.course),
                ("s", "", &r.status),
                ("e", "", &r.error),
                ("n", "", &r.users_converted.to_string()),
                ("n", "", &r.stamped.to_string()),
                ("n", "", &r.suspended.to_string()),
                ("d", &r.access_through, &r.access_through_words),
                ("w", "", &r.warnings),
                ("n", "", &format!("{:.2}", r.seconds)),
            ],
        )?;
    }
    tail(&mut out)
}
