//! The reports' content: run details, plain-text errors, the inclusive last second, totals of archives only.

use super::*;

fn rows() -> Vec<Row> {
    vec![
        Row {
            path: "b.mbz".into(),
            course: "B".into(),
            status: "converted".into(),
            users_converted: 3,
            until: "2027-09-01T00:00:00+02:00".into(),
            access_through: "2027-08-31T23:59:59+02:00".into(),
            access_through_words: "31 Aug 2027 23:59:59 Europe/Paris".into(),
            ..Row::default()
        },
        Row {
            path: "a.mbz".into(),
            course: "A".into(),
            status: "failed".into(),
            error: "archive `a.mbz`: <bad> & \"worse\"".into(),
            ..Row::default()
        },
        Row {
            path: "notes.txt".into(),
            status: "ignored".into(),
            error: "not named *.mbz".into(),
            ..Row::default()
        },
    ]
}

fn run() -> Run {
    let tz: Tz = "Europe/Paris".parse().unwrap();
    Run {
        started: 1_796_601_600, // 2026-12-07T00:00:00Z
        finished: 1_796_601_662,
        tz,
        version: "mbz-enrol 0.1.0 (commit abc, 2026-12-07)".into(),
        inputs: vec!["/srv/backups/in".into()],
        output: "/srv/backups/out".into(),
        options: vec!["--until 2027-08-31".into(), "--verify".into()],
    }
}

#[test]
fn html_is_the_record_of_the_run() {
    let mut html = Vec::new();
    write_html(&rows(), &run(), "Report", &mut html).unwrap();
    let html = String::from_utf8(html).unwrap();
    let (a, b) = (html.find("a.mbz").unwrap(), html.find("b.mbz").unwrap());
    assert!(a < b, "failures first");
    assert!(html.contains("&lt;bad&gt; &amp; &quot;worse&quot;"));
    assert!(!html.contains('`'), "no Markdown backticks: {html}");
    assert!(html.contains("archive &quot;a.mbz&quot;"));
    assert!(!html.contains("src=") && !html.contains("href="));
    for detail in [
        "7 Dec 2026 01:00:00 Europe/Paris",
        "7 Dec 2026 01:01:02 Europe/Paris",
        "mbz-enrol 0.1.0 (commit abc, 2026-12-07)",
        "/srv/backups/in",
        "/srv/backups/out",
        "--until 2027-08-31",
        "--verify",
    ] {
        assert!(html.contains(detail), "{detail}: {html}");
    }
    assert!(html.contains("31 Aug 2027 23:59:59 Europe/Paris"));
    assert!(!html.contains(">2027-09-01"), "not the exclusive end");
    // Totals: two archives; the text file is not one.
    assert!(html.contains("<div><b>2</b>archives</div>"), "{html}");
    assert!(html.contains("1 other file not counted"));
    // Fits its box: the table scrolls inside it and long texts wrap.
    assert!(html.contains("overflow-x:auto") && html.contains("overflow-wrap:anywhere"));
    // The failed row names its course.
    let failed = html.lines().find(|l| l.contains("a.mbz")).unwrap();
    assert!(failed.contains("<td class=\"c\">A</td>"), "{failed}");
}

#[test]
fn csv_and_json_keep_their_columns_and_add_the_last_second() {
    let mut csv = Vec::new();
    write_csv(&rows(), &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with(
        "path,course,status,error,users_converted,stamped,suspended,until,warnings,seconds,access_through\n"
    ));
    let mut lines = csv.lines().skip(1);
    let first = lines.next().unwrap();
    assert!(first.starts_with("a.mbz,A,failed,"), "{first}");
    assert!(!csv.contains('`'));
    assert!(
        csv.contains("2027-09-01T00:00:00+02:00,,0.0,2027-08-31T23:59:59+02:00"),
        "{csv}"
    );
    assert!(lines.last().unwrap().starts_with("notes.txt,,ignored,"));

    let mut json = Vec::new();
    write_json(&rows(), &run(), &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["run"]["timezone"], "Europe/Paris");
    assert_eq!(v["run"]["started"], "2026-12-07T01:00:00+01:00");
    assert_eq!(v["run"]["options"][0], "--until 2027-08-31");
    assert_eq!(v["run"]["output"], "/srv/backups/out");
    assert_eq!(v["totals"]["archives"], 2);
    assert_eq!(v["totals"]["ignored"], 1);
    assert_eq!(v["totals"]["failed"], 1);
    assert_eq!(
        v["archives"][0]["error"],
        "archive \"a.mbz\": <bad> & \"worse\""
    );
    assert_eq!(v["archives"][0]["course"], "A");
    assert_eq!(
        v["archives"][1]["access_through"],
        "2027-08-31T23:59:59+02:00"
    );
    assert!(v["archives"][1].get("access_through_words").is_none());
}

#[test]
fn plain_quotes_pairs_and_drops_a_lone_backtick() {
    assert_eq!(plain("member `a` of `b`"), "member \"a\" of \"b\"");
    assert_eq!(plain("odd ` one `x`"), "odd \" one \"x");
    assert_eq!(plain("none"), "none");
}
