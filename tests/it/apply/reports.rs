//! apply's CSV and HTML reports (batch's formats, one row per course): a course done and a course that failed,
//! the failure first with its error in plain text, the token in none of them; a report name of no known format
//! is refused before any call.

use super::standin::StandIn;
use super::{TOKEN, apply_report, count, fixture, no_secret, site};
use crate::util::{self, tempdir};

/// coh_group is done, coh_basic (its course not on the stand-in) fails: both in the report at `name`.
fn two_courses(name: &str) -> (String, String) {
    let (site, promised) = site();
    let dir = tempdir();
    let s = StandIn::start(site);
    let other = util::root().join("fixtures/coh_basic.mbz");
    let (o, text, report) = apply_report(
        &fixture(),
        &s.url,
        &dir.path().join(name),
        &[other.to_str().unwrap(), "--jobs", "2"],
    );
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("report: "), "{text}");
    assert_eq!(s.site.lock().unwrap().users, promised);
    assert!(!report.contains(TOKEN), "{report}");
    no_secret(&text, dir.path());
    (text, report)
}

#[test]
fn the_csv_report_has_a_row_per_course_the_failure_first_in_plain_text() {
    let (text, csv) = two_courses("report.csv");
    let mut rows = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = rows.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, mbz_enrol::report::apply::APPLY_COLUMNS);
    assert_eq!(header[..4], ["archive", "course", "status", "error"]);
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let (failed, done) = (&rows[0], &rows[1]);
    assert_eq!(
        (&failed[0], &failed[2]),
        ("coh_basic.mbz", "failed"),
        "{csv}"
    );
    assert_eq!(&failed[1], "COH_BASIC", "its course, read before it failed");
    assert!(failed[3].contains("shortname \"COH_BASIC\""), "{csv}");
    assert!(!failed[3].contains('`'), "plain text: {csv}");
    // The terminal's FAILED line says the same, its backticks aside.
    let line = text
        .lines()
        .find(|l| l.starts_with("FAILED  coh_basic.mbz: "))
        .unwrap();
    assert_eq!(
        mbz_enrol::report::plain(&line["FAILED  coh_basic.mbz: ".len()..]),
        failed[3]
    );
    assert_eq!((&done[0], &done[2]), ("coh_group.mbz", "done"), "{csv}");
    assert!(done[4].parse::<usize>().unwrap() > 0, "users sent: {csv}");
    assert_eq!(&done[5], "0", "nothing already done on a first run");
    assert!(done[7].parse::<usize>().unwrap() >= 2, "calls: {csv}");
    assert!(done[9].contains("mbz-apply."), "the journal: {csv}");
    assert!(text.contains(&format!("ok  coh_group.mbz ({})", &done[1])));
}

#[test]
fn the_html_report_is_batch_page_with_the_run_details_and_a_row_per_course() {
    let (_, html) = two_courses("report.html");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("<h1>mbz-enrol apply report</h1>"), "{html}");
    for detail in [
        "<dt>started</dt>",
        "<dt>time zone</dt><dd>Europe/Paris</dd>",
        "<dt>journals in</dt>",
        "--until 2027-08-31",
        "--url http://127.0.0.1:",
    ] {
        assert!(html.contains(detail), "{detail}: {html}");
    }
    assert!(html.contains("<div><b>2</b>courses</div>"), "{html}");
    assert!(html.contains("<div><b>1</b>failed</div>"), "{html}");
    let rows: Vec<&str> = html
        .lines()
        .filter(|l| l.starts_with("<tr class="))
        .collect();
    assert_eq!(rows.len(), 2, "{html}");
    assert!(rows[0].starts_with("<tr class=\"failed\"><td class=\"p\">coh_basic.mbz</td>"));
    assert!(rows[1].starts_with("<tr class=\"done\"><td class=\"p\">coh_group.mbz</td>"));
    assert!(!html.contains('`'), "plain text: {html}");
    assert!(
        !html.contains("src=") && !html.contains("href="),
        "self-contained"
    );
}

#[test]
fn a_dry_run_row_counts_the_users_to_send_and_no_call() {
    let (site, _) = site();
    let dir = tempdir();
    let s = StandIn::start(site);
    let report = dir.path().join("dry.csv");
    let (o, text, csv) = apply_report(&fixture(), &s.url, &report, &["--dry-run"]);
    assert!(o.status.success(), "{text}");
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert_eq!(
        (&rows[0][1], &rows[0][2]),
        ("COH_GROUP", "dry-run"),
        "{csv}"
    );
    assert!(rows[0][4].parse::<usize>().unwrap() > 0, "{csv}");
    assert_eq!(&rows[0][7], "0", "no call on a dry run: {csv}");
    assert_eq!(count(&s, "enrol_manual_enrol_users"), 0);
    no_secret(&text, dir.path());
}

#[test]
fn a_report_name_of_no_known_format_is_refused_before_any_call() {
    let (site, _) = site();
    let dir = tempdir();
    let s = StandIn::start(site);
    let (o, text, _) = apply_report(&fixture(), &s.url, &dir.path().join("report.txt"), &[]);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(
        text.contains("use a .csv, .json or .html file name"),
        "{text}"
    );
    assert_eq!(count(&s, "core_webservice_get_site_info"), 0);
    assert!(s.functions().is_empty());
}
