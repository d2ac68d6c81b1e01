//! Synthetic edge cases: fixture XML edited in memory, repacked as ustar tar.gz.

use std::collections::BTreeMap;
use std::path::Path;

use crate::util::shared;

use super::*;

// ---------------------------------------------------------------------------------------------
// Synthetic edge cases: fixture XML edited in memory, repacked as ustar tar.gz
// ---------------------------------------------------------------------------------------------

/// Replaces the text of leaf `field` in every `elname` element matching `pred`.
pub(crate) fn set_leaves(
    src: &str,
    elname: &str,
    pred: impl Fn(&El) -> bool,
    field: &str,
    value: &str,
) -> String {
    let root = parse_xml(src).unwrap();
    let mut els = Vec::new();
    root.all(elname, &mut els);
    let mut spans: Vec<(usize, usize)> = els
        .iter()
        .filter(|e| pred(e))
        .filter_map(|e| e.kid(field))
        .map(|f| (f.start, f.end))
        .collect();
    assert!(
        !spans.is_empty(),
        "synthetic edit: no <{elname}> with <{field}> matched"
    );
    spans.sort_unstable();
    let mut out = src.to_string();
    for (s, e) in spans.into_iter().rev() {
        out.replace_range(s..e, &format!("<{field}>{value}</{field}>"));
    }
    out
}

pub(crate) fn with_id(id: i64) -> impl Fn(&El) -> bool {
    move |e: &El| e.id() == Some(id)
}

/// Inserts `text` just before the end tag of the first `container` element inside the first
/// `elname` matching `pred` (or of the root's first `container` child when `elname` is the root).
pub(crate) fn insert_before_end(
    src: &str,
    elname: &str,
    pred: impl Fn(&El) -> bool,
    container: &str,
    text: &str,
) -> String {
    let root = parse_xml(src).unwrap();
    let mut els = Vec::new();
    root.all(elname, &mut els);
    let host = els
        .into_iter()
        .find(|e| pred(e))
        .expect("synthetic edit: host element");
    let c = host
        .kid(container)
        .expect("synthetic edit: container element");
    let at = c.end - format!("</{container}>").len();
    let mut out = src.to_string();
    out.insert_str(at, text);
    out
}

pub(crate) fn ue_xml(id: i64, userid: i64, status: i64, ts: i64, te: i64) -> String {
    format!(
        "  <enrolment id=\"{id}\">\n          <status>{status}</status>\n          <userid>{userid}</userid>\n          \
         <timestart>{ts}</timestart>\n          <timeend>{te}</timeend>\n          <modifierid>2</modifierid>\n          \
         <timemodified>1795273328</timemodified>\n        </enrolment>\n      "
    )
}

