//! Every legal XML spelling Moodle's restore parser reads (issue 16): a byte order mark, CDATA, character and
//! predefined entity references, comments and processing instructions, single-quoted attributes, CRLF. Each
//! shape is built here from a shared fixture; its conversion must equal the clean archive's (the same per-user
//! results, the same role and group counts) and `verify OUT --against IN` must pass. A DOCTYPE is still refused.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::util::{self, RawMember, index_for, raw_members, run, shared, tempdir, write_tgz};

const ENROL: &str = "course/enrolments.xml";
const COURSE_ROLES: &str = "course/roles.xml";
const ROLES: &str = "roles.xml";
const GROUPS: &str = "groups.xml";
const MEMBERS: [&str; 7] = [
    ENROL,
    COURSE_ROLES,
    ROLES,
    GROUPS,
    "moodle_backup.xml",
    "course/course.xml",
    "users.xml",
];

/// The fields the rules (and the plan, the summary) read, per member.
const FIELDS: [(&str, &[&str]); 7] = [
    (
        ENROL,
        &[
            "enrol",
            "status",
            "userid",
            "timestart",
            "timeend",
            "roleid",
        ],
    ),
    (COURSE_ROLES, &["roleid", "userid", "component", "itemid"]),
    (ROLES, &["shortname"]),
    (GROUPS, &["name", "userid", "component", "itemid"]),
    (
        "moodle_backup.xml",
        &[
            "original_course_id",
            "original_course_shortname",
            "original_course_fullname",
            "name",
            "value",
            "level",
        ],
    ),
    ("course/course.xml", &["idnumber"]),
    (
        "users.xml",
        &["username", "idnumber", "email", "firstname", "lastname"],
    ),
];

/// A rewrite of one member's text.
type Shape = fn(&str, &str) -> String;

/// The shared fixture the shapes are built from: cohort enrolments, stamped roles, cohort-owned group members.
pub(crate) fn fixture() -> Option<PathBuf> {
    Some(shared("moodle43")?.join("coh_group.mbz"))
}

/// Every `<tag>…</tag>` of `xml` (leaves only: the first `</tag>` after each `<tag>`) with its content passed
/// through `f`.
fn each_field(xml: &str, tag: &str, f: impl Fn(&str) -> String) -> String {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = String::with_capacity(xml.len() * 2);
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let body = i + open.len();
        let Some(j) = rest[body..].find(&close) else {
            break;
        };
        out.push_str(&rest[..body]);
        out.push_str(&f(&rest[body..body + j]));
        rest = &rest[body + j..];
    }
    out.push_str(rest);
    out
}

/// `shape` applied to every field the rules read in `member`.
fn fields(member: &str, xml: &str, f: fn(&str) -> String) -> String {
    let names = FIELDS.iter().find(|(m, _)| *m == member).unwrap().1;
    names
        .iter()
        .fold(xml.to_owned(), |x, tag| each_field(&x, tag, f))
}

fn cdata(member: &str, xml: &str) -> String {
    fields(member, xml, |v| format!("<![CDATA[{v}]]>"))
}

/// The first character as a decimal reference, the last as a hexadecimal one.
fn charref(member: &str, xml: &str) -> String {
    fields(member, xml, |v| {
        let chars: Vec<char> = v.chars().collect();
        match chars.as_slice() {
            [] => String::new(),
            [c] => format!("&#{};", u32::from(*c)),
            [first, mid @ .., last] => format!(
                "&#{};{}&#x{:x};",
                u32::from(*first),
                mid.iter().collect::<String>(),
                u32::from(*last)
            ),
        }
    })
}

/// A comment and a processing instruction inside every field, a comment after every element's line.
fn comments(member: &str, xml: &str) -> String {
    let x = fields(member, xml, |v| format!("<!-- x -->{v}<?pi y?>"));
    x.replace(">\n", "><!-- between -->\n")
}

/// Every attribute of every element quoted with `'`.
fn single_quotes(_: &str, xml: &str) -> String {
    crate::props::quote_singly(xml)
}

fn crlf(_: &str, xml: &str) -> String {
    xml.replace('\n', "\r\n")
}

