//! The first steps of a conversion: parse the members, find the stamped roles and who holds them, choose the
//! instances that convert, and gather each user's enrolments from them (the user's sources).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::EnrolError;
use crate::enrol::members::ROLES;
use crate::enrol::model::{self, Assignment, Instance, MANUAL, Values};
use crate::fast_hash::IdMap;
use crate::xml::XmlError;

/// Below this size a second thread costs more than it saves.
const PARALLEL_PARSE: usize = 1 << 20;

/// Whether the work on `course/enrolments.xml` (`ex`) and on `course/roles.xml` (`x`) is worth splitting over two
/// threads: both documents are large (a course of tens of thousands of users).
pub(super) fn both_large(ex: &[u8], x: &[u8]) -> bool {
    ex.len() >= PARALLEL_PARSE && x.len() >= PARALLEL_PARSE
}

/// Runs `there` on a second thread while `here` runs on this one when `parallel`; else both here, `there` first
/// (or `here` first when the thread could not be started). The two share only what they read, so the results are
/// the same either way.
pub(super) fn side_by_side<T: Send, H>(
    parallel: bool,
    there: impl Fn() -> T + Sync,
    here: impl FnOnce() -> H,
) -> (T, H) {
    if !parallel {
        return (there(), here());
    }
    std::thread::scope(|s| {
        let other = std::thread::Builder::new().spawn_scoped(s, &there).ok();
        let h = here();
        let t = match other {
            Some(t) => t
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            None => there(),
        };
        (t, h)
    })
}

/// Parses enrolments.xml, and course/roles.xml when there is one (`None`: none), on another thread when both
/// are large.
#[allow(clippy::type_complexity)]
pub(super) fn parse_both(
    ex: &[u8],
    roles: Option<&[u8]>,
) -> (
    Result<Vec<Instance>, XmlError>,
    Option<Result<Vec<Assignment>, XmlError>>,
) {
    match roles {
        Some(x) => {
            let (assignments, instances) = side_by_side(
                both_large(ex, x),
                || model::parse_assignments(x),
                || model::parse_enrolments(ex),
            );
            (instances, Some(assignments))
        }
        None => (model::parse_enrolments(ex), None),
    }
}

/// The shortnames of the roles every Moodle site has (its archetypes): absent from a backup that no one in the
/// course holds, never a typo.
const STANDARD_ROLES: &[&str] = &[
    "manager",
    "coursecreator",
    "editingteacher",
    "teacher",
    "student",
    "guest",
    "user",
    "frontpage",
];

/// The role definitions (root `roles.xml`) and the ids of the roles whose holders are stamped.
pub(super) struct StampedRoles {
    /// Role id to shortname.
    names: BTreeMap<i64, String>,
    /// Ids of the stamped roles.
    pub ids: BTreeSet<i64>,
}

impl StampedRoles {
    /// Reads the role definitions and picks the roles named in `stamp_roles`.
    pub fn read(roles: Option<&[u8]>, stamp_roles: &[String]) -> Result<Self, EnrolError> {
        let names = match roles {
            Some(x) => model::parse_role_names(x).map_err(EnrolError::xml(ROLES))?,
            None => BTreeMap::new(),
        };
        let ids = names
            .iter()
            .filter(|(_, short)| stamp_roles.iter().any(|s| s == *short))
            .map(|(id, _)| *id)
            .collect();
        Ok(StampedRoles { names, ids })
    }

    /// The names in `stamp_roles` that the backup does not define, in order, when nobody in it can hold them: a
    /// backup's `roles.xml` defines only the roles its course uses, so a standard Moodle role it lacks (and any
    /// role, when it defines none) is held by nobody, and the caller warns. Any other name is an error listing
    /// the roles it defines: a typo would silently stamp nobody.
    pub fn check(&self, stamp_roles: &[String]) -> Result<Vec<String>, EnrolError> {
        let (absent, unknown): (Vec<String>, Vec<String>) = stamp_roles
            .iter()
            .filter(|wanted| !self.names.values().any(|s| s == *wanted))
            .cloned()
            .partition(|name| self.names.is_empty() || STANDARD_ROLES.contains(&name.as_str()));
        if unknown.is_empty() {
            return Ok(absent);
        }
        let mut defined: Vec<String> = self.names.values().cloned().collect();
        defined.sort();
        defined.dedup();
        Err(EnrolError::UndefinedRoles {
            member: ROLES,
            unknown,
            defined,
        })
    }

