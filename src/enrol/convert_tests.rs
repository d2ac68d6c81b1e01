//! Unit tests of the conversion rules on small synthetic documents.
use super::*;

use std::collections::BTreeMap;

use crate::enrol::members::GROUPS;
use crate::enrol::merge::later_end;
use crate::enrol::model::Field;

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const NUL: &str = "$@NULL@$";
/// The `--until` instant used by every test.
const UNTIL: i64 = 1_900_000_000;

// ---------------------------------------------------------------------------------------------------------
// Builders: documents in Moodle's exact layout (2-space indentation, `$@NULL@$` for NULL).
// ---------------------------------------------------------------------------------------------------------

/// One `<enrolment>`.
#[derive(Debug, Clone, Copy)]
struct Ue {
    id: u32,
    user: i64,
    status: i64,
    start: i64,
    end: i64,
}

fn ue(id: u32, user: i64, status: i64, start: i64, end: i64) -> Ue {
    Ue {
        id,
        user,
        status,
        start,
        end,
    }
}

impl Ue {
    /// The same enrolment with other values (what the converter is expected to write).
    fn with(self, status: i64, start: i64, end: i64) -> Ue {
        Ue {
            status,
            start,
            end,
            ..self
        }
    }

    fn render(&self) -> String {
        format!(
            "        <enrolment id=\"{}\">\n          <status>{}</status>\n          <userid>{}</userid>\n          \
             <timestart>{}</timestart>\n          <timeend>{}</timeend>\n          <modifierid>2</modifierid>\n          \
             <timemodified>1700000000</timemodified>\n        </enrolment>\n",
            self.id, self.status, self.user, self.start, self.end
        )
    }
}

/// How an instance writes its `<user_enrolments>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `<user_enrolments>` … `</user_enrolments>` on their own lines (Moodle's writer).
    Lines,
    /// `<user_enrolments/>`.
    EmptyTag,
    /// No `<user_enrolments>` at all (backup without users).
    Missing,
}

/// Moodle's `enrol` columns in backup order, with the values a retyped instance ends up with.
const FIELDS: &[(&str, &str)] = &[
    ("enrol", ""),
    ("status", ""),
    ("name", NUL),
    ("enrolperiod", "0"),
    ("enrolstartdate", "0"),
    ("enrolenddate", "0"),
    ("expirynotify", "0"),
    ("expirythreshold", "86400"),
    ("notifyall", "0"),
    ("password", NUL),
    ("cost", NUL),
    ("currency", NUL),
    ("roleid", "5"),
    ("customint1", NUL),
    ("customint2", NUL),
    ("customint3", NUL),
    ("customint4", NUL),
    ("customint5", NUL),
    ("customint6", NUL),
    ("customint7", NUL),
    ("customint8", NUL),
    ("customchar1", NUL),
    ("customchar2", NUL),
    ("customchar3", NUL),
    ("customdec1", NUL),
    ("customdec2", NUL),
    ("customtext1", NUL),
    ("customtext2", NUL),
    ("customtext3", NUL),
    ("customtext4", NUL),
    ("timecreated", "1700000000"),
    ("timemodified", "1700000000"),
];

/// Fields a retyped instance must hold as `$@NULL@$` (the issue text, listed independently of convert.rs).
const SPEC_NULLED: &[&str] = &[
    "name",
    "password",
    "customint1",
    "customint2",
    "customint3",
    "customint4",
    "customint5",
    "customint6",
    "customint7",
    "customint8",
    "customchar1",
    "customchar2",
    "customchar3",
    "customdec1",
    "customdec2",
    "customtext1",
    "customtext2",
    "customtext3",
    "customtext4",
];
/// Fields a retyped instance must hold as 0.
const SPEC_ZEROED: &[&str] = &[
    "enrolperiod",
    "expirynotify",
    "notifyall",
    "enrolstartdate",
    "enrolenddate",
];

/// One `<enrol>` instance.
#[derive(Debug, Clone)]
struct Inst {
    id: String,
    /// (tag, whole element text) in document order.
    fields: Vec<(String, String)>,
    /// Raw lines (with indentation and newline) between the fields and `<user_enrolments>`.
    extra: String,
    ues: Vec<Ue>,
    form: Form,
}

fn inst(id: &str, plugin: &str, status: i64, ues: &[Ue]) -> Inst {
    let fields = FIELDS
        .iter()
        .map(|&(n, v)| {
            let v = match n {
                "enrol" => plugin.to_owned(),
                "status" => status.to_string(),
                _ => v.to_owned(),
            };
            (n.to_owned(), format!("<{n}>{v}</{n}>"))
        })
        .collect();
    Inst {
        id: id.to_owned(),
        fields,
        extra: String::new(),
        ues: ues.to_vec(),
        form: Form::Lines,
    }
}

impl Inst {
    /// Sets an existing field's text.
    fn set(self, name: &str, value: &str) -> Inst {
        self.raw(name, &format!("<{name}>{value}</{name}>"))
    }

    /// Sets an existing field's whole element text.
    fn raw(mut self, name: &str, element: &str) -> Inst {
        let f = self
            .fields
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no field {name}"));
        f.1 = element.to_owned();
        self
    }

    fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }

    fn without(mut self, names: &[&str]) -> Inst {
        self.fields.retain(|(n, _)| !names.contains(&n.as_str()));
        self
    }

    fn extra(mut self, lines: &str) -> Inst {
        self.extra = lines.to_owned();
        self
    }

    fn form(mut self, form: Form) -> Inst {
        self.form = form;
        self
    }

    fn ues(mut self, ues: &[Ue]) -> Inst {
        self.ues = ues.to_vec();
        self
    }

    /// What the spec says a converted, non-holding instance becomes.
    fn retyped(&self) -> Inst {
        let mut out = self.clone().set("enrol", "manual").set("status", "0");
        for &n in SPEC_NULLED {
            if out.has(n) {
                out = out.set(n, NUL);
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

    fn render(&self) -> String {
        let mut s = format!("    <enrol id=\"{}\">\n", self.id);
        for (_, el) in &self.fields {
            s.push_str("      ");
            s.push_str(el);
            s.push('\n');
        }
        s.push_str(&self.extra);
        match self.form {
            Form::Lines => {
                s.push_str("      <user_enrolments>\n");
                for u in &self.ues {
                    s.push_str(&u.render());
                }
                s.push_str("      </user_enrolments>\n");
            }
            Form::EmptyTag => {
                assert!(self.ues.is_empty());
                s.push_str("      <user_enrolments/>\n");
            }
            Form::Missing => assert!(self.ues.is_empty()),
        }
        s.push_str("    </enrol>\n");
        s
    }
}

fn doc(insts: &[Inst]) -> String {
    let mut s = format!("{HEAD}<enrolments>\n  <enrols>\n");
    for i in insts {
        s.push_str(&i.render());
    }
    s.push_str("  </enrols>\n</enrolments>\n");
    s
}

/// The plugin-data child enrol_lti writes (`<tool>`), nested several levels.
const TOOL: &str = "      <tool id=\"3\">\n        <enrolid>4</enrolid>\n        <contextid>99</contextid>\n        \
                    <secret>s3cr3t</secret>\n        <users>\n          <user id=\"1\">\n            \
                    <userid>20</userid>\n          </user>\n        </users>\n      </tool>\n";

/// Root `roles.xml`.
fn roles_def(roles: &[(i64, &str)]) -> String {
    let mut s = format!("{HEAD}<roles_definition>\n");
    for (id, short) in roles {
        s.push_str(&format!(
            "  <role id=\"{id}\">\n    <name></name>\n    <shortname>{short}</shortname>\n    \
             <nameincourse>$@NULL@$</nameincourse>\n    <description></description>\n    \
             <sortorder>{id}</sortorder>\n    <archetype>{short}</archetype>\n  </role>\n"
        ));
    }
    s.push_str("</roles_definition>\n");
    s
}

fn std_roles() -> String {
    roles_def(&[(3, "editingteacher"), (4, "teacher"), (5, "student")])
}

/// One `<assignment>` with whole `component` and `itemid` elements.
fn ra_raw(id: u32, roleid: i64, userid: i64, component: &str, itemid: &str) -> String {
    format!(
        "    <assignment id=\"{id}\">\n      <roleid>{roleid}</roleid>\n      <userid>{userid}</userid>\n      \
         <timemodified>1700000000</timemodified>\n      <modifierid>2</modifierid>\n      {component}\n      \
         {itemid}\n      <sortorder>0</sortorder>\n    </assignment>\n"
    )
}

fn ra(id: u32, roleid: i64, userid: i64, component: &str, itemid: i64) -> String {
    ra_raw(
        id,
        roleid,
        userid,
        &format!("<component>{component}</component>"),
        &format!("<itemid>{itemid}</itemid>"),
    )
}

/// `course/roles.xml` (Moodle writes no final newline).
fn course_roles(assignments: &[String]) -> String {
    format!(
        "{HEAD}<roles>\n  <role_overrides>\n  </role_overrides>\n  <role_assignments>\n{}  </role_assignments>\n</roles>",
        assignments.concat()
    )
}

fn member(id: u32, userid: i64, component: &str, itemid: i64) -> String {
    format!(
        "      <group_member id=\"{id}\">\n        <userid>{userid}</userid>\n        \
         <timeadded>1700000000</timeadded>\n        <component>{component}</component>\n        \
         <itemid>{itemid}</itemid>\n      </group_member>\n"
    )
}

fn groups(groups: &[(i64, &[String])]) -> String {
    let mut s = format!("{HEAD}<groups>\n");
    for (gid, members) in groups {
        s.push_str(&format!(
            "  <group id=\"{gid}\">\n    <name>Group {gid}</name>\n    <idnumber></idnumber>\n    \
             <description>$@NULL@$</description>\n    <descriptionformat>0</descriptionformat>\n    \
             <enrolmentkey>$@NULL@$</enrolmentkey>\n    <picture>0</picture>\n    <visibility>0</visibility>\n    \
             <participation>1</participation>\n    <timecreated>1700000000</timecreated>\n    \
             <timemodified>1700000000</timemodified>\n    <group_members>\n{}    </group_members>\n  </group>\n",
            members.concat()
        ));
    }
    s.push_str(
        "  <groupcustomfields>\n  </groupcustomfields>\n  <groupings>\n    <groupingcustomfields>\n    \
         </groupingcustomfields>\n  </groupings>\n</groups>",
    );
    s
}

fn opts(from: &[&str], stamp: &[&str]) -> Options {
    Options {
        from: from.iter().map(|s| (*s).to_owned()).collect(),
        stamp_roles: stamp.iter().map(|s| (*s).to_owned()).collect(),
        until: UNTIL,
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
    fn new(enrolments: String) -> Fx {
        Fx {
            enrolments: Some(enrolments),
            ..Fx::default()
        }
    }

    fn roles(mut self, course: String, defs: String) -> Fx {
        self.course_roles = Some(course);
        self.roles = Some(defs);
        self
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
        convert(&docs, o)
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
        .find(|e| e.id.as_deref() == Some(id))
        .unwrap_or_else(|| panic!("no <enrolment id=\"{id}\">"));
    String::from_utf8(x[e.span.clone()].to_vec()).unwrap()
}

fn out(c: &Conversion) -> &[u8] {
    c.enrolments.as_deref().expect("enrolments.xml changed")
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

fn outcome(c: &Conversion, userid: i64) -> &UserOutcome {
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

// ---------------------------------------------------------------------------------------------------------
// 1. cohort-only + existing manual holder.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn cohort_users_are_appended_to_the_existing_manual_instance_and_students_stamped() {
    let m10 = ue(100, 10, 0, 100, 0);
    let c20 = ue(200, 20, 0, 500, 900);
    let c21 = ue(201, 21, 0, 600, 0);
    let c22 = ue(202, 22, 1, 700, 800);
    let manual = inst("1", "manual", 0, &[m10]);
    let coh = cohort("4", 0, &[c20, c21, c22]);
    let before = [manual.clone(), guest("2"), selfenrol("3"), coh.clone()];
    let fx = Fx::new(doc(&before)).roles(
        course_roles(&[
            ra(1, 5, 10, "", 0),
            ra(2, 5, 20, "enrol_cohort", 4),
            ra(3, 3, 21, "enrol_cohort", 4),
            ra(4, 5, 22, "enrol_cohort", 4),
        ]),
        std_roles(),
    );
    let o = opts(&["cohort"], &["student"]);
    let c = fx.run(&o);
    let x = out(&c);

    assert_eq!(user(x, 10), vec![row("1", 0, 100, 0)]);
    assert_eq!(user(x, 20), vec![row("1", 0, 500, UNTIL)]);
    assert_eq!(user(x, 21), vec![row("1", 0, 600, 0)], "teacher keeps end");
    assert_eq!(
        user(x, 22),
        vec![row("1", 1, 700, UNTIL)],
        "suspended stays suspended, stamped"
    );

    // The whole document, byte for byte: new enrolments are copies of the cohort ones with new values.
    let expected = doc(&[
        manual.ues(&[m10, c20.with(0, 500, UNTIL), c21, c22.with(1, 700, UNTIL)]),
        guest("2"),
        selfenrol("3"),
        coh.retyped(),
    ]);
    assert_eq!(text(x), expected);
    assert_eq!(
        enrol_text(x, "2"),
        enrol_text(fx.enrolments.as_ref().unwrap().as_bytes(), "2")
    );
    assert_eq!(
        enrol_text(x, "3"),
        enrol_text(fx.enrolments.as_ref().unwrap().as_bytes(), "3")
    );

    let r = &c.report;
    let t = r.target.as_ref().unwrap();
    assert_eq!(
        (t.instance_id.as_str(), t.was.as_str(), t.enabled),
        ("1", "manual", false)
    );
    assert_eq!(r.totals.users_converted, 3);
    assert_eq!(r.totals.stamped, 2);
    assert_eq!(r.totals.suspended, 1);
    assert_eq!(r.totals.merged_with_manual, 0);
    assert_eq!(r.methods.len(), 1);
    assert_eq!(r.methods[0].plugin, "cohort");
    assert_eq!(r.methods[0].instances, vec!["4".to_owned()]);
    assert_eq!(r.methods[0].users_converted, 3);
    assert!(outcome(&c, 20).stamped);
    assert!(!outcome(&c, 21).stamped);
    assert_eq!(outcome(&c, 21).roles, vec!["editingteacher".to_owned()]);
    assert_eq!(outcome(&c, 20).manual, "new");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    // course/roles.xml: the three cohort assignments became manual.
    assert_eq!(r.role_assignments_rewritten, 3);
    assert_eq!(
        text(c.course_roles.as_deref().unwrap()),
        course_roles(&[
            ra(1, 5, 10, "", 0),
            ra(2, 5, 20, "", 0),
            ra(3, 3, 21, "", 0),
            ra(4, 5, 22, "", 0),
        ])
    );
    assert!(c.groups.is_none());
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 2. No manual instance: the first converted one holds.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn without_manual_the_first_converted_instance_holds_in_place_and_others_are_emptied() {
    let c20 = ue(200, 20, 0, 100, 0);
    let c21 = ue(201, 21, 0, 300, 500);
    let d21 = ue(400, 21, 0, 200, 400);
    let d22 = ue(401, 22, 0, 50, 60);
    let k23 = ue(500, 23, 1, 70, 80);
    let c2 = cohort("2", 0, &[c20, c21]);
    let d4 = database("4", 0, &[d21, d22]);
    let c5 = cohort("5", 0, &[k23]).set("customint1", "8");
    let fx = Fx::new(doc(&[
        guest("1"),
        c2.clone(),
        selfenrol("3"),
        d4.clone(),
        c5.clone(),
    ]));
    let o = opts(&["cohort", "database"], &[]);
    let c = fx.run(&o);
    let x = out(&c);

    assert_eq!(
        instances(x),
        vec![
            summary("1", "guest", 1, &[]),
            summary("2", "manual", 0, &[20, 21, 22, 23]),
            summary("3", "self", 1, &[]),
            summary("4", "manual", 0, &[]),
            summary("5", "manual", 0, &[]),
        ]
    );
    assert_eq!(user(x, 20), vec![row("2", 0, 100, 0)]);
    assert_eq!(user(x, 21), vec![row("2", 0, 200, 500)]);
    assert_eq!(user(x, 22), vec![row("2", 0, 50, 60)]);
    assert_eq!(user(x, 23), vec![row("2", 1, 70, 80)]);

    let expected = doc(&[
        guest("1"),
        c2.retyped().ues(&[c20, c21.with(0, 200, 500), d22, k23]),
        selfenrol("3"),
        d4.retyped(),
        c5.retyped(),
    ]);
    assert_eq!(text(x), expected);
    // The in-place enrolment of user 20 needed no change at all.
    assert_eq!(enrolment_text(x, "200"), c20.render().trim());

    let t = c.report.target.as_ref().unwrap();
    assert_eq!(
        (t.instance_id.as_str(), t.was.as_str(), t.enabled),
        ("2", "cohort", false)
    );
    assert_eq!(c.report.methods.len(), 2);
    assert_eq!(c.report.methods[0].plugin, "cohort");
    assert_eq!(
        c.report.methods[0].instances,
        vec!["2".to_owned(), "5".to_owned()]
    );
    assert_eq!(c.report.methods[1].plugin, "database");
    assert_eq!(
        outcome(&c, 21).methods,
        vec!["cohort".to_owned(), "database".to_owned()]
    );
    assert_eq!(c.report.totals.users_converted, 4);
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 3. Merging several sources of one user.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn sources_of_one_user_merge_into_one_enrolment() {
    let c2 = cohort(
        "2",
        0,
        &[
            ue(230, 30, 0, 200, 1000),
            ue(231, 31, 0, 300, 0),
            ue(232, 32, 1, 50, 9000),
            ue(234, 34, 1, 100, 300),
        ],
    );
    let d3 = database(
        "3",
        0,
        &[
            ue(330, 30, 0, 100, 2000),
            ue(331, 31, 0, 100, 5000),
            ue(332, 32, 0, 400, 600),
            ue(333, 33, 0, 500, 700),
            ue(334, 34, 1, 50, 200),
            ue(335, 35, 1, 20, 900),
        ],
    );
    // Disabled instance: its active enrolments are not effectively active.
    let c4 = cohort("4", 1, &[ue(433, 33, 0, 10, 0), ue(435, 35, 0, 80, 0)]);
    let fx = Fx::new(doc(&[inst("1", "manual", 0, &[]), c2, d3, c4]));
    let o = opts(&["cohort", "database"], &[]);
    let c = fx.run(&o);
    let x = out(&c);

    // Both active: earliest start, latest end.
    assert_eq!(user(x, 30), vec![row("1", 0, 100, 2000)]);
    // 0 (unlimited) wins over any end.
    assert_eq!(user(x, 31), vec![row("1", 0, 100, 0)]);
    // Suspended source ignored for times when another is active.
    assert_eq!(user(x, 32), vec![row("1", 0, 400, 600)]);
    // Active in a disabled instance does not count.
    assert_eq!(user(x, 33), vec![row("1", 0, 500, 700)]);
    // All suspended: times over all sources.
    assert_eq!(user(x, 34), vec![row("1", 1, 50, 300)]);
    // Only "active in a disabled instance" + suspended: suspended, times over all, 0 wins.
    assert_eq!(user(x, 35), vec![row("1", 1, 20, 0)]);

    // One enrolment per user, in order of first appearance, the copy of the first source.
    assert_eq!(
        instances(x),
        vec![
            summary("1", "manual", 0, &[30, 31, 32, 34, 33, 35]),
            summary("2", "manual", 0, &[]),
            summary("3", "manual", 0, &[]),
            summary("4", "manual", 0, &[]),
        ]
    );
    let m = model::parse_enrolments(x).unwrap();
    let ids: Vec<_> = m[0]
        .enrolments
        .iter()
        .map(|e| e.id.clone().unwrap())
        .collect();
    assert_eq!(ids, ["230", "231", "232", "234", "333", "335"]);
    assert_eq!(c.report.totals.users_converted, 6);
    assert_eq!(c.report.totals.suspended, 2);
    let cm = &c.report.methods;
    assert_eq!(
        (cm[0].plugin.as_str(), cm[0].users_converted),
        ("cohort", 6)
    );
    assert_eq!(
        (cm[1].plugin.as_str(), cm[1].users_converted),
        ("database", 6)
    );
    fx.assert_idempotent(&o, &c);
}

#[test]
fn duplicate_enrolments_of_one_user_in_one_instance_merge() {
    let c2 = cohort("2", 0, &[ue(1, 40, 1, 10, 20), ue(2, 40, 0, 30, 40)]);
    let fx = Fx::new(doc(&[inst("1", "manual", 0, &[]), c2]));
    let c = fx.run(&opts(&["cohort"], &[]));
    assert_eq!(user(out(&c), 40), vec![row("1", 0, 30, 40)]);
}

// ---------------------------------------------------------------------------------------------------------
// 4. / 5. Existing manual enrolments.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn existing_manual_enrolment_is_kept_byte_identical_when_the_converted_result_is_suspended() {
    let m40 = ue(140, 40, 0, 100, 200);
    let m41 = ue(141, 41, 1, 100, 200);
    let manual = inst("1", "manual", 0, &[m40, m41]);
    let coh = cohort("2", 0, &[ue(240, 40, 1, 50, 0), ue(241, 41, 1, 10, 0)]);
    let fx = Fx::new(doc(&[manual.clone(), coh.clone()])).roles(
        course_roles(&[ra(1, 5, 40, "enrol_cohort", 2), ra(2, 5, 41, "", 0)]),
        std_roles(),
    );
    let o = opts(&["cohort"], &["student"]);
    let c = fx.run(&o);
    let x = out(&c);
    let before = fx.enrolments.as_ref().unwrap().as_bytes();

    assert_eq!(
        user(x, 40),
        vec![row("1", 0, 100, 200)],
        "not stamped, not suspended"
    );
    assert_eq!(user(x, 41), vec![row("1", 1, 100, 200)]);
    assert_eq!(enrolment_text(x, "140"), enrolment_text(before, "140"));
    assert_eq!(enrolment_text(x, "141"), enrolment_text(before, "141"));
    assert_eq!(
        enrol_text(x, "1"),
        enrol_text(before, "1"),
        "holder untouched"
    );
    assert_eq!(text(x), doc(&[manual, coh.retyped()]));
    for u in [40, 41] {
        assert_eq!(outcome(&c, u).manual, "kept");
        assert!(!outcome(&c, u).stamped);
    }
    assert_eq!(c.report.totals.merged_with_manual, 2);
    assert_eq!(c.report.totals.stamped, 0);
    fx.assert_idempotent(&o, &c);
}

#[test]
fn existing_manual_enrolment_is_combined_with_an_active_conversion_then_stamped() {
    let m50 = ue(150, 50, 0, 300, 1000);
    let m51 = ue(151, 51, 0, 100, 500);
    let m52 = ue(152, 52, 1, 100, 500);
    let m53 = ue(153, 53, 0, 100, 0);
    let m54 = ue(154, 54, 0, 10, 20); // no converted enrolment: never touched
    let m55 = ue(155, 55, 0, 100, 2000);
    let manual = inst("1", "manual", 0, &[m50, m51, m52, m53, m54, m55]);
    let coh = cohort(
        "2",
        0,
        &[
            ue(250, 50, 0, 200, 800),
            ue(251, 51, 0, 200, 0),
            ue(252, 52, 0, 400, 600),
            ue(253, 53, 0, 50, 70),
            ue(255, 55, 0, 50, 3000),
        ],
    );
    let fx = Fx::new(doc(&[manual.clone(), coh.clone()])).roles(
        course_roles(&[
            ra(1, 5, 53, "", 0),
            ra(2, 5, 54, "", 0),
            ra(3, 3, 55, "enrol_cohort", 2),
        ]),
        std_roles(),
    );
    let o = opts(&["cohort"], &["student"]);
    let c = fx.run(&o);
    let x = out(&c);

    assert_eq!(user(x, 50), vec![row("1", 0, 200, 1000)]);
    assert_eq!(user(x, 51), vec![row("1", 0, 100, 0)]);
    assert_eq!(
        user(x, 52),
        vec![row("1", 0, 400, 600)],
        "suspended manual + active -> active, with the active source's dates only (the suspended one widens nothing)"
    );
    assert_eq!(
        user(x, 53),
        vec![row("1", 0, 50, UNTIL)],
        "combined, then stamped"
    );
    assert_eq!(
        user(x, 54),
        vec![row("1", 0, 10, 20)],
        "student without conversion untouched"
    );
    assert_eq!(
        user(x, 55),
        vec![row("1", 0, 50, 3000)],
        "teacher not stamped"
    );
    assert_eq!(
        text(x),
        doc(&[
            manual.ues(&[
                m50.with(0, 200, 1000),
                m51.with(0, 100, 0),
                m52.with(0, 400, 600),
                m53.with(0, 50, UNTIL),
                m54,
                m55.with(0, 50, 3000),
            ]),
            coh.retyped(),
        ])
    );
    for u in [50, 51, 52, 53, 55] {
        assert_eq!(outcome(&c, u).manual, "combined");
    }
    assert!(outcome(&c, 53).stamped);
    assert!(c.report.users.iter().all(|u| u.userid != 54));
    assert_eq!(c.report.totals.merged_with_manual, 5);
    assert_eq!(c.report.methods[0].merged_with_manual, 5);
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 6. Disabled manual holder.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn disabled_manual_holder_is_enabled_and_its_active_untouched_enrolments_suspended() {
    let m60 = ue(160, 60, 0, 1, 0);
    let m61 = ue(161, 61, 1, 1, 0);
    let m62 = ue(162, 62, 0, 100, 200);
    let m63 = ue(163, 63, 0, 100, 200);
    let manual = inst("1", "manual", 1, &[m60, m61, m62, m63]);
    let coh = cohort(
        "2",
        0,
        &[
            ue(262, 62, 0, 50, 300),
            ue(263, 63, 1, 10, 0),
            ue(264, 64, 0, 5, 0),
        ],
    );
    let fx = Fx::new(doc(&[guest("0"), manual.clone(), coh.clone()]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let x = out(&c);

    assert_eq!(
        user(x, 60),
        vec![row("1", 1, 1, 0)],
        "had no access: suspended"
    );
    assert_eq!(user(x, 61), vec![row("1", 1, 1, 0)]);
    assert_eq!(user(x, 62), vec![row("1", 0, 50, 300)], "combined: active");
    assert_eq!(
        user(x, 63),
        vec![row("1", 1, 100, 200)],
        "kept, but suspended"
    );
    assert_eq!(user(x, 64), vec![row("1", 0, 5, 0)]);
    assert_eq!(
        text(x),
        doc(&[
            guest("0"),
            manual.set("status", "0").ues(&[
                m60.with(1, 1, 0),
                m61,
                m62.with(0, 50, 300),
                m63.with(1, 100, 200),
                ue(264, 64, 0, 5, 0),
            ]),
            coh.retyped(),
        ])
    );
    let t = c.report.target.as_ref().unwrap();
    assert!(t.enabled);
    assert_eq!(c.report.manual_enrolments_suspended, 2);
    assert_eq!(outcome(&c, 63).status, 1);
    assert_eq!(outcome(&c, 63).manual, "kept");
    fx.assert_idempotent(&o, &c);
}

#[test]
fn disabled_converted_holder_is_enabled_and_its_enrolments_suspended() {
    // No manual instance; the holder is a disabled cohort instance.
    let c1 = cohort("1", 1, &[ue(10, 90, 0, 5, 0), ue(11, 91, 0, 5, 0)]);
    let d2 = database("2", 0, &[ue(20, 91, 0, 7, 9)]);
    let fx = Fx::new(doc(&[c1.clone(), d2.clone()]));
    let o = opts(&["cohort", "database"], &[]);
    let c = fx.run(&o);
    let x = out(&c);
    assert_eq!(user(x, 90), vec![row("1", 1, 5, 0)]);
    assert_eq!(
        user(x, 91),
        vec![row("1", 0, 7, 9)],
        "active through the enabled database"
    );
    assert_eq!(
        text(x),
        doc(&[
            c1.retyped()
                .ues(&[ue(10, 90, 1, 5, 0), ue(11, 91, 0, 7, 9)]),
            d2.retyped(),
        ])
    );
    assert!(c.report.target.as_ref().unwrap().enabled);
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 7. Clearing retyped instances.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn retyped_instances_lose_every_plugin_setting_and_plugin_children() {
    let lti = inst("3", "lti", 1, &[ue(30, 20, 0, 0, 0)])
        .raw("name", "<name/>")
        .set("password", "")
        .set("enrolperiod", "3600")
        .set("enrolstartdate", "1600000000")
        .set("enrolenddate", "1700000000")
        .set("expirynotify", "1")
        .set("expirythreshold", "0")
        .set("notifyall", "1")
        .set("cost", "10")
        .set("currency", "EUR")
        .set("customint1", "7")
        .raw("customint2", "<customint2/>")
        .set("customint8", "1")
        .set("customchar1", "abc")
        .set("customdec2", "1.5")
        .set("customtext1", "&lt;p&gt;welcome&lt;/p&gt;")
        .set("customtext4", "x")
        .extra(TOOL);
    // An old backup: no customint5..8, customchar*, customdec*, customtext2..4, no enrolstartdate.
    let old_fields = [
        "customint5",
        "customint6",
        "customint7",
        "customint8",
        "customchar1",
        "customchar2",
        "customchar3",
        "customdec1",
        "customdec2",
        "customtext2",
        "customtext3",
        "customtext4",
        "enrolstartdate",
    ];
    let old = database("4", 0, &[ue(40, 21, 0, 0, 0)])
        .without(&old_fields)
        .set("customint1", "1")
        .set("customtext1", "t");
    let manual = inst("1", "manual", 0, &[]);
    let fx = Fx::new(doc(&[manual.clone(), guest("2"), lti.clone(), old.clone()]));
    let o = opts(&["lti", "database"], &[]);
    let c = fx.run(&o);
    let x = text(out(&c));

    let expected_lti = lti.retyped();
    let expected_old = old.retyped();
    // Spell out what retyped() must have produced, so the expectation does not rest on the helper alone.
    assert!(
        expected_lti
            .fields
            .contains(&("name".into(), "<name>$@NULL@$</name>".into()))
    );
    assert!(expected_lti.fields.contains(&(
        "customint2".into(),
        "<customint2>$@NULL@$</customint2>".into()
    )));
    assert!(
        expected_lti
            .fields
            .contains(&("cost".into(), "<cost>10</cost>".into())),
        "cost kept"
    );
    assert!(expected_lti.fields.contains(&(
        "expirythreshold".into(),
        "<expirythreshold>86400</expirythreshold>".into()
    )));
    assert!(!expected_old.has("customint5") && !expected_old.has("enrolstartdate"));
    assert_eq!(
        x,
        doc(&[
            // The lti instance was disabled: its enrolment is not effectively active.
            manual.ues(&[ue(30, 20, 1, 0, 0), ue(40, 21, 0, 0, 0)]),
            guest("2"),
            expected_lti,
            expected_old,
        ])
    );
    assert!(!x.contains("<tool"), "plugin child removed");
    assert!(!x.contains("secret"));
    let old_out = enrol_text(x.as_bytes(), "4");
    for f in old_fields {
        assert!(
            !old_out.contains(&format!("<{f}")),
            "missing <{f}> must not be added"
        );
    }
    fx.assert_idempotent(&o, &c);
}

#[test]
fn holder_instance_is_cleared_too_when_it_is_retyped() {
    let c1 = cohort("1", 0, &[ue(10, 5, 0, 0, 0)]).extra(TOOL);
    let fx = Fx::new(doc(std::slice::from_ref(&c1)));
    let c = fx.run(&opts(&["cohort"], &[]));
    assert_eq!(
        text(out(&c)),
        doc(&[c1.retyped().ues(&[ue(10, 5, 0, 0, 0)])])
    );
}

// ---------------------------------------------------------------------------------------------------------
// 8. Holder container forms.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn holder_with_empty_tag_user_enrolments_gets_a_container() {
    let manual = inst("1", "manual", 0, &[]).form(Form::EmptyTag);
    let coh = cohort("2", 0, &[ue(20, 70, 0, 1, 2), ue(21, 71, 1, 3, 4)]);
    let fx = Fx::new(doc(&[manual.clone(), guest("3"), coh.clone()]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let x = out(&c);
    assert_eq!(user(x, 70), vec![row("1", 0, 1, 2)]);
    assert_eq!(user(x, 71), vec![row("1", 1, 3, 4)]);
    assert_eq!(
        text(x),
        doc(&[
            manual.form(Form::Lines).ues(&coh.ues),
            guest("3"),
            coh.retyped(),
        ])
    );
    fx.assert_idempotent(&o, &c);
}

#[test]
fn holder_without_user_enrolments_gets_a_well_formed_container() {
    let manual = inst("1", "manual", 0, &[]).form(Form::Missing);
    let coh = cohort("2", 0, &[ue(20, 70, 0, 1, 2), ue(21, 71, 1, 3, 4)]);
    let fx = Fx::new(doc(&[manual.clone(), guest("3"), coh.clone()]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let x = out(&c);
    wellformed(x);
    assert_eq!(user(x, 70), vec![row("1", 0, 1, 2)]);
    assert_eq!(user(x, 71), vec![row("1", 1, 3, 4)]);
    let m = model::parse_enrolments(x).unwrap();
    assert!(m[0].user_enrolments.is_some());
    // The holder's fields and the other instances are untouched.
    let before = fx.enrolments.as_ref().unwrap().as_bytes();
    let hb = enrol_text(before, "1");
    let ha = enrol_text(x, "1");
    let fields_end = hb.rfind("</timemodified>").unwrap() + "</timemodified>".len();
    assert_eq!(ha[..fields_end], hb[..fields_end]);
    assert_eq!(enrol_text(x, "3"), enrol_text(before, "3"));
    assert_eq!(enrol_text(x, "2"), coh.retyped().render().trim());
    fx.assert_idempotent(&o, &c);
}

#[test]
fn holder_with_one_line_user_enrolments_container() {
    let manual = inst("1", "manual", 0, &[])
        .form(Form::Missing)
        .extra("      <user_enrolments></user_enrolments>\n");
    let coh = cohort("2", 0, &[ue(20, 70, 0, 1, 2)]);
    let fx = Fx::new(doc(&[manual, coh]));
    let c = fx.run(&opts(&["cohort"], &[]));
    assert_eq!(user(out(&c), 70), vec![row("1", 0, 1, 2)]);
}

#[test]
fn minified_document_without_newlines() {
    let manual = inst("1", "manual", 0, &[ue(10, 69, 0, 0, 0)]);
    let coh = cohort("2", 0, &[ue(20, 70, 0, 1, 2), ue(21, 69, 0, 0, 5)]).extra(TOOL);
    let flat: String = doc(&[manual, coh])
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("");
    let fx = Fx::new(flat);
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let x = out(&c);
    assert_eq!(user(x, 69), vec![row("1", 0, 0, 0)]);
    assert_eq!(user(x, 70), vec![row("1", 0, 1, 2)]);
    assert!(!text(x).contains('\n'));
    assert!(!text(x).contains("<tool"));
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// 9. / 10. course/roles.xml and groups.xml.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn role_assignments_of_converted_plugins_become_manual_and_duplicates_go() {
    let assignments = vec![
        ra(1, 5, 70, "", 0),                                     // manual student
        ra(2, 5, 70, "enrol_cohort", 2),                         // duplicate of 1 -> removed
        ra(3, 5, 71, "enrol_cohort", 2),                         // rewritten
        ra(4, 3, 71, "enrol_cohort", 2),                         // other role: rewritten
        ra(5, 5, 72, "enrol_lti", 9),                            // not converted
        ra(6, 5, 73, "mod_foo", 3),                              // not an enrol component
        ra(7, 5, 74, "enrol_database", 3),                       // database not converted here
        ra(8, 5, 75, "enrol_cohort", 2),                         // rewritten
        ra(9, 5, 75, "enrol_cohort", 4), // same role and user from another cohort: removed
        ra_raw(10, 5, 76, "<component/>", "<itemid>0</itemid>"), // manual, empty-tag form
        ra(11, 5, 76, "enrol_cohort", 4), // duplicate of 10 -> removed
        ra(12, 5, 77, "enrol_cohort", 2), // duplicate of the later manual 13 -> removed
        ra(13, 5, 77, "", 0),
        ra_raw(
            14,
            5,
            78,
            "<component>enrol_cohort</component>",
            "<itemid/>",
        ), // empty-tag itemid
    ];
    let enrol = doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[]),
        cohort("4", 0, &[]),
        database("3", 0, &[]),
    ]);
    let fx = Fx::new(enrol).roles(course_roles(&assignments), std_roles());
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let got = text(c.course_roles.as_deref().unwrap());
    let expected = course_roles(&[
        ra(1, 5, 70, "", 0),
        ra(3, 5, 71, "", 0),
        ra(4, 3, 71, "", 0),
        ra(5, 5, 72, "enrol_lti", 9),
        ra(6, 5, 73, "mod_foo", 3),
        ra(7, 5, 74, "enrol_database", 3),
        ra(8, 5, 75, "", 0),
        ra_raw(10, 5, 76, "<component/>", "<itemid>0</itemid>"),
        ra(13, 5, 77, "", 0),
        ra_raw(14, 5, 78, "<component></component>", "<itemid>0</itemid>"),
    ]);
    assert_eq!(got, expected);
    assert_eq!(c.report.role_assignments_rewritten, 4);
    assert_eq!(c.report.role_assignments_removed, 4);
    fx.assert_idempotent(&o, &c);
}

#[test]
fn group_members_of_converted_plugins_become_manual() {
    let g15: Vec<String> = vec![
        member(215, 68, "", 0),
        member(237, 60, "enrol_cohort", 2),
        member(238, 61, "enrol_lti", 9),
    ];
    let g16: Vec<String> = vec![
        member(240, 62, "enrol_cohort", 4),
        member(241, 63, "enrol_database", 3),
    ];
    let enrol = doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 60, 0, 0, 0)]),
        cohort("4", 0, &[ue(2, 62, 0, 0, 0)]),
        database("3", 0, &[ue(3, 63, 0, 0, 0)]),
    ]);
    let fx = Fx::new(enrol).groups(groups(&[(15, &g15), (16, &g16)]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let got = text(c.groups.as_deref().unwrap());
    let expected = groups(&[
        (
            15,
            &[
                member(215, 68, "", 0),
                member(237, 60, "", 0),
                member(238, 61, "enrol_lti", 9),
            ],
        ),
        (
            16,
            &[member(240, 62, "", 0), member(241, 63, "enrol_database", 3)],
        ),
    ]);
    assert_eq!(got, expected);
    // Untouched members are byte-identical (and at the same offsets before the first edit).
    for m in [&g15[0], &g15[2], &g16[1]] {
        assert!(got.contains(m.as_str()));
    }
    assert_eq!(c.report.group_members_rewritten, 2);
    assert!(c.course_roles.is_none());
    fx.assert_idempotent(&o, &c);
}

#[test]
fn roles_and_groups_without_anything_to_rewrite_stay_unchanged() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 5, 0, 0, 0)]),
    ]))
    .roles(course_roles(&[ra(1, 5, 5, "", 0)]), std_roles())
    .groups(groups(&[(1, &[member(1, 5, "", 0)])]));
    let c = fx.run(&opts(&["cohort"], &[]));
    assert!(c.enrolments.is_some());
    assert!(c.course_roles.is_none());
    assert!(c.groups.is_none());
}