/// Wraps every field value in references the predefined entities and CDATA mix: `&#60;` is not markup.
fn mixed(member: &str, xml: &str) -> String {
    fields(member, xml, |v| match v.len() {
        0 => "<![CDATA[]]>".to_owned(),
        1 => format!("<![CDATA[{v}]]>"),
        n => format!("<![CDATA[{}]]>{}", &v[..n / 2], &v[n / 2..]),
    })
}

fn bom(_: &str, xml: &str) -> String {
    format!("\u{feff}{xml}")
}

/// `input` with `shape` applied to each of `members`, written as `dir/name` (index recomputed).
fn build(
    dir: &Path,
    name: &str,
    input: &Path,
    members: &[&str],
    shape: impl Fn(&str, &str) -> String,
) -> PathBuf {
    let mut raw: Vec<RawMember> = raw_members(input);
    for m in raw.iter_mut() {
        if members.contains(&m.0.as_str()) {
            let text = String::from_utf8(m.2.clone()).unwrap();
            let shaped = shape(&m.0, &text);
            assert_ne!(shaped, text, "{name}: {} unchanged", m.0);
            m.2 = shaped.into_bytes();
        }
    }
    let index = index_for(&raw);
    for m in raw.iter_mut().filter(|m| m.0 == ".ARCHIVE_INDEX") {
        m.2 = index.clone();
    }
    let path = dir.join(name);
    write_tgz(&path, &raw);
    path
}

/// The end date and zone of every conversion here.
pub(crate) const DATED: [&str; 4] = ["--until", "2027-08-31", "--timezone", "Europe/Paris"];

/// Runs `COMMAND INPUT [-o OUT] EXTRA…` and asserts it succeeds.
pub(crate) fn ok(command: &str, input: &Path, out: Option<&Path>, extra: &[&str]) -> Output {
    let mut args = vec![command, input.to_str().unwrap()];
    if let Some(out) = out {
        args.extend(["-o", out.to_str().unwrap()]);
    }
    args.extend(extra);
    let o = run(&args);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The Upload users plan of `input` (it names users from `users.xml` and the course from the backup).
fn plan(input: &Path, out: &Path) -> String {
    ok(
        "plan",
        input,
        Some(out),
        &[&["--format", "uploaduser"][..], &DATED].concat(),
    );
    std::fs::read_to_string(out).unwrap()
}

/// What `inspect --json` says of the course and its enrolment methods (the archive's name left out).
fn inspected(input: &Path) -> Value {
    let o = ok("inspect", input, None, &["--json"]);
    let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
    v.as_object_mut().unwrap().remove("archive");
    v
}

/// What `renew` decides for the students of a group (group names, role shortnames and assignments read), the
/// run's own paths left out.
fn renewed(input: &Path, out: &Path) -> Value {
    let filter = ["--group", "Existing group B", "--role", "student"];
    let now = ["--now", "2026-12-01", "--json"];
    let o = ok(
        "renew",
        input,
        Some(out),
        &[&filter[..], &DATED, &now].concat(),
    );
    let mut v: Value = serde_json::from_slice(&o.stdout).unwrap();
    for k in ["archive", "output"] {
        v.as_object_mut().unwrap().remove(k);
    }
    v
}

/// What a conversion decided: per-user results and the role and group counts.
pub(crate) fn results(input: &Path, out: &Path) -> Value {
    let o = ok(
        "convert",
        input,
        Some(out),
        &[&DATED[..], &["--json"]].concat(),
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    // Per user: the values written, whether stamped, the roles held, what a merge cannot do (naming groups).
    let mut users: Vec<Value> = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            serde_json::json!([
                u["userid"],
                u["status"],
                u["timestart"],
                u["timeend"],
                u["stamped"],
                u["roles"],
                u["cannot"]
            ])
        })
        .collect();
    users.sort_by_key(|u| u[0].as_i64());
    let counts = serde_json::json!([
        v["totals"],
        v["role_assignments_rewritten"],
        v["role_assignments_removed"],
        v["group_members_rewritten"],
        v["rewritten"],
        v["stamp_roles"],
        v["course"],
    ]);
    serde_json::json!({ "users": users, "counts": counts })
}

