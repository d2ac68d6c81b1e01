//! Checks of the rewritten XML (`course/enrolments.xml`, `course/roles.xml`, `groups.xml`) against the input XML.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::*;

// ---------------------------------------------------------------------------------------------
// Checks of the rewritten XML against the input XML
// ---------------------------------------------------------------------------------------------

/// `<enrol>` fields that a retype sets to `$@NULL@$`.
pub(crate) fn nulled_field(name: &str) -> bool {
    let num = |p: &str, max: u32| {
        name.strip_prefix(p)
            .and_then(|n| n.parse::<u32>().ok())
            .is_some_and(|n| (1..=max).contains(&n))
    };
    name == "name"
        || name == "password"
        || num("customint", 8)
        || num("customchar", 3)
        || num("customdec", 2)
        || num("customtext", 4)
}

pub(crate) fn retyped_value(name: &str) -> Option<&'static str> {
    match name {
        "enrol" => Some("manual"),
        "status" => Some("0"),
        "enrolperiod" | "expirynotify" | "notifyall" | "enrolstartdate" | "enrolenddate" => {
            Some("0")
        }
        "expirythreshold" => Some("86400"),
        n if nulled_field(n) => Some(NULL),
        _ => None,
    }
}

/// Field elements of an `<enrol>`: children without child elements, other than `<user_enrolments>`.
pub(crate) fn fields(e: &El) -> Vec<&El> {
    e.children
        .iter()
        .filter(|c| c.children.is_empty() && c.name != "user_enrolments")
        .collect()
}

pub(crate) fn check_enrol_fields(
    label: &str,
    id: i64,
    retyped: bool,
    ie: &El,
    oe: &El,
    fails: &mut Fails,
) {
    let what = if retyped { "retyped" } else { "manual target" };
    let inames: Vec<&str> = fields(ie).iter().map(|c| c.name.as_str()).collect();
    let onames: Vec<&str> = fields(oe).iter().map(|c| c.name.as_str()).collect();
    if inames != onames {
        fails.add(format!(
            "{label}: {what} instance {id}: field elements changed: expected {inames:?}, got {onames:?}"
        ));
    }
    for of in fields(oe) {
        let orig = ie.leaf(&of.name).unwrap_or_default();
        let want = if retyped {
            retyped_value(&of.name).unwrap_or(orig)
        } else if of.name == "status" {
            "0"
        } else {
            orig
        };
        if of.text != want {
            fails.add(format!(
                "{label}: {what} instance {id} <{}>: expected {want:?}, got {:?} (input {orig:?})",
                of.name, of.text
            ));
        }
    }
    for c in oe
        .children
        .iter()
        .filter(|c| !c.children.is_empty() && c.name != "user_enrolments")
    {
        if retyped {
            fails.add(format!(
                "{label}: retyped instance {id}: plugin element <{}> not removed",
                c.name
            ));
        } else if !ie.children.iter().any(|i| i.name == c.name) {
            fails.add(format!(
                "{label}: manual target instance {id}: new element <{}>",
                c.name
            ));
        }
    }
    let n = oe.kids("user_enrolments").count();
    if n != 1 {
        fails.add(format!(
            "{label}: {what} instance {id}: {n} <user_enrolments> elements, expected 1"
        ));
    }
}

pub(crate) const UE_FIELDS: [&str; 6] = [
    "status",
    "userid",
    "timestart",
    "timeend",
    "modifierid",
    "timemodified",
];