// ---------------------------------------------------------------------------------------------------------
// 11. Nothing to convert.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn nothing_to_convert_is_a_noop_with_a_warning() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[ue(1, 5, 0, 0, 0)]),
        guest("2"),
        selfenrol("3"),
    ]))
    .roles(course_roles(&[ra(1, 5, 5, "enrol_cohort", 9)]), std_roles())
    .groups(groups(&[(1, &[member(1, 5, "enrol_cohort", 9)])]));
    let c = fx.run(&opts(&["database"], &[]));
    assert!(c.is_noop());
    assert!(c.report.target.is_none());
    assert_eq!(c.report.warnings.len(), 1, "{:?}", c.report.warnings);
    assert!(
        c.report.warnings[0].to_string().contains("database"),
        "{:?}",
        c.report.warnings
    );

    // `--from manual` converts nothing either.
    let c = fx.run(&opts(&["manual"], &[]));
    assert!(c.is_noop());
    assert_eq!(c.report.warnings.len(), 1);

    // No enrolments.xml at all.
    let c = Fx::default().run(&opts(&["cohort"], &[]));
    assert!(c.is_noop());
    assert_eq!(c.report.warnings.len(), 1);
    assert!(c.report.warnings[0].to_string().contains(ENROLMENTS));
}

#[test]
fn from_listing_a_plugin_absent_from_the_backup_still_converts_the_present_ones() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 5, 0, 0, 0)]),
    ]));
    let c = fx.run(&opts(&["database", "cohort", "meta"], &[]));
    assert_eq!(user(out(&c), 5), vec![row("1", 0, 0, 0)]);
    let plugins: Vec<_> = c.report.methods.iter().map(|m| m.plugin.as_str()).collect();
    assert_eq!(plugins, ["cohort"]);
    assert_eq!(c.report.from, ["database", "cohort", "meta"]);
}

