//! Unit tests of the conversion rules on small synthetic documents, built with the shared Moodle-XML builders
//! (`crate::testkit`). This file holds the test harness (options, the four documents, readers); the tests are
//! grouped by topic in `convert_tests/`.
use super::*;

use std::collections::BTreeMap;

use crate::enrol::members::GROUPS;
use crate::enrol::merge::later_end;
use crate::enrol::model::{self, Field};

use crate::testkit::{self, Form, Inst, NUL, Ue, inst, ue};

mod edges;
mod helpers;
mod holders;
mod instances;
mod reference;

/// The `--until` instant used by every test.
const UNTIL: i64 = 1_900_000_000;

// ---------------------------------------------------------------------------------------------------------
// Builders: the shared ones in Moodle's exact layout, with what this file's tests expect on top.
// ---------------------------------------------------------------------------------------------------------

/// `prefix` followed by each number of `numbers`: `numbered("customint", 5..=8)` is `customint5` … `customint8`.
fn numbered(prefix: &str, numbers: std::ops::RangeInclusive<u32>) -> impl Iterator<Item = String> {
    numbers.map(move |i| format!("{prefix}{i}"))
}

/// Fields a retyped instance must hold as `$@NULL@$`, in the issue's words ("name, password, customint1-8,
/// customchar1-3, customdec1-2, customtext1-4"): spelled independently of `enrol::members` on purpose.
fn spec_nulled() -> Vec<String> {
    ["name".to_owned(), "password".to_owned()]
        .into_iter()
        .chain(numbered("customint", 1..=8))
        .chain(numbered("customchar", 1..=3))
        .chain(numbered("customdec", 1..=2))
        .chain(numbered("customtext", 1..=4))
        .collect()
}
/// Fields a retyped instance must hold as 0.
const SPEC_ZEROED: &[&str] = &[
    "enrolperiod",
    "expirynotify",
    "notifyall",
    "enrolstartdate",
    "enrolenddate",
];

/// What the spec says a converted, non-holding instance becomes.
trait Retyped {
    fn retyped(&self) -> Inst;
}

impl Retyped for Inst {
    fn retyped(&self) -> Inst {
        let mut out = self.clone().set("enrol", "manual").set("status", "0");
        for n in spec_nulled() {
            if out.has(&n) {
                out = out.set(&n, NUL);
            }
        }
        for &n in SPEC_ZEROED {
            if out.has(n) {
                out = out.set(n, "0");
            }
        }
        if out.has("expirythreshold") {
            out = out.set("expirythreshold", "86400");
        }
        out.extra.clear();
        out.ues.clear();
        out
    }
}

/// `course/enrolments.xml`, with a final newline.
fn doc(insts: &[Inst]) -> String {
    testkit::enrolments(insts) + "\n"
}

/// The plugin-data child enrol_lti writes (`<tool>`), nested several levels.
const TOOL: &str = "      <tool id=\"3\">\n        <enrolid>4</enrolid>\n        <contextid>99</contextid>\n        \
                    <secret>s3cr3t</secret>\n        <users>\n          <user id=\"1\">\n            \
                    <userid>20</userid>\n          </user>\n        </users>\n      </tool>\n";

/// Root `roles.xml`, with a final newline.
fn roles_def(roles: &[(i64, &str)]) -> String {
    testkit::roles_def(roles) + "\n"
}

fn std_roles() -> String {
    roles_def(&[(3, "editingteacher"), (4, "teacher"), (5, "student")])
}

/// One `<assignment>` with whole `component` and `itemid` elements.
fn ra_raw(id: u32, roleid: i64, userid: i64, component: &str, itemid: &str) -> String {
    testkit::assignment_raw(id.into(), roleid, userid, component, itemid, testkit::TIME)
}

fn ra(id: u32, roleid: i64, userid: i64, component: &str, itemid: i64) -> String {
    testkit::assignment(id.into(), roleid, userid, component, itemid, testkit::TIME)
}

/// `course/roles.xml` (Moodle writes no final newline).
fn course_roles(assignments: &[String]) -> String {
    testkit::course_roles(&assignments.concat())
}

fn member(id: u32, userid: i64, component: &str, itemid: i64) -> String {
    testkit::member(id.into(), userid, component, itemid)
}

fn groups(groups: &[(i64, &[String])]) -> String {
    let all: String = groups
        .iter()
        .map(|(gid, members)| testkit::group(*gid, &members.concat()))
        .collect();
    testkit::groups(&all)
}