/// Every `<enrolment>` carries the six fields, as bare integers, and an integer id.
pub(crate) fn check_enrolment_shape(label: &str, inst: i64, ue: &El, fails: &mut Fails) {
    let who = format!("{label}: instance {inst} enrolment id={:?}", ue.attr("id"));
    if ue.id().is_none() {
        fails.add(format!("{who}: id attribute is not an integer"));
    }
    let names: Vec<&str> = ue.children.iter().map(|c| c.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut want = UE_FIELDS.to_vec();
    want.sort_unstable();
    if sorted != want {
        fails.add(format!(
            "{who}: children {names:?}, expected exactly {UE_FIELDS:?}"
        ));
    }
    for c in &ue.children {
        if int(&c.text).is_none() {
            fails.add(format!(
                "{who}: <{}> is {:?}, not a bare integer",
                c.name, c.text
            ));
        }
    }
}

pub(crate) fn check_enrolments_xml(
    label: &str,
    m: &Model,
    x: &Expect,
    isrc: &str,
    osrc: &str,
    fails: &mut Fails,
) {
    let (iroot, oroot) = match (parse_xml(isrc), parse_xml(osrc)) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) => return fails.add(format!("{label}: input {ENROLMENTS}: {e}")),
        (_, Err(e)) => {
            return fails.add(format!(
                "{label}: output {ENROLMENTS} is not well-formed: {e}"
            ));
        }
    };
    if !x.any_converted() {
        if isrc != osrc {
            fails.add(format!(
                "{label}: {ENROLMENTS} changed although nothing is converted: {}",
                first_diff(isrc, osrc)
            ));
        }
        return;
    }
    let ie = enrols_of(&iroot);
    let oe = enrols_of(&oroot);
    let (a, b) = (without(isrc, &ie, false), without(osrc, &oe, false));
    if a != b {
        fails.add(format!(
            "{label}: {ENROLMENTS} outside the <enrol> records differs: {}",
            first_diff(&a, &b)
        ));
    }
    let iids: Vec<Option<i64>> = ie.iter().map(|e| e.id()).collect();
    let oids: Vec<Option<i64>> = oe.iter().map(|e| e.id()).collect();
    if iids != oids {
        fails.add(format!(
            "{label}: <enrol id> sequence changed: expected {iids:?}, got {oids:?}"
        ));
    }
    // Every input enrolment by id (to compare untouched ones byte for byte).
    let mut in_ues: BTreeMap<i64, &El> = BTreeMap::new();
    for e in &ie {
        for ue in enrolments_of(e) {
            if let Some(id) = ue.id() {
                in_ues.insert(id, ue);
            }
        }
    }
    for ((id, w), i_el) in x.insts.iter().zip(&ie) {
        let Some(o_el) = oe.iter().find(|e| e.id() == Some(*id)) else {
            fails.add(format!(
                "{label}: <enrol id=\"{id}\"> missing from the output"
            ));
            continue;
        };
        let plugin = i_el.leaf("enrol").unwrap_or_default();
        match w {
            InstWant::Unchanged => {
                if i_el.raw(isrc) != o_el.raw(osrc) {
                    fails.add(format!(
                        "{label}: instance {id} ({plugin}) is not converted and must be byte-identical: {}",
                        first_diff(i_el.raw(isrc), o_el.raw(osrc))
                    ));
                }
            }
            InstWant::Retyped { target } => {
                check_enrol_fields(label, *id, true, i_el, o_el, fails);
                if !target {
                    let n = enrolments_of(o_el).len();
                    if n != 0 {
                        fails.add(format!(
                            "{label}: retyped instance {id} (was {plugin}) should be emptied, has {n} enrolments"
                        ));
                    }
                }
            }
            InstWant::ManualTarget => check_enrol_fields(label, *id, false, i_el, o_el, fails),
        }
        if !matches!(
            w,
            InstWant::Retyped { target: true } | InstWant::ManualTarget
        ) {
            continue;
        }
        // The instance holding the merged enrolments: one per user, as computed.
        let mut by_user: BTreeMap<i64, Vec<&El>> = BTreeMap::new();
        for ue in enrolments_of(o_el) {
            check_enrolment_shape(label, *id, ue, fails);
            match ue.int("userid") {
                Some(u) => by_user.entry(u).or_default().push(ue),
                None => fails.add(format!("{label}: instance {id}: enrolment without userid")),
            }
        }
        for (u, want) in &x.users {
            let who = format!("{label}: target instance {id} {}", m.user(*u));
            let got = match by_user.get(u).map(Vec::as_slice) {
                None | Some([]) => {
                    fails.add(format!("{who}: no enrolment (expected {})", want.vals()));
                    continue;
                }
                Some([one]) => *one,
                Some(many) => {
                    fails.add(format!(
                        "{who}: {} enrolments, expected one ({})",
                        many.len(),
                        want.vals()
                    ));
                    continue;
                }
            };
            match want {
                Want::Original(ue) => {
                    let orig = in_ues[&ue.id];
                    if orig.raw(isrc) != got.raw(osrc) {
                        fails.add(format!(
                            "{who}: manual enrolment {} must be byte-identical: {}",
                            ue.id,
                            first_diff(orig.raw(isrc), got.raw(osrc))
                        ));
                    }
                }
                Want::Suspended(ue) => {
                    let orig = in_ues[&ue.id];
                    if got.id() != Some(ue.id) {
                        fails.add(format!(
                            "{who}: id: expected {}, got {:?}",
                            ue.id,
                            got.attr("id")
                        ));
                    }
                    for f in UE_FIELDS {
                        let exp = if f == "status" {
                            "1"
                        } else {
                            orig.leaf(f).unwrap_or_default()
                        };
                        let g = got.leaf(f).unwrap_or("<missing>");
                        if g != exp {
                            fails.add(format!(
                                "{who} <{f}> (enrolment of the formerly disabled manual instance): expected {exp}, got {g}"
                            ));
                        }
                    }
                }
                Want::Merged { vals, ids } => {
                    for (f, exp) in [
                        ("status", vals.status),
                        ("timestart", vals.ts),
                        ("timeend", vals.te),
                    ] {
                        let g = got.int(f);
                        if g != Some(exp) {
                            fails.add(format!(
                                "{who} <{f}>: expected {exp}, got {}",
                                got.leaf(f).unwrap_or("<missing>")
                            ));
                        }
                    }
                    if !got.id().is_some_and(|g| ids.contains(&g)) {
                        fails.add(format!(
                            "{who}: enrolment id {:?} is not one of the user's source enrolment ids {ids:?}",
                            got.attr("id")
                        ));
                    }
                }
            }
        }
        for (u, els) in &by_user {
            if !x.users.contains_key(u) {
                fails.add(format!(
                    "{label}: target instance {id} {}: unexpected enrolment(s) {:?}",
                    m.user(*u),
                    els.iter().map(|e| e.attr("id")).collect::<Vec<_>>()
                ));
            }
        }
    }
}