// ---------------------------------------------------------------------------------------------------------
// 12. Idempotence over a busy backup.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn converting_the_output_again_changes_nothing() {
    let fx = Fx::new(doc(&[
        cohort("1", 1, &[ue(1, 10, 0, 1, 2), ue(2, 11, 1, 1, 2)]).extra(TOOL),
        inst("2", "manual", 1, &[ue(3, 10, 0, 5, 6), ue(4, 12, 0, 5, 6)]).form(Form::Lines),
        guest("3"),
        database("4", 0, &[ue(5, 11, 0, 3, 0), ue(6, 13, 0, 3, 0)]),
        inst("5", "meta", 0, &[ue(7, 14, 0, 0, 0)]).set("customint1", "42"),
    ]))
    .roles(
        course_roles(&[
            ra(1, 5, 10, "enrol_cohort", 1),
            ra(2, 5, 10, "", 0),
            ra(3, 4, 11, "enrol_database", 4),
            ra(4, 5, 14, "enrol_meta", 5),
        ]),
        std_roles(),
    )
    .groups(groups(&[(
        1,
        &[
            member(1, 10, "enrol_cohort", 1),
            member(2, 14, "enrol_meta", 5),
        ],
    )]));
    let o = opts(&["cohort", "database", "meta"], &["student", "teacher"]);
    let c = fx.run(&o);
    assert!(!c.is_noop());
    assert!(c.course_roles.is_some() && c.groups.is_some());
    fx.assert_idempotent(&o, &c);
    // And a third time from the second output, for good measure, with a different until.
    let mut o2 = o.clone();
    o2.until = 1;
    assert!(fx.after(&c).run(&o2).is_noop());
}