    /// A role's shortname, or its id when the backup does not define it.
    pub fn name(&self, id: i64) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }
}

/// Who holds which role in the course: the (user, role) pairs of `course/roles.xml`, sorted, as two columns
/// (compact even for a hundred thousand users, and a user's roles are one slice).
#[derive(Default)]
pub(super) struct UserRoles {
    users: Vec<i64>,
    roles: Vec<i64>,
}

impl UserRoles {
    pub fn new(assignments: &[Assignment]) -> Self {
        let mut pairs: Vec<(i64, i64)> = assignments
            .iter()
            .filter_map(|a| Some((a.userid?, a.roleid?)))
            .collect();
        // Stable: a few runs (Moodle writes assignments role by role, users ascending) merge in linear time.
        pairs.sort();
        pairs.dedup();
        UserRoles {
            users: pairs.iter().map(|&(u, _)| u).collect(),
            roles: pairs.iter().map(|&(_, r)| r).collect(),
        }
    }

    /// Reads users' roles from the start, faster when users are asked for in ascending order.
    pub fn cursor(&self) -> RolesCursor<'_> {
        RolesCursor { roles: self, at: 0 }
    }
}

/// Reads [`UserRoles`] user after user: a user after the last one asked for is searched from there, by
/// doubling steps, so users asked for in ascending order (the usual document order) cost a step or two each.
pub(super) struct RolesCursor<'a> {
    roles: &'a UserRoles,
    /// Every user before this position is before the last user asked for.
    at: usize,
}

impl<'a> RolesCursor<'a> {
    /// The role ids `user` holds, ascending.
    pub fn of(&mut self, user: i64) -> &'a [i64] {
        let users = &self.roles.users;
        let n = users.len();
        // Every user before `lo` is before `user`, and `user` is at or before `hi`.
        let mut lo = if self.at > 0 && self.at <= n && users[self.at - 1] < user {
            self.at
        } else {
            0
        };
        let (mut hi, mut step) = (lo, 1);
        while hi < n && users[hi] < user {
            lo = hi + 1;
            hi = lo + step;
            step *= 2;
        }
        let from = lo + users[lo..hi.min(n)].partition_point(|&u| u < user);
        let to = from + users[from..].iter().take_while(|&&u| u == user).count();
        self.at = to;
        &self.roles.roles[from..to]
    }
}

/// The parsed `course/enrolments.xml` and which of its instances convert.
pub(super) struct Instances<'a> {
    /// The document.
    pub ex: &'a [u8],
    /// Every instance, in document order.
    pub all: Vec<Instance>,
    /// Each instance's plugin.
    pub plugins: Vec<String>,
    /// The positions of the instances that convert, in document order.
    pub converted: Vec<usize>,
}

impl<'a> Instances<'a> {
    /// Picks the instances of the plugins in `from` (never a manual one).
    pub fn new(ex: &'a [u8], all: Vec<Instance>, from: &[String]) -> Self {
        let plugins: Vec<String> = all.iter().map(|i| i.plugin(ex)).collect();
        let converted = (0..all.len())
            .filter(|&i| plugins[i] != MANUAL && from.iter().any(|f| *f == plugins[i]))
            .collect();
        Instances {
            ex,
            all,
            plugins,
            converted,
        }
    }

    /// The `component`s of the role assignments and group members the converted plugins own.
    pub fn components(&self) -> BTreeSet<String> {
        self.converted
            .iter()
            .map(|&i| format!("enrol_{}", self.plugins[i]))
            .collect()
    }