/// Leaf children of a record, in order, as (name, text).
pub(crate) fn leaves(e: &El) -> Vec<(&str, &str)> {
    e.children
        .iter()
        .map(|c| (c.name.as_str(), c.text.as_str()))
        .collect()
}

/// A record whose component was converted: `<component></component>`, `<itemid>0</itemid>`, all
/// else equal.
pub(crate) fn check_blanked(who: &str, i: &El, o: &El, osrc: &str, fails: &mut Fails) {
    let want: Vec<(&str, &str)> = leaves(i)
        .into_iter()
        .map(|(n, t)| match n {
            "component" => (n, ""),
            "itemid" => (n, "0"),
            _ => (n, t),
        })
        .collect();
    let got = leaves(o);
    if want != got {
        fails.add(format!("{who}: expected fields {want:?}, got {got:?}"));
    }
    if i.attrs != o.attrs {
        fails.add(format!(
            "{who}: attributes changed: {:?} -> {:?}",
            i.attrs, o.attrs
        ));
    }
    if !o.raw(osrc).contains("<component></component>") {
        fails.add(format!(
            "{who}: empty component not written as <component></component>"
        ));
    }
}

pub(crate) fn check_roles_xml(label: &str, m: &Model, isrc: &str, osrc: &str, fails: &mut Fails) {
    let (iroot, oroot) = match (parse_xml(isrc), parse_xml(osrc)) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) => return fails.add(format!("{label}: input {COURSE_ROLES}: {e}")),
        (_, Err(e)) => {
            return fails.add(format!(
                "{label}: output {COURSE_ROLES} is not well-formed: {e}"
            ));
        }
    };
    let ia = assignments_of(&iroot);
    let oa = assignments_of(&oroot);
    let ws = ia.len() != oa.len();
    let (a, b) = (without(isrc, &ia, ws), without(osrc, &oa, ws));
    if a != b {
        fails.add(format!(
            "{label}: {COURSE_ROLES} outside the <assignment> records differs: {}",
            first_diff(&a, &b)
        ));
    }
    let pos: BTreeMap<i64, usize> = ia
        .iter()
        .enumerate()
        .filter_map(|(n, e)| Some((e.id()?, n)))
        .collect();
    let mut last = None;
    let mut empty_pairs: BTreeMap<(i64, i64), Vec<i64>> = BTreeMap::new();
    let mut kept = BTreeSet::new();
    for o in &oa {
        let Some(id) = o.id() else {
            fails.add(format!(
                "{label}: {COURSE_ROLES}: assignment without integer id"
            ));
            continue;
        };
        let Some(&n) = pos.get(&id) else {
            fails.add(format!(
                "{label}: {COURSE_ROLES}: assignment {id} is not in the input"
            ));
            continue;
        };
        if last.is_some_and(|l| n <= l) {
            fails.add(format!(
                "{label}: {COURSE_ROLES}: assignment {id} out of input order"
            ));
        }
        last = Some(n);
        kept.insert(id);
        let i = ia[n];
        let user = m.user(i.int("userid").unwrap_or(-1));
        let comp = i.leaf("component").unwrap_or_default();
        let who = format!(
            "{label}: {COURSE_ROLES} assignment {id} ({user}, roleid {:?}, component {comp:?})",
            i.leaf("roleid")
        );
        if converted_component(comp) {
            check_blanked(&who, i, o, osrc, fails);
        } else if i.raw(isrc) != o.raw(osrc) {
            fails.add(format!(
                "{who}: must be byte-identical: {}",
                first_diff(i.raw(isrc), o.raw(osrc))
            ));
        }
        if o.leaf("component") == Some("") {
            let key = (o.int("roleid").unwrap_or(-1), o.int("userid").unwrap_or(-1));
            empty_pairs.entry(key).or_default().push(id);
        }
    }
    // Removed only: exact duplicates of a kept (roleid, userid) with empty component.
    let mut want_pairs: BTreeSet<(i64, i64)> = BTreeSet::new();
    for i in &ia {
        let comp = i.leaf("component").unwrap_or_default();
        let key = (i.int("roleid").unwrap_or(-1), i.int("userid").unwrap_or(-1));
        let blank = comp.is_empty() || converted_component(comp);
        if blank {
            want_pairs.insert(key);
        }
        let id = i.id().unwrap_or(-1);
        if !kept.contains(&id) && !blank {
            fails.add(format!(
                "{label}: {COURSE_ROLES} assignment {id} ({}, component {comp:?}) was removed",
                m.user(key.1)
            ));
        }
    }
    for key in &want_pairs {
        match empty_pairs.get(key).map(Vec::len).unwrap_or(0) {
            1 => {}
            n => fails.add(format!(
                "{label}: {COURSE_ROLES} {} roleid {}: {n} assignments with empty component, expected exactly 1",
                m.user(key.1),
                key.0
            )),
        }
    }
    for key in empty_pairs.keys().filter(|k| !want_pairs.contains(k)) {
        fails.add(format!(
            "{label}: {COURSE_ROLES}: unexpected empty-component pair {key:?}"
        ));
    }
}