// ---------------------------------------------------------------------------------------------------------
// 13. --stamp-roles.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn stamp_roles_unknown_role_warns_and_several_roles_stamp() {
    let coh = cohort(
        "2",
        0,
        &[
            ue(1, 80, 0, 10, 20), // student
            ue(2, 81, 0, 10, 20), // teacher
            ue(3, 82, 0, 10, 0),  // editingteacher
            ue(4, 83, 0, 10, 0),  // no role
            ue(5, 84, 0, 10, 0),  // teacher through a manual role only
        ],
    );
    let fx = Fx::new(doc(&[inst("1", "manual", 0, &[]), coh])).roles(
        course_roles(&[
            ra(1, 5, 80, "enrol_cohort", 2),
            ra(2, 4, 81, "enrol_cohort", 2),
            ra(3, 3, 82, "enrol_cohort", 2),
            ra(4, 4, 84, "", 0),
        ]),
        std_roles(),
    );
    let c = fx.run(&opts(&["cohort"], &["student", "teacher", "ghost"]));
    let x = out(&c);
    assert_eq!(user(x, 80), vec![row("1", 0, 10, UNTIL)]);
    assert_eq!(user(x, 81), vec![row("1", 0, 10, UNTIL)]);
    assert_eq!(user(x, 82), vec![row("1", 0, 10, 0)]);
    assert_eq!(user(x, 83), vec![row("1", 0, 10, 0)]);
    assert_eq!(user(x, 84), vec![row("1", 0, 10, UNTIL)]);
    assert_eq!(c.report.totals.stamped, 3);
    assert_eq!(c.report.warnings.len(), 1, "{:?}", c.report.warnings);
    assert!(c.report.warnings[0].to_string().contains("ghost"));
    assert_eq!(c.report.stamp_roles, ["student", "teacher", "ghost"]);
}

