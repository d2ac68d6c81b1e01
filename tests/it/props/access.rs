//! Access never grows: per-user bounds over generated enrolment sets.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Access never grows.
// ---------------------------------------------------------------------------------------------------------

/// An end as an upper bound: 0 is unlimited.
pub(crate) fn end_key(end: i64) -> i64 {
    if end == 0 { i64::MAX } else { end }
}

/// One user's enrolments before and after, in the instances that take part in the conversion (manual and
/// converted ones).
#[derive(Debug, Default)]
pub(crate) struct UserView {
    /// (effective: own status 0 and instance status 0, from a converted instance, the enrolment).
    pub(crate) before: Vec<(bool, bool, PUe)>,
    /// (effective, the enrolment).
    pub(crate) after: Vec<(bool, PUe)>,
}

/// The per-user views, the users holding a stamped role, and the structural checks every conversion must pass:
/// untouched instances stay byte-identical, converted ones become manual, ids keep their order.
pub(crate) fn views(
    before: &Texts,
    after: &Texts,
    o: &Options,
) -> Result<(BTreeMap<i64, UserView>, BTreeSet<i64>), TestCaseError> {
    let b = parse_enrolments(&before.enrolments);
    let a = parse_enrolments(&after.enrolments);
    let ids = |v: &[PInst]| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    prop_assert_eq!(ids(&b), ids(&a), "every <enrol id> kept, in order");
    let converted = |p: &str| p != "manual" && o.from.iter().any(|f| f == p);
    let mut users: BTreeMap<i64, UserView> = BTreeMap::new();
    for (ib, ia) in b.iter().zip(&a) {
        let conv = converted(&ib.plugin);
        if ib.plugin != "manual" && !conv {
            prop_assert_eq!(&ib.text, &ia.text, "an instance not converted is untouched");
            continue;
        }
        prop_assert_eq!(
            &ia.plugin,
            "manual",
            "<enrol id=\"{}\"> is manual afterwards",
            ia.id
        );
        for u in &ib.ues {
            let eff = u.status == 0 && ib.status == 0;
            users
                .entry(u.user)
                .or_default()
                .before
                .push((eff, conv, u.clone()));
        }
        for u in &ia.ues {
            let eff = u.status == 0 && ia.status == 0;
            users
                .entry(u.user)
                .or_default()
                .after
                .push((eff, u.clone()));
        }
    }
    let names = parse_role_names(&before.roles);
    let stamp_ids: BTreeSet<i64> = names
        .iter()
        .filter(|(_, s)| o.stamp_roles.contains(s))
        .map(|(id, _)| *id)
        .collect();
    let stamped = parse_assignments(&before.course_roles)
        .into_iter()
        .filter(|(r, _, _)| stamp_ids.contains(r))
        .map(|(_, u, _)| u)
        .collect();
    Ok((users, stamped))
}

/// Roles and groups per user are the same before and after (by role id, by group id), and no converted
/// component is left.
pub(crate) fn roles_and_groups_kept(
    before: &Texts,
    after: &Texts,
    o: &Options,
) -> Result<(), TestCaseError> {
    let gone: Vec<String> = o
        .from
        .iter()
        .filter(|p| *p != "manual")
        .map(|p| format!("enrol_{p}"))
        .collect();
    let present = |x: &str| {
        parse_enrolments(x)
            .into_iter()
            .map(|i| i.plugin)
            .collect::<BTreeSet<_>>()
    };
    let had = present(&before.enrolments);
    for (what, b, a) in [
        (
            "roles",
            parse_assignments(&before.course_roles),
            parse_assignments(&after.course_roles),
        ),
        (
            "groups",
            parse_members(&before.groups),
            parse_members(&after.groups),
        ),
    ] {
        let per_user = |v: &[(i64, i64, String)]| {
            let mut m: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
            for (item, user, _) in v {
                m.entry(*user).or_default().insert(*item);
            }
            m
        };
        let (pb, pa) = (per_user(&b), per_user(&a));
        for (user, items) in &pa {
            let was = pb.get(user).cloned().unwrap_or_default();
            prop_assert!(
                items.is_subset(&was),
                "user {} has {} {:?} after, only {:?} before",
                user,
                what,
                items,
                was
            );
        }
        prop_assert_eq!(&pb, &pa, "{} per user unchanged", what);
        for (_, user, comp) in &a {
            let plugin = comp.strip_prefix("enrol_").unwrap_or_default();
            prop_assert!(
                !(gone.contains(comp) && had.contains(plugin)),
                "user {}: {} still has component {}",
                user,
                what,
                comp
            );
        }
    }
    Ok(())
}

