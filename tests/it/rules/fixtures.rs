//! Tests over every fixture: the checker itself, exit codes and summaries, per-user enrolments, role assignments
//! and group members, containers, determinism and idempotence, nothing to convert.

use serde_json::Value;

use crate::util::mbz_files;
use crate::util::shared;
use crate::util::truth_of;

use super::*;

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

/// Self-test of this checker (does not need the binary): our readers parse every fixture, its XML
/// agrees with the truth file, the expectations from both sources agree, and input indexes are valid.
#[test]
fn rules_until_epoch_is_the_next_paris_midnight() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    assert_eq!(UNTIL, 1_819_749_600, "2027-09-01T00:00:00+02:00");
    assert_eq!(
        days_from_civil(2026, 9, 1) * 86_400 - 7_200,
        1_788_213_600,
        "one year earlier"
    );
}

#[test]
fn rules_checker_reads_fixtures_consistently_with_truth() {
    let Some(dir) = shared("moodle43") else {
        return;
    };
    let mut fails = Fails::default();
    let files = mbz_files(&dir);
    assert!(
        files.len() >= 20,
        "expected the moodle43 corpus, found {} archives",
        files.len()
    );
    for input in files {
        let label = input.strip_prefix(&dir).unwrap().display().to_string();
        let a = match read_archive(&input) {
            Ok(a) => a,
            Err(e) => {
                fails.add(format!("{label}: {e}"));
                continue;
            }
        };
        if a.kind == Kind::Tgz {
            for e in index_errors(&a) {
                fails.add(format!("{label} (input): {e}"));
            }
        }
        let truth = match read_truth(&truth_of(&input)) {
            Ok(t) => model_from_truth(&t),
            Err(e) => {
                fails.add(format!("{label}: {e}"));
                continue;
            }
        };
        let xml = match model_from_archive(&a) {
            Ok(m) => m,
            Err(e) => {
                fails.add(format!("{label}: {e}"));
                continue;
            }
        };
        let key = |m: &Model| -> Vec<(i64, String, i64, i64, usize)> {
            m.insts
                .iter()
                .map(|i| (i.id, i.plugin.clone(), i.status, i.roleid, i.ues.len()))
                .collect()
        };
        if key(&xml) != key(&truth) {
            fails.add(format!(
                "{label}: instances in XML {:?} differ from truth {:?}",
                key(&xml),
                key(&truth)
            ));
        }
        let (ex, et) = (expect(&xml), expect(&truth));
        let (sx, st) = (semantic_expected(&xml, &ex), semantic_expected(&truth, &et));
        compare_semantic(
            &label,
            "[xml vs truth expectation]",
            &truth,
            &st,
            &sx,
            &mut fails,
        );
        if expected_ras(&xml.ras) != expected_ras(&truth.ras) {
            fails.add(format!("{label}: role assignments in XML and truth differ"));
        }
        if expected_gms(&xml.gms) != expected_gms(&truth.gms) {
            fails.add(format!("{label}: group members in XML and truth differ"));
        }
        for name in [ENROLMENTS, COURSE_ROLES, GROUPS] {
            let src = a.text(name).unwrap();
            let root = parse_xml(src).unwrap();
            let mut all = Vec::new();
            root.all(&root.name, &mut all);
            for el in ["enrol", "assignment", "group_member", "enrolment"] {
                let mut v = Vec::new();
                root.all(el, &mut v);
                for e in v {
                    if !src[e.start..].starts_with('<') || !src[..e.end].ends_with('>') {
                        fails.add(format!("{label}: {name}: bad span for <{el}>"));
                    }
                }
            }
            // Removing nothing gives the document back; the identity comparison works.
            if without(src, &[], true) != src {
                fails.add(format!(
                    "{label}: {name}: span stripping is not the identity"
                ));
            }
        }
    }
    fails.finish("checker self-test on the fixtures");
}

#[test]
fn rules_convert_exits_zero_with_summaries() {
    let Some(cases) = cases() else { return };
    let mut fails = Fails::default();
    for c in cases {
        if !c.run1.status.success() {
            fails.add(format!(
                "{}: convert exited with {:?}; stderr: {}",
                c.label,
                c.run1.status.code(),
                String::from_utf8_lossy(&c.run1.stderr).trim()
            ));
            continue;
        }
        if String::from_utf8_lossy(&c.run1.stderr).trim().is_empty() {
            fails.add(format!(
                "{}: convert printed no human summary on stderr",
                c.label
            ));
        }
        if !c.run2.status.success() {
            fails.add(format!(
                "{}: convert --json exited with {:?}",
                c.label,
                c.run2.status.code()
            ));
        } else if let Err(e) = serde_json::from_slice::<Value>(&c.run2.stdout) {
            fails.add(format!(
                "{}: convert --json stdout is not JSON ({e}): {:?}",
                c.label,
                String::from_utf8_lossy(&c.run2.stdout)
            ));
        }
    }
    fails.finish("convert exit status and summaries");
}