fn opts(from: &[&str], stamp: &[&str]) -> Options {
    Options {
        from: from.iter().map(|s| (*s).to_owned()).collect(),
        stamp_roles: stamp.iter().map(|s| (*s).to_owned()).collect(),
        until: UNTIL,
        ..Default::default()
    }
}

/// The four members a conversion reads.
#[derive(Debug, Clone, Default)]
struct Fx {
    enrolments: Option<String>,
    course_roles: Option<String>,
    roles: Option<String>,
    groups: Option<String>,
}

impl Fx {
    /// `enrolments.xml` beside the standard role definitions (every backup has them).
    fn new(enrolments: String) -> Fx {
        Fx {
            enrolments: Some(enrolments),
            roles: Some(std_roles()),
            ..Fx::default()
        }
    }

    fn roles(mut self, course: String, defs: String) -> Fx {
        self.course_roles = Some(course);
        self.roles = Some(defs);
        self
    }

    /// `course/roles.xml` with these assignments, beside the standard role definitions.
    fn assigned(self, assignments: &[String]) -> Fx {
        self.roles(course_roles(assignments), std_roles())
    }

    fn groups(mut self, g: String) -> Fx {
        self.groups = Some(g);
        self
    }

    fn try_run(&self, o: &Options) -> Result<Conversion, EnrolError> {
        let docs = Docs {
            enrolments: self.enrolments.as_deref().map(str::as_bytes),
            course_roles: self.course_roles.as_deref().map(str::as_bytes),
            roles: self.roles.as_deref().map(str::as_bytes),
            groups: self.groups.as_deref().map(str::as_bytes),
        };
        // `convert` is `convert_owned` on copies of the members: the job's own path.
        let converted = convert(&docs, o);
        // The zip writer's path: course/roles.xml rewritten on another thread and handed over. Same result.
        let hand = Collect::default();
        let owned = OwnedDocs {
            enrolments: self.enrolments.clone().map(String::into_bytes),
            course_roles: self.course_roles.clone().map(String::into_bytes),
            roles: self.roles.clone().map(String::into_bytes),
            groups: self.groups.clone().map(String::into_bytes),
        };
        let with_hand = convert_owned_with(owned, o, Some(&hand));
        let mut handed = hand.0.into_inner().unwrap();
        match (&converted, with_hand) {
            (Ok(c), Ok(mut h)) => {
                assert!(h.course_roles.is_none(), "handed over, not returned");
                assert!(h.enrolments.is_none(), "handed over, not returned");
                assert!(handed.len() <= 2);
                assert_eq!(h.handed.len(), handed.len());
                assert_eq!(h.is_noop(), c.is_noop());
                h.course_roles = handed.remove("course/roles.xml");
                h.enrolments = handed.remove("course/enrolments.xml");
                assert!(handed.is_empty(), "{:?}", handed.keys());
                assert_eq!(
                    (&h.enrolments, &h.course_roles, &h.groups),
                    (&c.enrolments, &c.course_roles, &c.groups)
                );
                assert_eq!(
                    serde_json::to_string(&h.report).unwrap(),
                    serde_json::to_string(&c.report).unwrap()
                );
            }
            (Err(c), Err(h)) => assert_eq!(h.to_string(), c.to_string()),
            (c, h) => panic!("convert gave {c:?}, the handing conversion {h:?}"),
        }
        converted
    }

    fn run(&self, o: &Options) -> Conversion {
        let c = self.try_run(o).expect("convert");
        for out in [&c.enrolments, &c.course_roles, &c.groups]
            .into_iter()
            .flatten()
        {
            wellformed(out);
        }
        c
    }

    /// The documents after `c` (unchanged members kept).
    fn after(&self, c: &Conversion) -> Fx {
        let pick = |new: &Option<Vec<u8>>, old: &Option<String>| match new {
            Some(b) => Some(String::from_utf8(b.clone()).expect("utf-8")),
            None => old.clone(),
        };
        Fx {
            enrolments: pick(&c.enrolments, &self.enrolments),
            course_roles: pick(&c.course_roles, &self.course_roles),
            roles: self.roles.clone(),
            groups: pick(&c.groups, &self.groups),
        }
    }

