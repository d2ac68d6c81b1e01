//! The first steps of a conversion: parse the members, find the stamped roles and who holds them, choose the
//! instances that convert, and gather each user's enrolments from them (the user's sources).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use super::EnrolError;
use crate::enrol::members::ROLES;
use crate::enrol::model::{self, Assignment, Instance, MANUAL, Values};
use crate::xml::XmlError;

/// Below this size a second thread costs more than it saves.
const PARALLEL_PARSE: usize = 1 << 20;

/// Parses enrolments.xml, and course/roles.xml on another thread when both are large (`None`: not parsed).
#[allow(clippy::type_complexity)]
pub(super) fn parse_both(
    ex: &[u8],
    roles: Option<&[u8]>,
) -> (
    Result<Vec<Instance>, XmlError>,
    Option<Result<Vec<Assignment>, XmlError>>,
) {
    match roles {
        Some(x) if ex.len() >= PARALLEL_PARSE && x.len() >= PARALLEL_PARSE => {
            std::thread::scope(|s| {
                let other = std::thread::Builder::new()
                    .spawn_scoped(s, || model::parse_assignments(x))
                    .ok();
                let instances = model::parse_enrolments(ex);
                (instances, other.and_then(|h| h.join().ok()))
            })
        }
        _ => (model::parse_enrolments(ex), None),
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

/// Who holds which role in the course: the (user, role) pairs of `course/roles.xml`, sorted (compact even for
/// a hundred thousand users).
#[derive(Default)]
pub(super) struct UserRoles(Vec<(i64, i64)>);

impl UserRoles {
    pub fn new(assignments: &[Assignment]) -> Self {
        let mut pairs: Vec<(i64, i64)> = assignments
            .iter()
            .filter_map(|a| Some((a.userid?, a.roleid?)))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs.shrink_to_fit();
        UserRoles(pairs)
    }

    /// The role ids `user` holds, ascending.
    pub fn of(&self, user: i64) -> impl Iterator<Item = i64> + '_ {
        let from = self.0.partition_point(|&(u, _)| u < user);
        self.0[from..]
            .iter()
            .take_while(move |&&(u, _)| u == user)
            .map(|&(_, r)| r)
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

    /// The plugins a user's `sources` came from, sorted, once each.
    pub fn methods_of(&self, sources: &[Source]) -> Vec<String> {
        let mut methods: Vec<String> = sources
            .iter()
            .map(|s| self.plugins[s.inst].clone())
            .collect();
        methods.sort();
        methods.dedup();
        methods
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
        // One flat list sorted by user (stable, so each user's sources stay in document order), then users
        // ordered by their first source.
        let mut flat: Vec<(i64, Source)> = Vec::new();
        for &inst in &set.converted {
            let instance = &set.all[inst];
            let enabled = instance.status(set.ex) == 0;
            for (ue, e) in instance.enrolments.iter().enumerate() {
                let userid = e.required(set.ex, instance, "userid")?;
                let values = e.values(set.ex, instance)?;
                flat.push((
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
        let first_seen: HashMap<i64, usize> = flat
            .iter()
            .enumerate()
            .rev()
            .map(|(seq, s)| (s.0, seq))
            .collect();
        flat.sort_by_key(|s| (first_seen[&s.0], s.0));
        drop(first_seen);
        let mut users: Vec<(i64, Range<usize>)> = Vec::new();
        for (i, s) in flat.iter().enumerate() {
            match users.last_mut() {
                Some((u, r)) if *u == s.0 => r.end = i + 1,
                _ => users.push((s.0, i..i + 1)),
            }
        }
        let list = flat.into_iter().map(|(_, s)| s).collect();
        Ok(Sources { list, users })
    }
}