    /// The warning when no instance converts.
    pub fn nothing_to_convert(&self, from: &[String]) -> String {
        let mut present: Vec<&str> = self.plugins.iter().map(String::as_str).collect();
        present.sort_unstable();
        present.dedup();
        format!(
            "nothing to convert: no enrolment method {} in this backup (it has: {})",
            from.join(", "),
            if present.is_empty() {
                "none".to_owned()
            } else {
                present.join(", ")
            }
        )
    }
}

/// The converted plugins, sorted by name, once each: a user's methods are positions in this list, so that no
/// name is copied per user.
pub(super) struct Methods {
    /// The names, sorted.
    pub names: Vec<String>,
    /// Each instance's position in `names` (`usize::MAX` for an instance that does not convert).
    of_instance: Vec<usize>,
}

impl Methods {
    pub fn new(set: &Instances<'_>) -> Self {
        let mut names: Vec<String> = set
            .converted
            .iter()
            .map(|&i| set.plugins[i].clone())
            .collect();
        names.sort();
        names.dedup();
        let of_instance = set
            .plugins
            .iter()
            .map(|p| names.binary_search(p).unwrap_or(usize::MAX))
            .collect();
        Methods { names, of_instance }
    }

    /// The methods a user's `sources` came from, as positions in [`Methods::names`]: ascending, once each (as
    /// the names sorted), written over `out`.
    pub fn of(&self, sources: &[Source], out: &mut Vec<usize>) {
        out.clear();
        out.extend(sources.iter().map(|s| self.of_instance[s.inst]));
        out.sort_unstable();
        out.dedup();
    }
}

/// One converted user enrolment.
#[derive(Debug, Clone, Copy)]
pub(super) struct Source {
    /// Its instance's position.
    pub inst: usize,
    /// Its position among the instance's enrolments.
    pub ue: usize,
    /// Its status, start and end.
    pub values: Values,
    /// It gives access: its own status and its instance's are both 0.
    pub effective: bool,
}

/// Every converted user enrolment, grouped per user.
pub(super) struct Sources {
    /// The sources, each user's together and in document order.
    pub list: Vec<Source>,
    /// Each user and the range of its sources in `list`, users in document order of first appearance.
    pub users: Vec<(i64, Range<usize>)>,
}

impl Sources {
    /// Gathers the enrolments of the converted instances.
    ///
    /// # Errors
    /// [`EnrolError::Invalid`] when one lacks an integer `userid`, `status`, `timestart` or `timeend`.
    pub fn collect(set: &Instances<'_>) -> Result<Self, EnrolError> {
        // One flat list sorted by user (stable, so each user's sources stay in document order), users ordered by
        // their first source: each source carries that position, looked up once as it is added rather than at
        // every comparison of the sort (which most backups, one source per user in user order, skip).
        let total = set
            .converted
            .iter()
            .map(|&i| set.all[i].enrolments.len())
            .sum();
        let mut first_seen: IdMap<i64, usize> =
            IdMap::with_capacity_and_hasher(total, Default::default());
        let mut flat: Vec<(usize, i64, Source)> = Vec::with_capacity(total);
        for &inst in &set.converted {
            let instance = &set.all[inst];
            let enabled = instance.status(set.ex) == 0;
            for (ue, e) in instance.enrolments.iter().enumerate() {
                let userid = e.required(set.ex, instance, "userid")?;
                let values = e.values(set.ex, instance)?;
                let first = *first_seen.entry(userid).or_insert(flat.len());
                flat.push((
                    first,
                    userid,
                    Source {
                        inst,
                        ue,
                        values,
                        effective: values.status == 0 && enabled,
                    },
                ));
            }
        }
        let user_count = first_seen.len();
        drop(first_seen);
        if !flat.is_sorted_by_key(|s| s.0) {
            flat.sort_by_key(|s| s.0);
        }
        let mut users: Vec<(i64, Range<usize>)> = Vec::with_capacity(user_count);
        for (i, s) in flat.iter().enumerate() {
            match users.last_mut() {
                Some((u, r)) if *u == s.1 => r.end = i + 1,
                _ => users.push((s.1, i..i + 1)),
            }
        }
        let list = flat.into_iter().map(|(_, _, s)| s).collect();
        Ok(Sources { list, users })
    }
}
