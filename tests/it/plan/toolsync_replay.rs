//! tool_sync's reading of a plan, replayed on the written bytes as `vfremaux/moodle-tool_sync` does it
//! (`enrols/enrols.class.php`, `enrol_sync_manager::cron()`; `lib.php`, `tool_sync_read()`,
//! `tool_sync_is_empty_line_or_format()`, `tool_sync_parsetime()`): `fgets($f, 1024)`, `utf8_encode()` when the
//! site's encoding is not UTF-8, comment lines skipped, `explode()` on the separator, `trim()`, `mktime()` in the
//! server zone, `enrol_user()` (the last row for a user wins), `gaddcreate` over `g1`..`g9` (`empty()` skipped).
//! For every shared fixture, in four zones, both separators and both encodings, the enrolments tool_sync would
//! make must equal the JSON plan's promise. Plans are read from `-o -` (standard output).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::ZONES;
use crate::util::{self, run, tempdir};

const UNTIL: &[&str] = &["--until", "2027-08-31", "--from", "cohort,database"];

/// What one (user, course) ends up with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Enrolment {
    start: i64,
    end: i64,
    roles: BTreeSet<String>,
    groups: BTreeSet<String>,
}

/// Runs plan to standard output; returns (exit code, stderr, stdout bytes).
pub(super) fn plan_stdout(input: &Path, zone: &str, args: &[&str]) -> (i32, String, Vec<u8>) {
    let mut all = vec![
        "plan",
        input.to_str().unwrap(),
        "-o",
        "-",
        "--timezone",
        zone,
    ];
    all.extend(UNTIL);
    all.extend(args);
    let o = run(&all);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    (o.status.code().unwrap_or(-1), err, o.stdout)
}

/// `fgets($f, 1024)`: at most 1,023 bytes, up to and including a newline.
fn fgets_1024(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let limit = rest.len().min(1023);
        let take = rest[..limit]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(limit, |i| i + 1);
        out.push(&rest[..take]);
        rest = &rest[take..];
    }
    out
}

/// `tool_sync_read()`: `utf8_encode()` (ISO-8859-1 bytes to UTF-8) unless the site's encoding is UTF-8.
fn decode(line: &[u8], latin1: bool) -> String {
    if latin1 {
        line.iter().map(|&b| char::from(b)).collect()
    } else {
        String::from_utf8(line.to_vec()).expect("UTF-8 plan")
    }
}

/// `tool_sync_is_empty_line_or_format()`: empty once `\r` and `\n` are removed, or starting with `(`, `[`, `-`,
/// `#`, `/` or a space.
fn skipped(text: &str) -> bool {
    let t: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    t.is_empty() || t.starts_with(['(', '[', '-', '#', '/', ' '])
}

/// `tool_sync_parsetime()`: `(\d{4})-(\d\d)-(\d\d)\s+(\d\d):(\d\d):(\d\d)` then `mktime()` in the server zone;
/// anything else gives `default`.
fn parsetime(text: &str, default: i64, tz: Tz) -> i64 {
    let Ok(n) = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S") else {
        return default;
    };
    tz.from_local_datetime(&n)
        .earliest()
        .expect("no time in a DST gap is written")
        .timestamp()
}

/// PHP's `empty()` on a string.
fn php_empty(s: &str) -> bool {
    s.is_empty() || s == "0"
}

/// What tool_sync would do with `bytes`. `NOW` stands for `time()` (a start that did not parse).
const NOW: i64 = i64::MIN;
fn replay(bytes: &[u8], sep: char, latin1: bool, tz: Tz) -> BTreeMap<(String, String), Enrolment> {
    let lines = fgets_1024(bytes);
    for l in &lines {
        assert!(l.ends_with(b"\n"), "a line was split by fgets(1024): {l:?}");
    }
    let mut lines = lines.into_iter().map(|l| decode(l, latin1));
    let header_line = lines.by_ref().find(|l| !skipped(l)).expect("header");
    let header: Vec<String> = header_line
        .split(sep)
        .map(|h| h.trim().to_owned())
        .collect();
    let known = [
        "rolename",
        "cid",
        "uid",
        "starttime",
        "endtime",
        "cmd",
        "enrol",
        "gcmd",
        "g1",
        "g2",
        "g3",
        "g4",
        "g5",
        "g6",
        "g7",
        "g8",
        "g9",
    ];
    for h in &header {
        assert!(known.contains(&h.as_str()), "errorinvalidcolumnname {h}");
    }
    let mut got: BTreeMap<(String, String), Enrolment> = BTreeMap::new();
    for line in lines {
        if skipped(&line) {
            continue;
        }
        let mut record: BTreeMap<&str, String> = BTreeMap::new();
        for (i, value) in line.split(sep).enumerate() {
            let name = header
                .get(i)
                .unwrap_or_else(|| panic!("undefined header {i}: {line}"));
            record.insert(name, value.trim().to_owned());
        }
        assert_eq!(record.get("cmd").map(String::as_str), Some("add"), "{line}");
        // With no `enrol` column, only the role would be assigned: every row must carry it.
        let enrol = record.get("enrol").expect("enrol column");
        assert!(enrol.is_empty() || enrol == "manual", "{line}");
        let start = parsetime(record.get("starttime").map_or("", |s| s), NOW, tz);
        let end = parsetime(record.get("endtime").map_or("", |s| s), 0, tz);
        assert_ne!(start, NOW, "start left to time(): {line}");
        let e = got
            .entry((record["uid"].clone(), record["cid"].clone()))
            .or_default();
        // enrol_user(): an existing enrolment takes the row's dates.
        (e.start, e.end) = (start, end);
        e.roles.insert(record["rolename"].clone());
        if let Some(gcmd) = record.get("gcmd").filter(|g| !g.is_empty()) {
            assert_eq!(gcmd, "gaddcreate");
            for i in 1..10 {
                if let Some(g) = record.get(format!("g{i}").as_str())
                    && !php_empty(g)
                {
                    e.groups.insert(g.clone());
                }
            }
        }
    }
    got
}

