//! Generated enrolment sets, written with the shared builders (`mbz_enrol::testkit`).

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Generated enrolment sets.
// ---------------------------------------------------------------------------------------------------------

/// Users of `coh_basic.mbz` (users.xml holds 8..=39): few, so instances share users.
pub(crate) const USERS: [i64; 8] = [8, 9, 10, 11, 12, 13, 14, 15];
/// Plugins whose sync writes `enrol_<plugin>` role assignments and group members.
pub(crate) const SYNCED: [&str; 3] = ["cohort", "database", "meta"];
pub(crate) const OTHERS: [&str; 4] = ["cohort", "database", "meta", "self"];
pub(crate) const ENROLMENTS: &str = "course/enrolments.xml";
pub(crate) const COURSE_ROLES: &str = "course/roles.xml";
pub(crate) const ROLES: &str = "roles.xml";
pub(crate) const GROUPS: &str = "groups.xml";

/// A generated `<enrolment>`.
#[derive(Debug, Clone)]
pub(crate) struct GUe {
    pub(crate) user: i64,
    pub(crate) status: i64,
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// A generated `<enrol>`.
#[derive(Debug, Clone)]
pub(crate) struct GInst {
    pub(crate) plugin: &'static str,
    pub(crate) status: i64,
    pub(crate) roleid: i64,
    /// customint1..8 (`None`: `$@NULL@$`).
    pub(crate) custom: Vec<Option<i64>>,
    pub(crate) ues: Vec<GUe>,
}

/// A generated enrolment set with its role assignments, group members and conversion options.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) insts: Vec<GInst>,
    /// (roleid, userid, component: `enrol_<plugin>` of the picked synced instance, else '').
    pub(crate) ras: Vec<(i64, i64, Option<Index>)>,
    /// (group id, userid, component as for `ras`).
    pub(crate) members: Vec<(i64, i64, Option<Index>)>,
    pub(crate) from: Vec<&'static str>,
    pub(crate) stamp: Vec<&'static str>,
    pub(crate) until: i64,
}

/// Instants on a coarse grid, so starts, ends and `until` often coincide or interleave.
pub(crate) fn instant() -> impl Strategy<Value = i64> {
    (1i64..=30).prop_map(|k| 1_600_000_000 + k * 10_000_000)
}

/// A start or end: 0 (none / unlimited) or an instant.
pub(crate) fn time() -> BoxedStrategy<i64> {
    prop_oneof![Just(0i64), instant()].boxed()
}

pub(crate) fn status() -> BoxedStrategy<i64> {
    prop_oneof![3 => Just(0i64), 1 => Just(1i64)].boxed()
}

/// User enrolments: distinct users (Moodle's unique key: the first one per user is kept) or, with `unique`
/// off, repeats too. Built without `prop_flat_map` so that failures shrink well.
pub(crate) fn ues(unique: bool) -> impl Strategy<Value = Vec<GUe>> {
    vec((select(&USERS[..]), status(), time(), time()), 0..=5).prop_map(move |v| {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|(user, ..)| !unique || seen.insert(*user))
            .map(|(user, status, start, end)| GUe {
                user,
                status,
                start,
                end,
            })
            .collect()
    })
}

pub(crate) fn inst(
    plugin: impl Strategy<Value = &'static str>,
    unique: bool,
) -> impl Strategy<Value = GInst> {
    (
        plugin,
        status(),
        select(vec![0i64, 3, 5]),
        vec(option::of(0i64..1000), 8),
        ues(unique),
    )
        .prop_map(|(plugin, status, roleid, custom, ues)| GInst {
            plugin,
            status,
            roleid,
            custom,
            ues,
        })
}

/// One to four cohort/database/meta/self instances and at most one manual instance (Moodle allows one per
/// course) anywhere among them. `unique`: one enrolment per user and instance, as Moodle's unique key.
pub(crate) fn case(unique: bool) -> impl Strategy<Value = Case> {
    let others = vec(inst(select(&OTHERS[..]), unique), 1..=4);
    let manual = option::of((any::<Index>(), inst(Just("manual"), true)));
    let ras = vec(
        (
            select(vec![3i64, 5]),
            select(&USERS[..]),
            option::of(any::<Index>()),
        ),
        0..10,
    );
    let members = vec(
        (1i64..=3, select(&USERS[..]), option::of(any::<Index>())),
        0..8,
    );
    (
        others,
        manual,
        ras,
        members,
        subsequence(OTHERS.to_vec(), 1..=4),
        subsequence(vec!["student", "editingteacher"], 0..=2),
        instant(),
    )
        .prop_map(|(mut insts, manual, ras, members, from, stamp, until)| {
            if let Some((at, m)) = manual {
                let i = at.index(insts.len() + 1);
                insts.insert(i, m);
            }
            Case {
                insts,
                ras,
                members,
                from,
                stamp,
                until,
            }
        })
}