#[test]
fn rules_enrolments_per_user_match_xml_and_truth() {
    let Some(cases) = cases() else { return };
    let mut fails = Fails::default();
    for c in cases {
        let Some((inp, out)) = converted(c, &mut fails) else {
            continue;
        };
        let (isrc, osrc) = match (inp.text(ENROLMENTS), out.text(ENROLMENTS)) {
            (Ok(i), Ok(o)) => (i, o),
            (i, o) => {
                fails.add(format!("{}: {:?} / {:?}", c.label, i.err(), o.err()));
                continue;
            }
        };
        let xml = match model_from_archive(&inp) {
            Ok(m) => m,
            Err(e) => {
                fails.add(format!("{}: input: {e}", c.label));
                continue;
            }
        };
        let truth = match read_truth(&c.truth) {
            Ok(t) => model_from_truth(&t),
            Err(e) => {
                fails.add(format!("{}: {e}", c.label));
                continue;
            }
        };
        let mut named = xml.clone();
        named.usernames = truth.usernames.clone();
        // Against the input XML: structure, untouched bytes, retyped fields, per-user values.
        check_enrolments_xml(&c.label, &named, &expect(&xml), isrc, osrc, &mut fails);
        // Against the database state at backup time.
        match parse_xml(osrc).and_then(|r| semantic_of(&r)) {
            Ok(got) => {
                let want = semantic_expected(&truth, &expect(&truth));
                compare_semantic(&c.label, "[truth]", &truth, &want, &got, &mut fails);
            }
            Err(e) => fails.add(format!("{}: output {ENROLMENTS}: {e}", c.label)),
        }
    }
    fails.finish("enrolments.xml per-user rules");
}

#[test]
fn rules_role_assignments_and_group_members() {
    let Some(cases) = cases() else { return };
    let mut fails = Fails::default();
    for c in cases {
        let Some((inp, out)) = converted(c, &mut fails) else {
            continue;
        };
        let truth = match read_truth(&c.truth) {
            Ok(t) => model_from_truth(&t),
            Err(e) => {
                fails.add(format!("{}: {e}", c.label));
                continue;
            }
        };
        let label = c.label.as_str();
        match (inp.text(COURSE_ROLES), out.text(COURSE_ROLES)) {
            (Ok(i), Ok(o)) => check_roles_xml(label, &truth, i, o, &mut fails),
            (i, o) => fails.add(format!("{label}: {:?} / {:?}", i.err(), o.err())),
        }
        match (inp.text(GROUPS), out.text(GROUPS)) {
            (Ok(i), Ok(o)) => check_groups_xml(label, &truth, i, o, &mut fails),
            _ if inp.get(GROUPS).is_none() && out.get(GROUPS).is_none() => {}
            (i, o) => fails.add(format!("{label}: {:?} / {:?}", i.err(), o.err())),
        }
        // Against the truth: assignments and memberships with components rewritten.
        match model_from_archive(&out) {
            Ok(got) => {
                let want = expected_ras(&truth.ras);
                let mut got_ras: Vec<(i64, i64, String, i64)> = got
                    .ras
                    .iter()
                    .map(|r| (r.roleid, r.userid, r.component.clone(), r.itemid))
                    .collect();
                got_ras.sort();
                if want != got_ras {
                    for w in want.iter().filter(|w| !got_ras.contains(w)) {
                        fails.add(format!(
                            "{label}: [truth] role assignment missing for {}: roleid {} component {:?} itemid {}",
                            truth.user(w.1),
                            w.0,
                            w.2,
                            w.3
                        ));
                    }
                    for g in got_ras.iter().filter(|g| !want.contains(g)) {
                        fails.add(format!(
                            "{label}: [truth] unexpected role assignment for {}: roleid {} component {:?} itemid {}",
                            truth.user(g.1),
                            g.0,
                            g.2,
                            g.3
                        ));
                    }
                    if want.len() != got_ras.len() {
                        fails.add(format!(
                            "{label}: [truth] {} role assignments expected, {} in output",
                            want.len(),
                            got_ras.len()
                        ));
                    }
                }
                let (want, mut have) = (expected_gms(&truth.gms), got.gms.clone());
                have.sort();
                for w in want.iter().filter(|w| !have.contains(w)) {
                    fails.add(format!(
                        "{label}: [truth] group member missing or wrong for {}: {w:?}",
                        truth.user(w.userid)
                    ));
                }
                for g in have.iter().filter(|g| !want.contains(g)) {
                    fails.add(format!(
                        "{label}: [truth] unexpected group member for {}: {g:?}",
                        truth.user(g.userid)
                    ));
                }
            }
            Err(e) => fails.add(format!("{label}: output: {e}")),
        }
    }
    fails.finish("course/roles.xml and groups.xml rules");
}