/// What the JSON plan promises tool_sync should do: active enrolments with a role.
fn promised(json: &[u8]) -> BTreeMap<(String, String), Enrolment> {
    let doc: serde_json::Value = serde_json::from_slice(json).unwrap();
    let mut out = BTreeMap::new();
    for c in doc["courses"].as_array().unwrap() {
        for a in c["actions"].as_array().unwrap() {
            let roles: BTreeSet<String> = a["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["shortname"].as_str().unwrap().to_owned())
                .collect();
            if a["status"].as_i64() != Some(0) || roles.is_empty() {
                continue;
            }
            let groups = a["groups"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g.as_str().unwrap().to_owned())
                .collect();
            out.insert(
                (
                    a["user"]["username"].as_str().unwrap().to_owned(),
                    a["course"]["shortname"].as_str().unwrap().to_owned(),
                ),
                Enrolment {
                    start: a["timestart"].as_i64().unwrap(),
                    end: a["timeend"].as_i64().unwrap(),
                    roles,
                    groups,
                },
            );
        }
    }
    out
}

/// Every shared fixture and the project's own.
pub(super) fn fixtures() -> Vec<PathBuf> {
    let mut all = util::shared("moodle43")
        .map(|d| util::mbz_files(&d))
        .unwrap_or_default();
    for e in std::fs::read_dir(util::root().join("fixtures")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "mbz") {
            all.push(p);
        }
    }
    all
}

/// Plans `input` in `zone` as JSON and as tool_sync (`sep`, `encoding`); asserts the replay gives the promise and
/// the summary counts the rows written. Returns false when the plan was refused (with its reason checked).
fn check(input: &Path, zone: &str, sep: &str, encoding: &str) -> bool {
    let tz: Tz = zone.parse().unwrap();
    let (code, err, json) = plan_stdout(input, zone, &["--format", "json"]);
    if code != 0 {
        // Archives nothing can be planned from (no convertible method) fail for every format alike.
        let (c2, _, _) = plan_stdout(input, zone, &["--format", "toolsync"]);
        assert_eq!(c2, code, "{err}");
        return false;
    }
    let args = [
        "--format",
        "toolsync",
        "--separator",
        sep,
        "--encoding",
        encoding,
    ];
    let (code, err, csv) = plan_stdout(input, zone, &args);
    if code != 0 {
        assert!(
            err.contains("cannot be written") || err.contains("1,023"),
            "{}: {err}",
            input.display()
        );
        return false;
    }
    let latin1 = encoding == "iso-8859-1";
    let got = replay(&csv, sep.chars().next().unwrap(), latin1, tz);
    let want = promised(&json);
    assert_eq!(
        got,
        want,
        "{} in {zone} ({sep} {encoding})",
        input.display()
    );
    let rows = fgets_1024(&csv).len() - 1;
    assert!(
        err.contains(&format!("plan: {rows} rows written to standard output")),
        "{err}"
    );
    for line in fgets_1024(&csv) {
        assert!(line.len() < 1024);
    }
    true
}

#[test]
fn every_fixture_replayed_by_tool_sync_gives_the_plan() {
    let fixtures = fixtures();
    assert!(!fixtures.is_empty());
    let mut replayed = 0;
    for input in &fixtures {
        for zone in ZONES {
            replayed += usize::from(check(input, zone, ";", "utf-8"));
            replayed += usize::from(check(input, zone, ",", "iso-8859-1"));
        }
    }
    // Every plannable fixture replays in both settings (noconvert-like archives fail for every format).
    assert!(replayed >= fixtures.len() * ZONES.len(), "{replayed}");
}

