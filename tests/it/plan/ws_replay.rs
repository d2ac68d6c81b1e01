//! Moodle's REST server reading a `ws` plan, replayed on the written bytes: each line is a body to which the
//! sender puts `wstoken=…&` in front; PHP splits it on `&`, url-decodes names and values (`+` is a space), drops
//! the variables past `max_input_vars` (1,000), and reads bracket paths into nested arrays
//! (`main/php_variables.c`, `php_register_variable_ex()`); `webservice_rest_server::parse_request()` takes
//! `wsfunction` and `moodlewsrestformat` out, the rest are the function's parameters. For every shared fixture
//! and zone, the enrolments (`enrol_manual_enrol_users`: every field present) and group memberships
//! (`core_group_add_group_members`, each after the request enrolling its user) equal the JSON plan's promise.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

use super::ZONES;
use super::toolsync_replay::{fixtures, plan_stdout};

/// PHP's `urldecode()`: `+` is a space, `%XX` a byte.
fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).expect("hex escape"));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// A body as PHP reads it into `$_POST`: at most 1,000 variables (asserted), bracket paths nested.
pub(crate) fn php_parse(body: &str) -> Map<String, Value> {
    let vars: Vec<&str> = body.split('&').filter(|v| !v.is_empty()).collect();
    assert!(
        vars.len() <= 1000,
        "{} variables: PHP would drop some",
        vars.len()
    );
    let mut root = Map::new();
    for var in vars {
        let (name, value) = var.split_once('=').unwrap_or((var, ""));
        let (name, value) = (urldecode(name), urldecode(value));
        let (base, mut rest) = name.split_at(name.find('[').unwrap_or(name.len()));
        let mut keys = vec![base.to_owned()];
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').expect("closed bracket");
            keys.push(r[..end].to_owned());
            rest = &r[end + 1..];
        }
        assert!(rest.is_empty(), "PHP would ignore the tail of {name}");
        let mut node = &mut root;
        for k in &keys[..keys.len() - 1] {
            node = node
                .entry(k.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("a path is not also a value");
        }
        node.insert(keys[keys.len() - 1].clone(), Value::String(value));
    }
    root
}

/// An integer parameter (`PARAM_INT`).
fn int(v: &Value) -> i64 {
    v.as_str().unwrap().parse().unwrap()
}

/// (userid, courseid) → (roles, timestart, timeend, suspend); the memberships (groupid, userid).
type Enrolments = BTreeMap<(i64, i64), (BTreeSet<i64>, i64, i64, i64)>;

/// What Moodle would do with `bytes` (a `ws` plan).
fn replay(bytes: &[u8]) -> (Enrolments, BTreeSet<(i64, i64)>) {
    let text = std::str::from_utf8(bytes).unwrap();
    let mut enrolled = Enrolments::new();
    let mut members = BTreeSet::new();
    for line in text.lines() {
        let post = php_parse(&format!("wstoken=0123456789abcdef&{line}"));
        assert_eq!(post["moodlewsrestformat"], "json", "{line}");
        match post["wsfunction"].as_str().unwrap() {
            "enrol_manual_enrol_users" => {
                assert_eq!(post.len(), 4, "{line}");
                for (_, e) in post["enrolments"].as_object().unwrap() {
                    let e = e.as_object().unwrap();
                    let fields: BTreeSet<&str> = e.keys().map(String::as_str).collect();
                    // Every field, every time: a missing one would be taken as 0 (active).
                    assert_eq!(
                        fields,
                        BTreeSet::from([
                            "roleid",
                            "userid",
                            "courseid",
                            "timestart",
                            "timeend",
                            "suspend"
                        ]),
                        "{line}"
                    );
                    let entry = enrolled
                        .entry((int(&e["userid"]), int(&e["courseid"])))
                        .or_default();
                    entry.0.insert(int(&e["roleid"]));
                    (entry.1, entry.2, entry.3) =
                        (int(&e["timestart"]), int(&e["timeend"]), int(&e["suspend"]));
                }
            }
            "core_group_add_group_members" => {
                assert_eq!(post.len(), 4, "{line}");
                for (_, m) in post["members"].as_object().unwrap() {
                    let m = m.as_object().unwrap();
                    assert_eq!(m.len(), 2, "{line}");
                    let user = int(&m["userid"]);
                    // add_group_members() refuses a user who is not enrolled (yet).
                    assert!(
                        enrolled.keys().any(|(u, _)| *u == user),
                        "member {user} not enrolled yet"
                    );
                    members.insert((int(&m["groupid"]), user));
                }
            }
            f => panic!("unexpected function {f}"),
        }
    }
    (enrolled, members)
}