#[test]
fn rules_container_members_headers_and_index() {
    let Some(cases) = cases() else { return };
    let mut fails = Fails::default();
    for c in cases {
        let Some((inp, out)) = converted(c, &mut fails) else {
            continue;
        };
        let magic = std::fs::read(&c.out)
            .map(|b| b[..b.len().min(2)].to_vec())
            .unwrap_or_default();
        let want: &[u8] = if inp.kind == Kind::Tgz {
            &[0x1f, 0x8b]
        } else {
            b"PK"
        };
        if magic != want {
            fails.add(format!(
                "{}: output magic {magic:02x?}, expected {want:02x?}",
                c.label
            ));
        }
        check_container(&c.label, &inp, &out, &mut fails);
    }
    fails.finish("container: members, headers, index");
}

#[test]
fn rules_deterministic_and_idempotent() {
    let Some(cases) = cases() else { return };
    let mut fails = Fails::default();
    for c in cases {
        if !c.run1.status.success() || !c.run2.status.success() {
            fails.add(format!(
                "{}: convert failed ({:?} / {:?})",
                c.label,
                c.run1.status.code(),
                c.run2.status.code()
            ));
            continue;
        }
        let b1 = std::fs::read(&c.out).unwrap_or_default();
        let b2 = std::fs::read(&c.out2).unwrap_or_default();
        if b1 != b2 {
            let detail = match (read_archive(&c.out), read_archive(&c.out2)) {
                (Ok(a), Ok(b)) => member_diff(&a, &b),
                (a, b) => format!("{:?} / {:?}", a.err(), b.err()),
            };
            fails.add(format!(
                "{}: two conversions of the same input differ: {detail}",
                c.label
            ));
        }
        match &c.run3 {
            Some(r) if r.status.success() => {
                let b3 = std::fs::read(&c.out3).unwrap_or_default();
                if b1 != b3 {
                    let detail = match (read_archive(&c.out), read_archive(&c.out3)) {
                        (Ok(a), Ok(b)) => member_diff(&a, &b),
                        (a, b) => format!("{:?} / {:?}", a.err(), b.err()),
                    };
                    fails.add(format!(
                        "{}: converting the output again changes it: {detail}",
                        c.label
                    ));
                }
            }
            Some(r) => fails.add(format!(
                "{}: converting the output again exited with {:?}: {}",
                c.label,
                r.status.code(),
                String::from_utf8_lossy(&r.stderr).trim()
            )),
            None => {}
        }
    }
    fails.finish("determinism and idempotence");
}

#[test]
fn rules_nothing_to_convert_is_a_member_level_noop() {
    let Some(cases) = cases() else { return };
    let mut fails = Fails::default();
    let mut seen = 0;
    for c in cases {
        let Ok(inp) = read_archive(&c.input) else {
            continue;
        };
        let Ok(m) = model_from_archive(&inp) else {
            continue;
        };
        if m.insts.iter().any(|i| converted_plugin(&i.plugin)) {
            continue;
        }
        seen += 1;
        let Some((inp, out)) = converted(c, &mut fails) else {
            continue;
        };
        let iname: Vec<&str> = inp.members.iter().map(|m| m.name.as_str()).collect();
        let oname: Vec<&str> = out.members.iter().map(|m| m.name.as_str()).collect();
        if iname != oname {
            fails.add(format!(
                "{}: member list changed: {iname:?} -> {oname:?}",
                c.label
            ));
        }
        for (i, o) in inp.members.iter().zip(&out.members) {
            if i.data != o.data {
                fails.add(format!(
                    "{}: {} changed although nothing is converted",
                    c.label, i.name
                ));
            }
            if i.kind_meta() != o.kind_meta() {
                fails.add(format!(
                    "{}: {}: metadata (dir, mode, mtime) {:?} -> {:?}",
                    c.label,
                    i.name,
                    i.kind_meta(),
                    o.kind_meta()
                ));
            }
        }
    }
    if seen == 0 {
        fails.add("no fixture without convertible instances (noconvert.mbz) was found");
    }
    fails.finish("no-op conversion");
}

impl Member {
    pub(crate) fn kind_meta(&self) -> (bool, u32, u64) {
        (self.dir, self.mode & 0o7777, self.mtime)
    }
}