pub(crate) fn write_tgz(path: &Path, members: &[Member]) {
    let file = std::fs::File::create(path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    let body: Vec<&Member> = members.iter().filter(|m| m.name != INDEX).collect();
    let mut idx = format!("{INDEX_PREFIX}{}\n", body.len());
    for m in &body {
        if m.dir {
            idx.push_str(&format!("{}\td\t0\t?\n", m.name));
        } else {
            idx.push_str(&format!("{}\tf\t{}\t{}\n", m.name, m.data.len(), m.mtime));
        }
    }
    let mut append = |name: &str, data: &[u8], mode: u32, mtime: u64, dir: bool| {
        let mut h = tar::Header::new_ustar();
        assert!(name.len() < 100, "synthetic member name too long: {name}");
        // Raw name bytes: `set_path` would drop the trailing `/` of directory names.
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_mode(mode);
        h.set_mtime(mtime);
        h.set_size(data.len() as u64);
        h.set_entry_type(if dir {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        });
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    append(INDEX, idx.as_bytes(), 0o644, 1_356_998_400, false);
    for m in body {
        append(&m.name, &m.data, m.mode & 0o7777, m.mtime, m.dir);
    }
    b.into_inner().unwrap().finish().unwrap();
}

/// Runs every generic check on a synthetic case and returns the output's enrolments by user in
/// the target instance, for the explicit expectations.
pub(crate) fn check_synthetic(
    label: &str,
    members: &[Member],
    work: &Path,
    fails: &mut Fails,
) -> Option<(TargetUsers, Semantic)> {
    let input = work.join(format!("{label}.mbz"));
    write_tgz(&input, members);
    let inp = read_archive(&input).unwrap();
    assert!(index_errors(&inp).is_empty(), "synthetic input index");
    let m = model_from_archive(&inp).unwrap_or_else(|e| panic!("{label}: synthetic input: {e}"));
    let out_path = work.join(format!("{label}.out.mbz"));
    let r = convert(&input, &out_path, false);
    if !r.status.success() {
        fails.add(format!(
            "{label}: convert exited with {:?}: {}",
            r.status.code(),
            String::from_utf8_lossy(&r.stderr).trim()
        ));
        return None;
    }
    let out = match read_archive(&out_path) {
        Ok(a) => a,
        Err(e) => {
            fails.add(format!("{label}: output: {e}"));
            return None;
        }
    };
    let x = expect(&m);
    check_container(label, &inp, &out, fails);
    check_enrolments_xml(
        label,
        &m,
        &x,
        inp.text(ENROLMENTS).unwrap(),
        out.text(ENROLMENTS).unwrap(),
        fails,
    );
    check_roles_xml(
        label,
        &m,
        inp.text(COURSE_ROLES).unwrap(),
        out.text(COURSE_ROLES).unwrap(),
        fails,
    );
    check_groups_xml(
        label,
        &m,
        inp.text(GROUPS).unwrap(),
        out.text(GROUPS).unwrap(),
        fails,
    );
    let again = work.join(format!("{label}.again.mbz"));
    let r = convert(&out_path, &again, false);
    if !r.status.success() || std::fs::read(&again).ok() != std::fs::read(&out_path).ok() {
        fails.add(format!(
            "{label}: converting the output again is not a no-op (exit {:?})",
            r.status.code()
        ));
    }
    let parsed = out
        .text(ENROLMENTS)
        .and_then(parse_xml)
        .and_then(|root| semantic_of(&root).map(|sem| (root, sem)));
    let (root, sem) = match parsed {
        Ok(v) => v,
        Err(e) => {
            fails.add(format!("{label}: output {ENROLMENTS}: {e}"));
            return None;
        }
    };
    let mut users = BTreeMap::new();
    if let Some(t) = x.target {
        let Some(e) = enrols_of(&root).into_iter().find(|e| e.id() == Some(t)) else {
            fails.add(format!(
                "{label}: target instance {t} missing from the output"
            ));
            return None;
        };
        for ue in enrolments_of(e) {
            if let Ok(u) = ue_from_xml(ue) {
                users.insert(u.userid, (u.id, u.vals));
            }
        }
    }
    Some((users, sem))
}

/// userid -> (enrolment id, values) in the target instance of an output.
pub(crate) type TargetUsers = BTreeMap<i64, (i64, Vals)>;

pub(crate) fn want_user(
    label: &str,
    users: &TargetUsers,
    user: i64,
    want: Vals,
    why: &str,
    fails: &mut Fails,
) {
    match users.get(&user) {
        Some((_, got)) if *got == want => {}
        Some((id, got)) => fails.add(format!(
            "{label}: user {user} ({why}): expected {want}, got {got} (enrolment id {id})"
        )),
        None => fails.add(format!(
            "{label}: user {user} ({why}): no enrolment in the target instance"
        )),
    }
}

pub(crate) fn replace_member(members: &mut [Member], name: &str, text: String) {
    let m = members.iter_mut().find(|m| m.name == name).unwrap();
    m.data = text.into_bytes();
}

/// Overlaps that the corpus lacks: a user in manual + cohort, in disabled instances, in several
/// converted instances, suspended sources, non-student roles with end dates, meta and database
/// instances, a plugin element, non-default fields, a duplicate role; no manual instance; a
/// disabled manual instance. Values below are worked out by hand from the rules.
#[test]
fn rules_synthetic_overlaps_follow_the_rules() {
    let Some(dir) = shared("moodle43") else {
        return;
    };
    let base = read_archive(&dir.join("coh_group.mbz")).unwrap();
    let work = crate::util::tempdir();
    let mut fails = Fails::default();
    let enr0 = base.text(ENROLMENTS).unwrap().to_string();
    let roles0 = base.text(COURSE_ROLES).unwrap().to_string();
    let groups0 = base.text(GROUPS).unwrap().to_string();
    let is_enrol = |id: i64| move |e: &El| e.id() == Some(id) && e.name == "enrol";

    // --- Scenario A: overlaps, with the existing manual instance 233 as target.
    let mut e = enr0.clone();
    // 235 (self, disabled) becomes an enabled database instance; 237 a disabled meta instance.
    e = set_leaves(&e, "enrol", is_enrol(235), "enrol", "database");
    e = set_leaves(&e, "enrol", is_enrol(235), "status", "0");
    e = set_leaves(&e, "enrol", is_enrol(237), "enrol", "meta");
    e = set_leaves(&e, "enrol", is_enrol(237), "status", "1");
    e = set_leaves(&e, "enrol", is_enrol(237), "customint1", "12");
    // 236 (cohort) gets non-default fields and a plugin element.
    for (f, v) in [
        ("password", "pw"),
        ("customtext1", "hello"),
        ("customint3", "5"),
        ("enrolperiod", "3600"),
        ("expirynotify", "1"),
        ("notifyall", "1"),
        ("expirythreshold", "172800"),
        ("enrolstartdate", "1700000000"),
        ("enrolenddate", "1900000000"),
    ] {
        e = set_leaves(&e, "enrol", is_enrol(236), f, v);
    }
    {
        let root = parse_xml(&e).unwrap();
        let host = enrols_of(&root)
            .into_iter()
            .find(|x| x.id() == Some(236))
            .unwrap();
        let at = host.kid("user_enrolments").unwrap().start;
        e.insert_str(
            at,
            "<tool id=\"9\">\n        <enrolid>236</enrolid>\n        <secret>s3cret</secret>\n      </tool>\n      ",
        );
    }
    // 68: manual (ts 1725148800, te 0) + active cohort -> combined, student -> stamped.
    e = insert_before_end(
        &e,
        "enrol",
        is_enrol(236),
        "user_enrolments",
        &ue_xml(90001, 68, 0, 1_700_000_000, 1_800_000_000),
    );
    // 69: manual + enrolment in the disabled meta instance -> suspended result: manual kept as is.
    e = insert_before_end(
        &e,
        "enrol",
        is_enrol(237),
        "user_enrolments",
        &ue_xml(90002, 69, 0, 1_600_000_000, 0),
    );
    // 40: cohort (1500000000..1550000000) + disabled meta (earlier start, no end): only the active one counts.
    e = set_leaves(&e, "enrolment", with_id(6072), "timestart", "1500000000");
    e = set_leaves(&e, "enrolment", with_id(6072), "timeend", "1550000000");
    e = insert_before_end(
        &e,
        "enrol",
        is_enrol(237),
        "user_enrolments",
        &ue_xml(90003, 40, 0, 1_400_000_000, 0),
    );
    // 72 (editingteacher): manual (1723680000, 0) + cohort (1600000000, 1750000000) -> (1600000000, 0).
    e = insert_before_end(
        &e,
        "enrol",
        is_enrol(236),
        "user_enrolments",
        &ue_xml(90004, 72, 0, 1_600_000_000, 1_750_000_000),
    );
    // 41 (made editingteacher): cohort (1700000000, 1760000000), not stamped.
    e = set_leaves(&e, "enrolment", with_id(6073), "timestart", "1700000000");
    e = set_leaves(&e, "enrolment", with_id(6073), "timeend", "1760000000");
    // 42: only source suspended (1710000000, 1720000000) -> suspended, student -> stamped end.
    e = set_leaves(&e, "enrolment", with_id(6074), "status", "1");
    e = set_leaves(&e, "enrolment", with_id(6074), "timestart", "1710000000");
    e = set_leaves(&e, "enrolment", with_id(6074), "timeend", "1720000000");
    // 43 (made editingteacher): cohort (1660000000, 1780000000) + database (1650000000, 1790000000).
    e = set_leaves(&e, "enrolment", with_id(6075), "timestart", "1660000000");
    e = set_leaves(&e, "enrolment", with_id(6075), "timeend", "1780000000");
    e = insert_before_end(
        &e,
        "enrol",
        is_enrol(235),
        "user_enrolments",
        &ue_xml(90005, 43, 0, 1_650_000_000, 1_790_000_000),
    );
    // 44 (made editingteacher): cohort (0, 1770000000) + suspended database (0, 0): end 1770000000.
    e = set_leaves(&e, "enrolment", with_id(6076), "timeend", "1770000000");
    e = insert_before_end(
        &e,
        "enrol",
        is_enrol(235),
        "user_enrolments",
        &ue_xml(90006, 44, 1, 0, 0),
    );
    let mut r = roles0.clone();
    let comp_237 = |x: &El| x.int("itemid") == Some(237);
    r = set_leaves(&r, "assignment", comp_237, "component", "enrol_meta");
    for uid in [41, 43, 44] {
        r = set_leaves(
            &r,
            "assignment",
            move |x: &El| x.int("userid") == Some(uid),
            "roleid",
            "3",
        );
    }
    // Duplicate once blanked: 68 already holds a manual student role.
    r = insert_before_end(
        &r,
        "roles",
        |_| true,
        "role_assignments",
        "  <assignment id=\"99001\">\n      <roleid>5</roleid>\n      <userid>68</userid>\n      \
         <timemodified>1795273328</timemodified>\n      <modifierid>2</modifierid>\n      \
         <component>enrol_cohort</component>\n      <itemid>236</itemid>\n      <sortorder>0</sortorder>\n    \
         </assignment>\n  ",
    );
    let g = set_leaves(
        &groups0,
        "group_member",
        comp_237,
        "component",
        "enrol_meta",
    );
    let mut members = base.members.clone();
    replace_member(&mut members, ENROLMENTS, e);
    replace_member(&mut members, COURSE_ROLES, r);
    replace_member(&mut members, GROUPS, g);
    if let Some((users, sem)) =
        check_synthetic("synthetic_overlaps", &members, work.path(), &mut fails)
    {
        let l = "synthetic_overlaps";
        let v = |status, ts, te| Vals { status, ts, te };
        want_user(
            l,
            &users,
            68,
            v(0, 1_700_000_000, UNTIL),
            "manual+cohort, student",
            &mut fails,
        );
        want_user(
            l,
            &users,
            69,
            v(0, 1_725_148_800, 0),
            "manual kept, only disabled source",
            &mut fails,
        );
        want_user(
            l,
            &users,
            40,
            v(0, 1_500_000_000, UNTIL),
            "active cohort wins over disabled meta",
            &mut fails,
        );
        want_user(
            l,
            &users,
            72,
            v(0, 1_600_000_000, 0),
            "teacher manual+cohort, 0 wins",
            &mut fails,
        );
        want_user(
            l,
            &users,
            41,
            v(0, 1_700_000_000, 1_760_000_000),
            "teacher keeps computed end",
            &mut fails,
        );
        want_user(
            l,
            &users,
            42,
            v(1, 1_710_000_000, UNTIL),
            "suspended only source, stamped",
            &mut fails,
        );
        want_user(
            l,
            &users,
            43,
            v(0, 1_650_000_000, 1_790_000_000),
            "two active sources",
            &mut fails,
        );
        want_user(
            l,
            &users,
            44,
            v(0, 0, 1_770_000_000),
            "suspended database ignored",
            &mut fails,
        );
        want_user(
            l,
            &users,
            45,
            v(0, 0, UNTIL),
            "plain cohort student",
            &mut fails,
        );
        want_user(
            l,
            &users,
            60,
            v(1, 0, UNTIL),
            "only in disabled meta",
            &mut fails,
        );
        want_user(
            l,
            &users,
            71,
            v(0, 1_725_148_800, 1_738_281_600),
            "manual only, untouched",
            &mut fails,
        );
        for (id, plugin, n) in [
            (233, "manual", 33),
            (234, "guest", 0),
            (235, "manual", 0),
            (236, "manual", 0),
            (237, "manual", 0),
        ] {
            match sem.get(&id) {
                Some((p, s, u)) if p == plugin && u.len() == n && (*s == 0 || id == 234) => {}
                other => fails.add(format!(
                    "{l}: instance {id}: expected {plugin} with {n} users (enabled), got {:?}",
                    other.map(|(p, s, u)| (p, s, u.len()))
                )),
            }
        }
    }

    // --- Scenario B: no manual instance: the first converted instance (236) holds the merge.
    let mut e = enr0.clone();
    {
        let root = parse_xml(&e).unwrap();
        let manual = enrols_of(&root)
            .into_iter()
            .find(|x| x.id() == Some(233))
            .unwrap();
        e.replace_range(manual.outer..manual.end, "");
    }
    e = set_leaves(&e, "enrolment", with_id(6072), "timeend", "1550000000");
    let mut members = base.members.clone();
    replace_member(&mut members, ENROLMENTS, e);
    if let Some((users, sem)) =
        check_synthetic("synthetic_no_manual", &members, work.path(), &mut fails)
    {
        let l = "synthetic_no_manual";
        let v = |status, ts, te| Vals { status, ts, te };
        want_user(
            l,
            &users,
            40,
            v(0, 0, UNTIL),
            "cohort A student",
            &mut fails,
        );
        want_user(
            l,
            &users,
            60,
            v(0, 0, UNTIL),
            "cohort B student, merged into 236",
            &mut fails,
        );
        if users.len() != 28 {
            fails.add(format!(
                "{l}: target 236 should hold the 28 cohort users, holds {}",
                users.len()
            ));
        }
        if sem
            .get(&237)
            .is_none_or(|(p, s, u)| p != "manual" || *s != 0 || !u.is_empty())
        {
            fails.add(format!(
                "{l}: 237 should be an empty enabled manual instance: {:?}",
                sem.get(&237)
            ));
        }
    }

    // --- Scenario C: the existing manual instance is disabled.
    let e = set_leaves(&enr0, "enrol", is_enrol(233), "status", "1");
    let mut members = base.members.clone();
    replace_member(&mut members, ENROLMENTS, e);
    if let Some((users, sem)) = check_synthetic(
        "synthetic_manual_disabled",
        &members,
        work.path(),
        &mut fails,
    ) {
        let l = "synthetic_manual_disabled";
        let v = |status, ts, te| Vals { status, ts, te };
        want_user(
            l,
            &users,
            68,
            v(1, 1_725_148_800, 0),
            "active manual, instance was disabled",
            &mut fails,
        );
        want_user(
            l,
            &users,
            71,
            v(1, 1_725_148_800, 1_738_281_600),
            "active manual with end, instance was disabled",
            &mut fails,
        );
        want_user(l, &users, 45, v(0, 0, UNTIL), "cohort student", &mut fails);
        if sem.get(&233).is_none_or(|(_, s, _)| *s != 0) {
            fails.add(format!("{l}: manual instance 233 should become enabled"));
        }
    }
    fails.finish("synthetic overlap scenarios");
}

/// Where the rules meet: the existing manual instance is disabled AND some of its users also have
/// converted enrolments. The spec's sentences overlap here; this checker reads them as: a user
/// whose converted result is active is active, with the converted times only (a manual enrolment in
/// a disabled instance gives no access, so its times widen nothing); a user whose converted result is suspended keeps the manual element except that an
/// active one gets status 1 (the instance-disabled rule wins over "stays exactly as it is").
#[test]
fn rules_synthetic_disabled_manual_with_overlaps() {
    let Some(dir) = shared("moodle43") else {
        return;
    };
    let base = read_archive(&dir.join("coh_group.mbz")).unwrap();
    let work = crate::util::tempdir();
    let mut fails = Fails::default();
    let is_enrol = |id: i64| move |e: &El| e.id() == Some(id) && e.name == "enrol";
    let mut e = base.text(ENROLMENTS).unwrap().to_string();
    e = set_leaves(&e, "enrol", is_enrol(233), "status", "1");
    e = set_leaves(&e, "enrol", is_enrol(237), "status", "1");
    e = insert_before_end(
        &e,
        "enrol",
        is_enrol(236),
        "user_enrolments",
        &ue_xml(90001, 68, 0, 1_700_000_000, 1_800_000_000),
    );
    e = insert_before_end(
        &e,
        "enrol",
        is_enrol(237),
        "user_enrolments",
        &ue_xml(90002, 69, 0, 1_600_000_000, 0),
    );
    let mut members = base.members.clone();
    replace_member(&mut members, ENROLMENTS, e);
    let l = "synthetic_disabled_manual_overlaps";
    if let Some((users, _)) = check_synthetic(l, &members, work.path(), &mut fails) {
        let v = |status, ts, te| Vals { status, ts, te };
        want_user(
            l,
            &users,
            68,
            v(0, 1_700_000_000, UNTIL),
            "[interpretation] disabled manual + active cohort",
            &mut fails,
        );
        want_user(
            l,
            &users,
            69,
            v(1, 1_725_148_800, 0),
            "[interpretation] disabled manual + disabled cohort",
            &mut fails,
        );
        want_user(
            l,
            &users,
            70,
            v(1, 1_725_148_800, 0),
            "disabled manual only",
            &mut fails,
        );
        want_user(
            l,
            &users,
            60,
            v(1, 0, UNTIL),
            "only in a disabled cohort",
            &mut fails,
        );
    }
    fails.finish("synthetic: disabled manual instance with overlapping users");
}