    /// Converting the output again with the same options changes nothing.
    fn assert_idempotent(&self, o: &Options, c: &Conversion) {
        let again = self.after(c).run(o);
        assert!(
            again.is_noop(),
            "second run changed something: {:?}",
            again.report
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// Readers.
// ---------------------------------------------------------------------------------------------------------

/// (instance id, status, timestart, timeend).
type Row = (String, i64, i64, i64);

fn row(inst: &str, status: i64, start: i64, end: i64) -> Row {
    (inst.to_owned(), status, start, end)
}

fn wellformed(x: &[u8]) {
    if let Err(e) = crate::xml::walk(x, |_| Ok(())) {
        panic!(
            "output is not well-formed: {e}\n{}",
            String::from_utf8_lossy(x)
        );
    }
}

/// Every user's enrolments, over all instances, in document order.
fn by_user(x: &[u8]) -> BTreeMap<i64, Vec<Row>> {
    let mut out: BTreeMap<i64, Vec<Row>> = BTreeMap::new();
    for i in model::parse_enrolments(x).expect("parse output") {
        for e in &i.enrolments {
            let get = |n: &str| e.int(x, n).unwrap_or_else(|| panic!("no integer <{n}>"));
            out.entry(get("userid")).or_default().push((
                i.id.clone(),
                get("status"),
                get("timestart"),
                get("timeend"),
            ));
        }
    }
    out
}

/// The rows of one user.
fn user(x: &[u8], userid: i64) -> Vec<Row> {
    by_user(x).remove(&userid).unwrap_or_default()
}

/// (id, plugin, status, userids in document order) of every instance.
fn instances(x: &[u8]) -> Vec<(String, String, i64, Vec<i64>)> {
    model::parse_enrolments(x)
        .expect("parse output")
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                i.plugin(x),
                i.status(x),
                i.enrolments
                    .iter()
                    .map(|e| e.int(x, "userid").unwrap())
                    .collect(),
            )
        })
        .collect()
}

fn summary(id: &str, plugin: &str, status: i64, users: &[i64]) -> (String, String, i64, Vec<i64>) {
    (id.to_owned(), plugin.to_owned(), status, users.to_vec())
}

/// The whole `<enrol id>` element text.
fn enrol_text(x: &[u8], id: &str) -> String {
    let i = model::parse_enrolments(x)
        .expect("parse")
        .into_iter()
        .find(|i| i.id == id)
        .unwrap_or_else(|| panic!("no <enrol id=\"{id}\">"));
    String::from_utf8(x[i.span].to_vec()).unwrap()
}

/// The whole `<enrolment id>` element text.
fn enrolment_text(x: &[u8], id: &str) -> String {
    let all = model::parse_enrolments(x).expect("parse");
    let e = all
        .iter()
        .flat_map(|i| &i.enrolments)
        .find(|e| e.id(x).as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no <enrolment id=\"{id}\">"));
    String::from_utf8(x[e.span.clone()].to_vec()).unwrap()
}

fn out(c: &Conversion) -> &[u8] {
    c.enrolments.as_deref().expect("enrolments.xml changed")
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

fn outcome(c: &Conversion, userid: i64) -> UserOutcome<'_> {
    c.report
        .users
        .iter()
        .find(|u| u.userid == userid)
        .unwrap_or_else(|| panic!("no outcome for user {userid}"))
}

/// Guest and self instances as Moodle writes them (must come out byte-identical).
fn guest(id: &str) -> Inst {
    inst(id, "guest", 1, &[])
        .set("password", "")
        .set("expirythreshold", "0")
        .set("roleid", "0")
}

fn selfenrol(id: &str) -> Inst {
    inst(id, "self", 1, &[])
        .set("name", "Self enrolment (Student)")
        .set("enrolperiod", "604800")
        .set("customint1", "0")
        .set("customint2", "0")
        .set("customint3", "0")
        .set("customint4", "1")
        .set("customint5", "0")
        .set("customint6", "1")
        .set("customtext1", "Welcome &amp; hello")
}

/// A cohort instance carrying plugin settings (cohort 7, group 0, custom name).
fn cohort(id: &str, status: i64, ues: &[Ue]) -> Inst {
    inst(id, "cohort", status, ues)
        .set("name", "Cohort A")
        .set("customint1", "7")
        .set("customint2", "0")
}

/// A database instance.
fn database(id: &str, status: i64, ues: &[Ue]) -> Inst {
    inst(id, "database", status, ues)
}

/// A [`Hand`] that keeps what it is handed, by member (pieces assembled).
#[derive(Default)]
struct Collect(std::sync::Mutex<std::collections::BTreeMap<&'static str, Vec<u8>>>);

impl Hand for Collect {
    fn bytes(&self, member: &'static str, bytes: Vec<u8>) {
        self.0.lock().unwrap().insert(member, bytes);
    }

    fn pieces(&self, member: &'static str, len: usize, pieces: Pieces) {
        let mut bytes = Vec::with_capacity(len);
        pieces(&mut |p: &[u8]| bytes.extend_from_slice(p));
        assert_eq!(bytes.len(), len, "{member}: the length handed over");
        self.bytes(member, bytes);
    }
}