/// What the JSON plan promises: users with a role, their values, their groups' ids.
pub(crate) fn promised(json: &[u8]) -> (Enrolments, BTreeSet<(i64, i64)>) {
    let doc: Value = serde_json::from_slice(json).unwrap();
    let mut enrolled = Enrolments::new();
    let mut members = BTreeSet::new();
    for c in doc["courses"].as_array().unwrap() {
        for a in c["actions"].as_array().unwrap() {
            let roles: BTreeSet<i64> = a["roles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_i64().unwrap())
                .collect();
            if roles.is_empty() {
                continue;
            }
            let user = a["user"]["id"].as_i64().unwrap();
            let course = a["course"]["id"].as_i64().unwrap();
            let suspend = i64::from(a["status"].as_i64() != Some(0));
            enrolled.insert(
                (user, course),
                (
                    roles,
                    a["timestart"].as_i64().unwrap(),
                    a["timeend"].as_i64().unwrap(),
                    suspend,
                ),
            );
            for g in a["group_ids"].as_array().unwrap() {
                members.insert((g.as_i64().unwrap(), user));
            }
        }
    }
    (enrolled, members)
}

/// Plans `input` in `zone` as JSON and as `ws`; asserts the replay gives the promise. False when refused.
fn check(input: &Path, zone: &str) -> bool {
    let (code, err, json) = plan_stdout(input, zone, &["--format", "json"]);
    if code != 0 {
        let (c2, _, _) = plan_stdout(input, zone, &["--format", "ws", "--same-site"]);
        assert_eq!(c2, code, "{err}");
        return false;
    }
    let (code, err, ws) = plan_stdout(input, zone, &["--format", "ws", "--same-site"]);
    assert_eq!(code, 0, "{}: {err}", input.display());
    assert_eq!(
        replay(&ws),
        promised(&json),
        "{} in {zone}",
        input.display()
    );
    let lines = ws.iter().filter(|&&b| b == b'\n').count();
    assert!(
        err.contains(&format!(
            "plan: {lines} requests written to standard output"
        )),
        "{err}"
    );
    true
}

#[test]
fn every_fixture_replayed_by_moodles_rest_server_gives_the_plan() {
    let fixtures = fixtures();
    let mut replayed = 0;
    let mut memberships = 0;
    for input in &fixtures {
        for zone in ZONES {
            replayed += usize::from(check(input, zone));
        }
        let (_, _, json) = plan_stdout(input, "UTC", &["--format", "json"]);
        if !json.is_empty() {
            memberships += promised(&json).1.len();
        }
    }
    assert!(replayed >= fixtures.len() * ZONES.len() / 2, "{replayed}");
    // The group fixtures' members are carried (coh_group's among them).
    assert!(memberships > 0);
}

#[test]
fn a_course_of_many_users_and_groups_is_split_within_max_input_vars() {
    let dir = crate::util::tempdir();
    // 600 groups holding cg001: 600 memberships, more than one request's 498.
    let many = super::toolsync_replay::with_groups(
        dir.path(),
        "many.mbz",
        super::toolsync_replay::more_groups(600, |i| format!("G{i:03}")),
    );
    assert!(check(&many, "UTC"));
    let (_, _, ws) = plan_stdout(&many, "UTC", &["--format", "ws", "--same-site"]);
    let text = String::from_utf8(ws).unwrap();
    let adds = text
        .lines()
        .filter(|l| l.contains("core_group_add_group_members"))
        .count();
    assert_eq!(adds, 2, "{text}");
}