pub(crate) fn check_groups_xml(label: &str, m: &Model, isrc: &str, osrc: &str, fails: &mut Fails) {
    let (iroot, oroot) = match (parse_xml(isrc), parse_xml(osrc)) {
        (Ok(i), Ok(o)) => (i, o),
        (Err(e), _) => return fails.add(format!("{label}: input {GROUPS}: {e}")),
        (_, Err(e)) => {
            return fails.add(format!("{label}: output {GROUPS} is not well-formed: {e}"));
        }
    };
    let im = members_of(&iroot);
    let om = members_of(&oroot);
    let ie: Vec<&El> = im.iter().map(|(_, e)| *e).collect();
    let oe: Vec<&El> = om.iter().map(|(_, e)| *e).collect();
    let (a, b) = (without(isrc, &ie, false), without(osrc, &oe, false));
    if a != b {
        fails.add(format!(
            "{label}: {GROUPS} outside the <group_member> records differs: {}",
            first_diff(&a, &b)
        ));
    }
    if im.len() != om.len() {
        fails.add(format!(
            "{label}: {GROUPS}: {} members in, {} out",
            im.len(),
            om.len()
        ));
    }
    for ((ig, i), (og, o)) in im.iter().zip(&om) {
        let user = m.user(i.int("userid").unwrap_or(-1));
        let comp = i.leaf("component").unwrap_or_default();
        let who = format!(
            "{label}: {GROUPS} group {ig} member {:?} ({user}, component {comp:?})",
            i.attr("id")
        );
        if ig != og || i.id() != o.id() {
            fails.add(format!(
                "{who}: position now holds group {og} member {:?}",
                o.attr("id")
            ));
            continue;
        }
        if converted_component(comp) {
            check_blanked(&who, i, o, osrc, fails);
        } else if i.raw(isrc) != o.raw(osrc) {
            fails.add(format!(
                "{who}: must be byte-identical: {}",
                first_diff(i.raw(isrc), o.raw(osrc))
            ));
        }
    }
}