/// Every byte of the rewritten members outside the rules' edits is the shaped original's: `course/roles.xml` and
/// `groups.xml` differ only in `<component>` and `<itemid>` contents (none is removed here), and the
/// enrolments keep their head (byte order mark, declaration, comments) up to the first instance.
fn kept_outside_edits(input: &Path, out: &Path, name: &str) {
    let read = |p: &Path| -> Vec<(String, String)> {
        util::entries(p)
            .into_iter()
            .filter(|e| MEMBERS.contains(&e.path.as_str()))
            .map(|e| (e.path, String::from_utf8(e.data).unwrap()))
            .collect()
    };
    let blank = |x: &str| {
        let x = each_field(x, "component", |_| String::new());
        each_field(&x, "itemid", |_| String::new())
    };
    let after = read(out);
    for (path, before) in read(input) {
        let after = &after.iter().find(|(p, _)| *p == path).unwrap().1;
        if path == ENROL {
            let head = before.find("<enrol ").unwrap();
            assert_eq!(after[..head], before[..head], "{name}: {path} head changed");
        } else {
            assert!(
                blank(after) == blank(&before),
                "{name}: {path} changed outside its edits"
            );
        }
    }
}

pub(crate) fn verify_against(out: &Path, input: &Path) {
    ok("verify", out, None, &["--against", input.to_str().unwrap()]);
}

/// Every shape on the members it applies to converts as the clean archive does, and verifies.
#[test]
fn every_legal_spelling_converts_as_the_clean_archive() {
    let Some(input) = fixture() else { return };
    let dir = tempdir();
    let clean = results(&input, &dir.path().join("clean.out.mbz"));
    // The clean archive converts, stamps and rewrites role assignments and group members: every rule at work.
    assert_eq!(clean["users"].as_array().map(Vec::len), Some(28), "{clean}");
    assert_eq!(clean["counts"][0]["stamped"], 28, "{clean}");
    assert_eq!(clean["counts"][1], 28, "{clean}");
    assert_eq!(clean["counts"][3], 28, "{clean}");
    let clean_plan = plan(&input, &dir.path().join("clean.csv"));
    assert!(clean_plan.contains("cg001"), "{clean_plan}");
    let clean_inspect = inspected(&input);
    let clean_renew = renewed(&input, &dir.path().join("clean.renew.mbz"));
    assert_eq!(clean_renew["changed"], 2, "{clean_renew}");
    let mut cases: Vec<(String, Vec<&str>, Shape)> = Vec::new();
    for m in MEMBERS {
        cases.push((format!("bom {m}"), vec![m], bom));
    }
    let shapes: [(&str, Shape); 6] = [
        ("cdata", cdata),
        ("charref", charref),
        ("comments", comments),
        ("single-quotes", single_quotes),
        ("crlf", crlf),
        ("mixed", mixed),
    ];
    for (name, shape) in shapes {
        cases.push((name.to_owned(), MEMBERS.to_vec(), shape));
    }
    for (i, (name, members, shape)) in cases.into_iter().enumerate() {
        let shaped = build(
            dir.path(),
            &format!("shape{i}.mbz"),
            &input,
            &members,
            shape,
        );
        let out = dir.path().join(format!("shape{i}.out.mbz"));
        let got = results(&shaped, &out);
        assert_eq!(
            got, clean,
            "{name}: the conversion differs from the clean archive's"
        );
        verify_against(&out, &shaped);
        kept_outside_edits(&shaped, &out, &name);
        let plan_out = dir.path().join(format!("shape{i}.csv"));
        assert_eq!(plan(&shaped, &plan_out), clean_plan, "{name}: plan");
        assert_eq!(inspected(&shaped), clean_inspect, "{name}: inspect");
        let renew_out = dir.path().join(format!("shape{i}.renew.mbz"));
        assert_eq!(renewed(&shaped, &renew_out), clean_renew, "{name}: renew");
        verify_against(&renew_out, &shaped);
        // The original itself is a valid backup.
        ok("verify", &shaped, None, &[]);
    }
}