pub(crate) fn enrol_id(k: usize) -> usize {
    300 + k
}

/// The four documents a conversion reads.
#[derive(Debug, Clone)]
pub(crate) struct Texts {
    pub(crate) enrolments: String,
    pub(crate) course_roles: String,
    pub(crate) roles: String,
    pub(crate) groups: String,
}

impl Texts {
    pub(crate) fn docs(&self) -> Docs<'_> {
        Docs {
            enrolments: Some(self.enrolments.as_bytes()),
            course_roles: Some(self.course_roles.as_bytes()),
            roles: Some(self.roles.as_bytes()),
            groups: Some(self.groups.as_bytes()),
        }
    }

    /// The documents after `c` (unchanged members kept).
    pub(crate) fn after(&self, c: &Conversion) -> Texts {
        let pick = |new: &Option<Vec<u8>>, old: &String| match new {
            Some(b) => String::from_utf8(b.clone()).expect("utf-8 output"),
            None => old.clone(),
        };
        Texts {
            enrolments: pick(&c.enrolments, &self.enrolments),
            course_roles: pick(&c.course_roles, &self.course_roles),
            roles: self.roles.clone(),
            groups: pick(&c.groups, &self.groups),
        }
    }
}

impl Case {
    pub(crate) fn options(&self) -> Options {
        Options {
            from: self.from.iter().map(|s| (*s).to_owned()).collect(),
            stamp_roles: self.stamp.iter().map(|s| (*s).to_owned()).collect(),
            until: self.until,
            ..Default::default()
        }
    }

    /// `(component, itemid)` for a picked synced instance, or the manual `('', 0)`.
    pub(crate) fn component(&self, via: Option<Index>) -> (String, usize) {
        let synced: Vec<usize> = (0..self.insts.len())
            .filter(|&k| SYNCED.contains(&self.insts[k].plugin))
            .collect();
        match via {
            Some(ix) if !synced.is_empty() => {
                let k = *ix.get(&synced);
                (format!("enrol_{}", self.insts[k].plugin), enrol_id(k))
            }
            _ => (String::new(), 0),
        }
    }

    pub(crate) fn render(&self) -> Texts {
        let mut ueid = 7000;
        let insts: Vec<testkit::Inst> = self
            .insts
            .iter()
            .enumerate()
            .map(|(k, i)| {
                let mut x = testkit::inst(enrol_id(k), i.plugin, i.status, &[])
                    .set("roleid", &i.roleid.to_string());
                for (n, v) in i.custom.iter().enumerate() {
                    let v = v.map_or(NUL.to_owned(), |v| v.to_string());
                    x = x.set(&format!("customint{}", n + 1), &v);
                }
                let ues: Vec<testkit::Ue> = i
                    .ues
                    .iter()
                    .map(|u| {
                        ueid += 1;
                        testkit::ue(ueid, u.user, u.status, u.start, u.end)
                    })
                    .collect();
                x.ues(&ues)
            })
            .collect();

        // Moodle's unique key on role assignments: (role, context, user, component, itemid).
        let mut seen = BTreeSet::new();
        let mut ras = String::new();
        for (n, &(roleid, userid, via)) in self.ras.iter().enumerate() {
            let (component, itemid) = self.component(via);
            if !seen.insert((roleid, userid, component.clone(), itemid)) {
                continue;
            }
            ras.push_str(&testkit::assignment(
                9000 + n as u64,
                roleid,
                userid,
                &component,
                itemid as i64,
                testkit::TIME,
            ));
        }

        // One membership per group and user.
        let mut groups = String::new();
        for gid in 1..=3 {
            let mut seen = BTreeSet::new();
            let mut members = String::new();
            for (n, &(group, userid, via)) in self.members.iter().enumerate() {
                if group != gid || !seen.insert(userid) {
                    continue;
                }
                let (component, itemid) = self.component(via);
                members.push_str(&testkit::member(
                    8000 + n as u64,
                    userid,
                    &component,
                    itemid as i64,
                ));
            }
            groups.push_str(&testkit::group(gid, &members));
        }

        Texts {
            enrolments: testkit::enrolments(&insts),
            course_roles: testkit::course_roles(&ras),
            roles: fixture_roles().to_owned(),
            groups: testkit::groups(&groups),
        }
    }
}
