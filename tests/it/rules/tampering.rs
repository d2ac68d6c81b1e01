//! Self-test of this checker: each check must notice a tampered copy of a real output (so a passing run means
//! something). One table of tamperings, one loop.

use super::*;

/// Which check a tampering targets, and the tampering itself.
enum Tamper {
    /// A member of the output archive edited (`check_container`); gets the member and the input archive.
    Member(&'static str, fn(&mut Member, &Archive)),
    /// `course/enrolments.xml` edited (`check_enrolments_xml`).
    Enrolments(fn(&str) -> String),
    /// `course/roles.xml` edited (`check_roles_xml`).
    Roles(fn(&str) -> String),
    /// `groups.xml` edited (`check_groups_xml`).
    Groups(fn(&str) -> String),
}

/// `field` of the first `elname` record of user `userid` set to `value`.
fn of_user(x: &str, elname: &str, userid: i64, field: &str, value: &str) -> String {
    set_leaves(x, elname, |e| e.int("userid") == Some(userid), field, value)
}

/// What each tampering is, and the tampering: every one must be detected.
const TAMPERINGS: &[(&str, Tamper)] = &[
    (
        "an untouched member changed",
        Tamper::Member("users.xml", |m, _| m.data[100] ^= 1),
    ),
    (
        "a stale .ARCHIVE_INDEX",
        Tamper::Member(INDEX, |m, inp| {
            m.data = inp.get(INDEX).unwrap().data.clone()
        }),
    ),
    (
        "a GNU tar header",
        Tamper::Member("files.xml", |m, _| {
            m.header.as_mut().unwrap()[257..265].copy_from_slice(b"ustar  \0")
        }),
    ),
    (
        "a changed mtime",
        Tamper::Member("files.xml", |m, _| m.mtime += 1),
    ),
    (
        "a retyped cohort keeping customint1",
        Tamper::Enrolments(|x| set_leaves(x, "enrol", with_id(236), "customint1", "3")),
    ),
    (
        "a retyped instance with expirythreshold 0",
        Tamper::Enrolments(|x| set_leaves(x, "enrol", with_id(236), "expirythreshold", "0")),
    ),
    (
        "an unstamped student",
        Tamper::Enrolments(|x| of_user(x, "enrolment", 45, "timeend", "0")),
    ),
    (
        "an untouched manual enrolment changed",
        Tamper::Enrolments(|x| of_user(x, "enrolment", 71, "timeend", "0")),
    ),
    (
        "a change outside the <enrol> records",
        Tamper::Enrolments(|x| x.replacen("<enrols>", "<enrols> ", 1)),
    ),
    (
        "a role assignment left with enrol_cohort",
        Tamper::Roles(|x| of_user(x, "assignment", 45, "component", "enrol_cohort")),
    ),
    (
        "a role assignment keeping its itemid",
        Tamper::Roles(|x| of_user(x, "assignment", 45, "itemid", "236")),
    ),
    (
        "a group member left with enrol_cohort",
        Tamper::Groups(|x| of_user(x, "group_member", 45, "component", "enrol_cohort")),
    ),
    (
        "a change outside the <group_member> records",
        Tamper::Groups(|x| x.replacen("</group_members>", "</group_members >", 1)),
    ),
];

/// Self-test of this checker: each check must notice a tampered copy of a real output (so a
/// passing run means something). Needs a working `convert`; otherwise it only reports that.
#[test]
fn rules_checker_detects_tampering() {
    let Some(cases) = cases() else { return };
    let Some(c) = cases.iter().find(|c| c.label == "coh_group.mbz") else {
        panic!("coh_group.mbz not in the corpus");
    };
    let mut fails = Fails::default();
    let Some((inp, out)) = converted(c, &mut fails) else {
        return fails.finish("tamper self-test (no output to tamper with)");
    };
    let m = model_from_archive(&inp).unwrap();
    let x = expect(&m);
    let (ie, ir, ig) = (
        inp.text(ENROLMENTS).unwrap(),
        inp.text(COURSE_ROLES).unwrap(),
        inp.text(GROUPS).unwrap(),
    );
    let (oe, or, og) = (
        out.text(ENROLMENTS).unwrap(),
        out.text(COURSE_ROLES).unwrap(),
        out.text(GROUPS).unwrap(),
    );
    // The untampered output passes.
    let mut base = Fails::default();
    check_container("t", &inp, &out, &mut base);
    check_enrolments_xml("t", &m, &x, ie, oe, &mut base);
    check_roles_xml("t", &m, ir, or, &mut base);
    check_groups_xml("t", &m, ig, og, &mut base);
    let clean = base.0.is_empty();

    for (what, tamper) in TAMPERINGS {
        let mut got = Fails::default();
        match tamper {
            Tamper::Member(name, edit) => {
                let mut members = out.members.clone();
                edit(members.iter_mut().find(|m| m.name == *name).unwrap(), &inp);
                let a = Archive {
                    kind: out.kind,
                    members,
                };
                check_container("t", &inp, &a, &mut got);
            }
            Tamper::Enrolments(edit) => check_enrolments_xml("t", &m, &x, ie, &edit(oe), &mut got),
            Tamper::Roles(edit) => check_roles_xml("t", &m, ir, &edit(or), &mut got),
            Tamper::Groups(edit) => check_groups_xml("t", &m, ig, &edit(og), &mut got),
        }
        if clean && got.0.is_empty() {
            fails.add(format!("checker missed: {what}"));
        }
    }
    if !clean {
        fails.add(format!(
            "the real output of coh_group.mbz already fails: {:?}",
            base.0
        ));
    }
    fails.finish("tamper self-test");
}