/// An instance `<status>` of 1 (disabled) spelt as a reference, CDATA or around a comment reads as 1: the
/// conversion equals that of the archive with a plain `<status>1</status>`.
#[test]
fn a_disabled_status_in_any_spelling_reads_as_disabled() {
    let Some(input) = fixture() else { return };
    let dir = tempdir();
    let set_status = |status: &'static str| {
        move |_: &str, x: &str| {
            let at = x.find("<enrol>cohort</enrol>").unwrap();
            let rest = x[at..].replacen("<status>0</status>", status, 1);
            format!("{}{rest}", &x[..at])
        }
    };
    let plain = build(
        dir.path(),
        "plain.mbz",
        &input,
        &[ENROL],
        set_status("<status>1</status>"),
    );
    let want = results(&plain, &dir.path().join("plain.out.mbz"));
    for (i, status) in [
        "<status>&#49;</status>",
        "<status><![CDATA[1]]></status>",
        "<status><!--x-->1</status>",
        "<status>&#x31;</status>",
    ]
    .into_iter()
    .enumerate()
    {
        let shaped = build(
            dir.path(),
            &format!("status{i}.mbz"),
            &input,
            &[ENROL],
            set_status(status),
        );
        let out = dir.path().join(format!("status{i}.out.mbz"));
        assert_eq!(results(&shaped, &out), want, "{status}");
        verify_against(&out, &shaped);
    }
}

/// What Moodle's parser refuses or would read differently is refused: exit 2, naming archive and member,
/// nothing written.
#[test]
fn what_moodle_refuses_is_refused() {
    let Some(input) = fixture() else { return };
    let dir = tempdir();
    for (i, (member, why, shape)) in [
        (
            ENROL,
            "DOCTYPE",
            (|_: &str, x: &str| {
                x.replacen(
                    "<enrolments>",
                    "<!DOCTYPE enrolments [<!ENTITY a \"7\">]>\n<enrolments>",
                    1,
                )
            }) as Shape,
        ),
        (COURSE_ROLES, "DOCTYPE", |_, x| {
            x.replacen("<roles>", "<!DOCTYPE roles>\n<roles>", 1)
        }),
        (GROUPS, "&nbsp;", |_, x| {
            x.replacen("<name>", "<name>&nbsp;", 1)
        }),
        (ENROL, "&a;", |_, x| {
            x.replacen("<userid>", "<userid>&a;", 1)
        }),
        (ENROL, "&#1;", |_, x| {
            x.replacen("<timeend>", "<timeend>&#1;", 1)
        }),
        ("users.xml", "&#xFFFE;", |_, x| {
            x.replacen("<firstname>", "<firstname>&#xFFFE;", 1)
        }),
        ("users.xml", "DOCTYPE", |_, x| {
            x.replacen("<users>", "<!DOCTYPE users>\n<users>", 1)
        }),
        // An integer field of a converted enrolment that is not one once decoded.
        (ENROL, "userid", |_, x| {
            let at = x.find("<enrol>cohort</enrol>").unwrap();
            let rest = x[at..]
                .replacen("<userid>", "<userid><![CDATA[1", 1)
                .replacen("</userid>", "x]]></userid>", 1);
            format!("{}{rest}", &x[..at])
        }),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("refused{i}.mbz");
        let shaped = build(dir.path(), &name, &input, &[member], shape);
        let out = dir.path().join(format!("refused{i}.out.mbz"));
        // `users.xml` is read by the commands that name users: a plan.
        let command: &[&str] = if member == "users.xml" {
            &["plan", "--format", "uploaduser"]
        } else {
            &["convert"]
        };
        let mut args = command.to_vec();
        args.extend([
            shaped.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            "2027-08-31",
        ]);
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{member} {why}: {err}");
        for needle in [name.as_str(), member, why] {
            assert!(err.contains(needle), "{member}: `{needle}` not in: {err}");
        }
        assert!(!out.exists(), "{member}: output written");
        // verify fails the same archive (exit 1).
        let o = run(&["verify", shaped.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "verify {member} {why}");
    }
}