/// The windows that may justify `v`'s access: the effective ones (own status 0 and instance status 0), the
/// existing manual enrolment included when it is effective itself.
pub(crate) fn sources(v: &UserView) -> Vec<&PUe> {
    v.before
        .iter()
        .filter(|(e, _, _)| *e)
        .map(|s| &s.2)
        .collect()
}

/// Access never grows, as a bound: per user, over the manual and converted instances,
/// (the bound is the envelope of the sources, from the earliest start to the latest end: one `<enrolment>` per
/// user and instance cannot hold a gap, so two disjoint sources merge into the window that spans them, as the
/// rules of issue 2 say: earliest start, latest end)
/// - nobody is dropped and nobody is added: a user with an enrolment before has exactly one after (merged),
///   a user with none has none;
/// - a user with no effective source before has no effective (own and instance status 0) enrolment after;
/// - an effective result starts no earlier than the earliest source, and ends no later than the latest
///   (0 = unlimited), unless it carries the stamped end (`until`, user holding a stamped role).
pub(crate) fn access_bounded(
    before: &Texts,
    after: &Texts,
    o: &Options,
) -> Result<(), TestCaseError> {
    let (users, stamped) = views(before, after, o)?;
    for (user, v) in &users {
        if v.before.is_empty() {
            prop_assert!(v.after.is_empty(), "user {} gained an enrolment", user);
            continue;
        }
        prop_assert_eq!(v.after.len(), 1, "user {}: one merged enrolment", user);
        let (eff, r) = &v.after[0];
        if !eff {
            continue;
        }
        let pool = sources(v);
        prop_assert!(
            !pool.is_empty(),
            "user {} is active after conversion with no effective source: {:?}",
            user,
            v
        );
        let min_start = pool.iter().map(|s| s.start).min().unwrap_or(0);
        prop_assert!(
            r.start >= min_start,
            "user {} starts at {}, before every source ({}): {:?}",
            user,
            r.start,
            min_start,
            v
        );
        let max_end = pool.iter().map(|s| end_key(s.end)).max().unwrap_or(0);
        let stamp = stamped.contains(user) && r.end == o.until;
        prop_assert!(
            stamp || end_key(r.end) <= max_end,
            "user {} ends at {}, after every source: {:?}",
            user,
            r.end,
            v
        );
    }
    Ok(())
}

/// Converts `case`'s documents and returns them with the documents after.
pub(crate) fn converted(case: &Case) -> Result<(Texts, Texts, Options), TestCaseError> {
    let before = case.render();
    let o = case.options();
    let c = convert(&before.docs(), &o);
    prop_assert!(c.is_ok(), "convert failed: {:?}", c.err());
    let after = before.after(&c.unwrap());
    Ok((before, after, o))
}

proptest! {
    #![proptest_config(config(512))]

    /// On generated documents (repeated users inside one synced instance allowed): access is bounded by the
    /// effective sources (an existing manual enrolment counting only when effective itself), roles and groups are kept, and converting the
    /// output again changes nothing.
    #[test]
    fn conversion_never_grants_more_access(case in case(false)) {
        let (before, after, o) = converted(&case)?;
        access_bounded(&before, &after, &o)?;
        roles_and_groups_kept(&before, &after, &o)?;
        let again = convert(&after.docs(), &o);
        prop_assert!(again.is_ok(), "second convert failed: {:?}", again.err());
        prop_assert!(again.unwrap().is_noop(), "converting the output again changed it");
    }
}