#[test]
fn stamp_roles_without_roles_xml_warns_for_each_and_stamps_nobody() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 80, 0, 10, 20)]),
    ]));
    let c = fx.run(&opts(&["cohort"], &["student", "teacher"]));
    assert_eq!(user(out(&c), 80), vec![row("1", 0, 10, 20)]);
    assert_eq!(c.report.warnings.len(), 2, "{:?}", c.report.warnings);
}

#[test]
fn stamp_before_start_warns() {
    let fx = Fx::new(doc(&[
        inst("1", "manual", 0, &[]),
        cohort("2", 0, &[ue(1, 80, 0, UNTIL + 5, 0)]),
    ]))
    .roles(
        course_roles(&[ra(1, 5, 80, "enrol_cohort", 2)]),
        std_roles(),
    );
    let c = fx.run(&opts(&["cohort"], &["student"]));
    assert_eq!(user(out(&c), 80), vec![row("1", 0, UNTIL + 5, UNTIL)]);
    assert_eq!(c.report.warnings.len(), 1, "{:?}", c.report.warnings);
    assert!(c.report.warnings[0].to_string().contains("80"));
}

// ---------------------------------------------------------------------------------------------------------
// 14. Malformed input.
// ---------------------------------------------------------------------------------------------------------

/// The error and all its sources, joined.
fn chain(e: &EnrolError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

fn good() -> String {
    doc(&[
        inst("1", "manual", 0, &[ue(1, 5, 0, 0, 0)]),
        cohort("2", 0, &[ue(20, 6, 0, 0, 0)]),
    ])
}

#[test]
fn truncated_enrolments_xml_is_an_error_naming_the_member() {
    let full = good();
    let cut = full.find("<timestart>").unwrap() + "<timestart>".len() + 1;
    let fx = Fx::new(full[..cut].to_owned());
    let e = fx.try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(
        matches!(
            e,
            EnrolError::Xml {
                member: ENROLMENTS,
                ..
            }
        ),
        "{e:?}"
    );
    let msg = chain(&e);
    assert!(msg.contains("course/enrolments.xml"), "{msg}");
    assert!(msg.contains("timestart"), "{msg}");
}

#[test]
fn truncated_inside_a_tag_is_an_error() {
    let full = good();
    let cut = full.find("<userid>").unwrap() + 4;
    let e = Fx::new(full[..cut].to_owned())
        .try_run(&opts(&["cohort"], &[]))
        .unwrap_err();
    assert!(chain(&e).contains("course/enrolments.xml"), "{}", chain(&e));
}

#[test]
fn converted_enrolment_without_timestart_is_an_error_naming_it() {
    let bad = good().replacen("<timestart>0</timestart>\n", "", 2);
    // The first occurrence is in the manual instance, the second in the cohort one.
    let e = Fx::new(bad).try_run(&opts(&["cohort"], &[])).unwrap_err();
    let msg = chain(&e);
    assert!(
        matches!(
            e,
            EnrolError::Invalid {
                member: ENROLMENTS,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(msg.contains("course/enrolments.xml"), "{msg}");
    assert!(msg.contains("<timestart>"), "{msg}");
    assert!(msg.contains("<enrolment id=\"20\">"), "{msg}");
    assert!(msg.contains("<enrol id=\"2\">"), "{msg}");
}

#[test]
fn non_integer_userid_is_an_error_naming_it() {
    for bad_value in ["abc", "", "$@NULL@$", "1.5"] {
        let bad = good().replace(
            "<userid>6</userid>",
            &format!("<userid>{bad_value}</userid>"),
        );
        let e = Fx::new(bad).try_run(&opts(&["cohort"], &[])).unwrap_err();
        let msg = chain(&e);
        assert!(msg.contains("course/enrolments.xml"), "{msg}");
        assert!(msg.contains("<userid>"), "{msg}");
        assert!(msg.contains("<enrolment id=\"20\">"), "{msg}");
    }
}

#[test]
fn non_integer_values_in_an_existing_manual_enrolment_to_combine_are_an_error() {
    let bad = good()
        .replace("<userid>6</userid>", "<userid>5</userid>")
        .replacen("<timeend>0</timeend>", "<timeend>never</timeend>", 1);
    let e = Fx::new(bad).try_run(&opts(&["cohort"], &[])).unwrap_err();
    let msg = chain(&e);
    assert!(msg.contains("<timeend>"), "{msg}");
    assert!(msg.contains("<enrol id=\"1\">"), "{msg}");
}

#[test]
fn malformed_roles_and_groups_are_errors_naming_the_member() {
    let fx = Fx::new(good()).roles("<roles><role_assignments>".into(), std_roles());
    let e = fx.try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(chain(&e).contains(COURSE_ROLES), "{}", chain(&e));

    let fx = Fx::new(good()).roles(
        course_roles(&[]),
        "<roles_definition><role id=\"1\">".into(),
    );
    let e = fx.try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(chain(&e).starts_with("member `roles.xml`"), "{}", chain(&e));

    let fx = Fx::new(good()).groups("<groups><group id=\"1\"></groups>".into());
    let e = fx.try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(chain(&e).contains(GROUPS), "{}", chain(&e));
}

#[test]
fn enrol_without_id_is_an_error() {
    let bad = good().replace("<enrol id=\"2\">", "<enrol>");
    let e = Fx::new(bad).try_run(&opts(&["cohort"], &[])).unwrap_err();
    assert!(chain(&e).contains("id"), "{}", chain(&e));
}

// ---------------------------------------------------------------------------------------------------------
// 15. Converted instance before the manual one.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn converted_instance_before_the_manual_one_still_merges_into_the_manual_one() {
    let coh = cohort("1", 0, &[ue(10, 80, 0, 5, 6), ue(11, 81, 0, 1, 0)]).extra(TOOL);
    let manual = inst("2", "manual", 0, &[ue(20, 81, 0, 3, 9)]);
    let second_manual = inst("3", "manual", 0, &[ue(30, 80, 0, 0, 0)]);
    let fx = Fx::new(doc(&[coh.clone(), manual.clone(), second_manual.clone()]));
    let o = opts(&["cohort"], &[]);
    let c = fx.run(&o);
    let x = out(&c);
    assert_eq!(
        text(x),
        doc(&[
            coh.retyped(),
            manual.ues(&[ue(20, 81, 0, 1, 0), ue(10, 80, 0, 5, 6)]),
            second_manual,
        ])
    );
    // Only the first manual instance is the holder; the second one is never touched.
    assert_eq!(user(x, 80), vec![row("2", 0, 5, 6), row("3", 0, 0, 0)]);
    assert_eq!(c.report.target.as_ref().unwrap().instance_id, "2");
    fx.assert_idempotent(&o, &c);
}

// ---------------------------------------------------------------------------------------------------------
// Helpers of convert.rs.
// ---------------------------------------------------------------------------------------------------------

#[test]
fn later_end_prefers_unlimited() {
    assert_eq!(later_end(0, 5), 0);
    assert_eq!(later_end(5, 0), 0);
    assert_eq!(later_end(3, 5), 5);
    assert_eq!(later_end(5, 3), 5);
}

#[test]
fn set_handles_both_element_forms() {
    let x = b"<a><b/><c>1</c></a>";
    let b = Field {
        content: 7..7,
        span: 3..7,
    };
    let c = Field {
        content: 10..11,
        span: 7..15,
    };
    assert_eq!(&x[b.span.clone()], b"<b/>");
    assert_eq!(&x[c.span.clone()], b"<c>1</c>");
    let e = b.set(x, "b", "0").unwrap();
    assert_eq!((e.range, e.with), (3..7, b"<b>0</b>".to_vec()));
    assert!(c.set(x, "c", "1").is_none());
    let e = c.set(x, "c", "2").unwrap();
    assert_eq!((e.range, e.with), (10..11, b"2".to_vec()));
    // Setting an empty-tag element to "" needs no change.
    assert!(b.set(x, "b", "").is_none());
}

// ---------------------------------------------------------------------------------------------------------
// Randomised comparison with a reference model written from the issue text.
// ---------------------------------------------------------------------------------------------------------

/// xorshift64*, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[usize::try_from(self.below(xs.len() as u64)).unwrap()]
    }
}

/// The expected rows per user, from the spec alone.
fn reference(
    insts: &[(String, &str, i64, Vec<Ue>)],
    from: &[&str],
    stamped_users: &[i64],
) -> BTreeMap<i64, Vec<Row>> {
    let is_conv = |p: &str| p != "manual" && from.contains(&p);
    let holder = insts
        .iter()
        .position(|i| i.1 == "manual")
        .or_else(|| insts.iter().position(|i| is_conv(i.1)))
        .unwrap();
    let holder_manual = insts[holder].1 == "manual";
    let holder_disabled = insts[holder].2 != 0;
    let hid = insts[holder].0.clone();
    let mut rows: BTreeMap<i64, Vec<(usize, Row)>> = BTreeMap::new();
    // Sources per user.
    let mut srcs: BTreeMap<i64, Vec<(i64, Ue)>> = BTreeMap::new();
    for (_, _, st, ues) in insts.iter().filter(|i| is_conv(i.1)) {
        for u in ues {
            srcs.entry(u.user).or_default().push((*st, *u));
        }
    }
    let existing: BTreeMap<i64, Ue> = if holder_manual {
        insts[holder].3.iter().map(|u| (u.user, *u)).collect()
    } else {
        BTreeMap::new()
    };
    for (user, list) in &srcs {
        let eff: Vec<_> = list
            .iter()
            .filter(|(st, u)| *st == 0 && u.status == 0)
            .collect();
        let active = !eff.is_empty();
        let pool: Vec<_> = if active { eff } else { list.iter().collect() };
        let ts = pool.iter().map(|(_, u)| u.start).min().unwrap();
        let te = pool.iter().map(|(_, u)| u.end).reduce(later_end).unwrap();
        let stamp = stamped_users.contains(user);
        let r = match existing.get(user) {
            Some(e) if !active => {
                let st = if holder_disabled { 1 } else { e.status };
                (hid.clone(), st, e.start, e.end)
            }
            // The existing enrolment's dates count only when it is effectively active itself.
            Some(e) if e.status == 0 && !holder_disabled => (
                hid.clone(),
                0,
                ts.min(e.start),
                if stamp { UNTIL } else { later_end(te, e.end) },
            ),
            Some(_) => (hid.clone(), 0, ts, if stamp { UNTIL } else { te }),
            None => (
                hid.clone(),
                i64::from(!active),
                ts,
                if stamp { UNTIL } else { te },
            ),
        };
        rows.entry(*user).or_default().push((holder, r));
    }
    for (idx, (id, p, _, ues)) in insts.iter().enumerate() {
        if is_conv(p) {
            continue;
        }
        for u in ues {
            if idx == holder && srcs.contains_key(&u.user) {
                continue;
            }
            let st = if idx == holder && holder_disabled {
                1
            } else {
                u.status
            };
            rows.entry(u.user)
                .or_default()
                .push((idx, (id.clone(), st, u.start, u.end)));
        }
    }
    rows.into_iter()
        .map(|(k, mut v)| {
            v.sort_by_key(|(i, _)| *i);
            (k, v.into_iter().map(|(_, r)| r).collect())
        })
        .collect()
}

#[test]
fn random_backups_match_the_reference_model() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let from = ["cohort", "database"];
    for case in 0..600 {
        let n = 1 + rng.below(4);
        let mut insts: Vec<(String, &str, i64, Vec<Ue>)> = Vec::new();
        let mut ueid = 1;
        for k in 0..n {
            let plugin = rng.pick(&["manual", "cohort", "database", "guest", "cohort"]);
            let status = rng.pick(&[0, 0, 1]);
            let mut ues = Vec::new();
            if plugin != "guest" {
                let mut users: Vec<i64> = (1..=6).collect();
                for _ in 0..rng.below(5) {
                    let user = if plugin == "manual" {
                        // Moodle: one enrolment per user and instance.
                        if users.is_empty() {
                            break;
                        }
                        let i = usize::try_from(rng.below(users.len() as u64)).unwrap();
                        users.remove(i)
                    } else {
                        1 + i64::try_from(rng.below(6)).unwrap()
                    };
                    ues.push(ue(
                        ueid,
                        user,
                        rng.pick(&[0, 0, 1]),
                        rng.pick(&[0, 10, 20, 30]),
                        rng.pick(&[0, 15, 25, 35]),
                    ));
                    ueid += 1;
                }
            }
            insts.push(((k + 1).to_string(), plugin, status, ues));
        }
        let stamped: Vec<i64> = (1..=6).filter(|_| rng.below(3) == 0).collect();
        let built: Vec<Inst> = insts
            .iter()
            .map(|(id, p, st, ues)| {
                let mut b = match *p {
                    "cohort" => cohort(id, *st, ues),
                    "guest" => guest(id),
                    _ => inst(id, p, *st, ues),
                };
                if ues.is_empty() {
                    b = b.form(rng.pick(&[Form::Lines, Form::EmptyTag, Form::Missing]));
                }
                if *p != "manual" && rng.below(3) == 0 {
                    b = b.extra(TOOL);
                }
                b
            })
            .collect();
        let assignments: Vec<String> = stamped
            .iter()
            .map(|u| ra(u32::try_from(*u).unwrap(), 5, *u, "", 0))
            .collect();
        let fx = Fx::new(doc(&built)).roles(course_roles(&assignments), std_roles());
        let o = opts(&from, &["student"]);
        let any_conv = insts.iter().any(|i| from.contains(&i.1));
        let c = fx.run(&o);
        let ctx = || format!("case {case}: {}", fx.enrolments.as_ref().unwrap());
        if !any_conv {
            assert!(c.is_noop(), "{}", ctx());
            continue;
        }
        let x = fx.after(&c).enrolments.unwrap();
        assert_eq!(
            by_user(x.as_bytes()),
            reference(&insts, &from, &stamped),
            "{}\n--- got:\n{x}",
            ctx()
        );
        // Converted, non-holding instances are empty manual ones; untouched instances are byte-identical.
        let before = fx.enrolments.as_ref().unwrap().as_bytes();
        let holder = c.report.target.as_ref().unwrap().instance_id.clone();
        for ((id, p, _, _), b) in insts.iter().zip(&built) {
            if from.contains(p) && *id != holder {
                assert_eq!(
                    enrol_text(x.as_bytes(), id),
                    b.retyped().render().trim(),
                    "{}",
                    ctx()
                );
            } else if !from.contains(p) && *id != holder {
                assert_eq!(
                    enrol_text(x.as_bytes(), id),
                    enrol_text(before, id),
                    "{}",
                    ctx()
                );
            }
        }
        fx.assert_idempotent(&o, &c);
    }
}