/// `coh_group.mbz` with `edit` applied to its groups.xml.
pub(super) fn with_groups(dir: &Path, name: &str, edit: impl Fn(&str) -> String) -> PathBuf {
    let input = dir.join(name);
    let src = util::root().join("fixtures/coh_group.mbz");
    util::with_member(&src, "groups.xml", edit, &input);
    input
}

/// `n` more groups, named by `name(i)`, each holding user 40 (cg001).
pub(super) fn more_groups(n: usize, name: impl Fn(usize) -> String) -> impl Fn(&str) -> String {
    move |text: &str| {
        let mut extra = String::new();
        for i in 0..n {
            extra.push_str(&format!(
                "  <group id=\"{}\">\n    <name>{}</name>\n    <idnumber></idnumber>\n    <description></description>\n    \
                 <descriptionformat>0</descriptionformat>\n    <enrolmentkey>$@NULL@$</enrolmentkey>\n    \
                 <picture>0</picture>\n    <visibility>0</visibility>\n    <participation>1</participation>\n    \
                 <timecreated>1795273328</timecreated>\n    <timemodified>1795273328</timemodified>\n    \
                 <group_members>\n      <group_member id=\"{}\">\n        <userid>40</userid>\n        \
                 <timeadded>1795273328</timeadded>\n        <component></component>\n        <itemid>0</itemid>\n      \
                 </group_member>\n    </group_members>\n  </group>\n",
                900 + i,
                name(i),
                9000 + i
            ));
        }
        text.replacen("</groups>", &format!("{extra}</groups>"), 1)
    }
}

#[test]
fn many_and_long_groups_spread_over_extra_rows() {
    let dir = tempdir();
    // 12 more groups of 200 bytes each (accents included): past 9 groups and past 1,023 bytes per line.
    let long = with_groups(
        dir.path(),
        "long.mbz",
        more_groups(12, |i| format!("Groupe é{i:02} {}", "x".repeat(187))),
    );
    for zone in ZONES {
        for (sep, encoding) in [(";", "utf-8"), (",", "iso-8859-1")] {
            assert!(check(&long, zone, sep, encoding), "{zone} {sep} {encoding}");
        }
    }
    let (_, _, csv) = plan_stdout(&long, "UTC", &["--format", "toolsync"]);
    let rows40 = fgets_1024(&csv)
        .iter()
        .filter(|l| String::from_utf8_lossy(l).contains("Groupe é"))
        .count();
    // 12 names of 201 bytes: 4 per line (fixed part included), so 3 lines or more, none split.
    assert!(rows40 >= 3, "{}", String::from_utf8_lossy(&csv));
}

#[test]
fn what_tool_sync_cannot_read_is_refused_naming_user_and_course() {
    let dir = tempdir();
    let cases: [(&str, String, &[&str], &str); 5] = [
        ("huge.mbz", "y".repeat(1100), &[], "more than the 1,023"),
        (
            "greek.mbz",
            "Ομάδα".into(),
            &["--encoding", "iso-8859-1"],
            "cannot be written in ISO-8859-1",
        ),
        (
            "comma.mbz",
            "A, B".into(),
            &["--separator", ","],
            "separator `,`",
        ),
        ("zero.mbz", "0".into(), &[], "empty()"),
        (
            "padded.mbz",
            "Padded ".into(),
            &[],
            "trims surrounding spaces",
        ),
    ];
    for (file, name, args, why) in cases {
        let input = with_groups(dir.path(), file, more_groups(1, move |_| name.clone()));
        let mut all = vec!["--format", "toolsync"];
        all.extend(args);
        let (code, err, out) = plan_stdout(&input, "UTC", &all);
        assert_eq!(code, 2, "{file}: {err}");
        assert!(out.is_empty(), "{file}: nothing on stdout");
        assert!(
            err.contains(why) && err.contains("in course `COH_GROUP`") && err.contains("user `"),
            "{file}: {err}"
        );
    }
    // The same group names are accepted where they can be read: Greek in UTF-8, a comma with `;`.
    for (file, name) in [("greek_utf8.mbz", "Ομάδα"), ("comma_semicolon.mbz", "A, B")] {
        let input = with_groups(dir.path(), file, more_groups(1, |_| name.to_owned()));
        assert!(check(&input, "Europe/Paris", ";", "utf-8"), "{file}");
    }
}

#[test]
fn separator_and_encoding_only_for_tool_sync() {
    let f = util::root().join("fixtures/coh_basic.mbz");
    let (code, err, _) = plan_stdout(&f, "UTC", &["--format", "json", "--separator", ","]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--format toolsync only"), "{err}");
}
