//! The report's per-user results, kept compact: a course of a hundred thousand users has as many rows, held
//! until the archive is written. A row keeps only what cannot be derived (72 bytes): the values written, the
//! live enrolment met, and small ids for the user's methods and roles, whose lists are shared by every user
//! holding the same ones. The three outcomes and the promised values are computed when a row is read
//! ([`restore::manual_outcomes`], as the conversion computed them), and [`UserOutcome`] is what a reader sees
//! and what `--json` writes, field for field.

use serde::{Serialize, Serializer};

use crate::enrol::model::Values;
use crate::enrol::restore::{Limit, Outcomes, Target};
use crate::fast_hash::IdMap;

/// `combined` with or `kept` an existing manual enrolment, or `new` (the report's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Manual {
    Kept,
    Combined,
    New,
}

impl From<super::users::Manual> for Manual {
    fn from(m: super::users::Manual) -> Self {
        match m {
            super::users::Manual::Kept => Manual::Kept,
            super::users::Manual::Combined(_) => Manual::Combined,
            super::users::Manual::New => Manual::New,
        }
    }
}

impl Manual {
    fn as_str(self) -> &'static str {
        match self {
            Manual::Kept => "kept",
            Manual::Combined => "combined",
            Manual::New => "new",
        }
    }
}

/// One converted user's row.
#[derive(Debug, Clone)]
struct Row {
    userid: i64,
    /// What the archive holds for the user.
    archive: Values,
    /// The live enrolment a merge meets (meaningful when `has_live`).
    live: Values,
    /// The user's methods: an index in [`Users::lists`].
    methods: u32,
    /// The user's role shortnames: an index in [`Users::lists`].
    roles: u32,
    /// What the live merge cannot do: 0 none, else 1 + an index in [`Users::cannot`].
    cannot: u32,
    /// `has_live`, `live_enabled`, `stamped` and the manual word.
    flags: Flags,
}

// The size the module's doc promises (memory of a hundred thousand users).
const _: () = assert!(std::mem::size_of::<Row>() == 72);

/// A row's small facts.
#[derive(Debug, Clone, Copy)]
struct Flags {
    has_live: bool,
    live_enabled: bool,
    stamped: bool,
    manual: Manual,
}

/// What one user's row is made of ([`Users::push`]), borrowed: most users share their lists with an earlier one.
pub(super) struct NewRow<'a> {
    pub userid: i64,
    /// The user's methods, as positions in the sorted list of converted methods: ascending, once each.
    pub methods: &'a [usize],
    /// The role ids the user holds, ascending.
    pub role_ids: &'a [i64],
    pub archive: Values,
    pub live: Option<Values>,
    /// The live course's manual instance is enabled.
    pub live_enabled: bool,
    pub stamped: bool,
    pub manual: Manual,
    pub cannot: Vec<Limit>,
}

/// Every converted user's result, in conversion order.
#[derive(Debug, Clone, Default)]
pub struct Users {
    rows: Vec<Row>,
    /// The distinct method and role-name lists the rows point to.
    lists: Vec<Vec<String>>,
    /// The limits of the users who have any.
    cannot: Vec<Vec<Limit>>,
    /// The restore target the promised values are read for.
    target: Target,
    /// While rows are added: the index of each methods list (by the methods' positions), and of each role-id
    /// list's names.
    methods_at: IdMap<Vec<usize>, u32>,
    roles_at: IdMap<Vec<i64>, u32>,
}

impl Users {
    /// No rows; the promised values will be read for `target`.
    pub(super) fn new(target: Target) -> Self {
        Users {
            target,
            ..Users::default()
        }
    }

    /// Room for `n` rows, exactly.
    pub(super) fn reserve_exact(&mut self, n: usize) {
        self.rows.reserve_exact(n);
    }

    /// Adds a row; `method_name` names a method's position, `role_name` a role id.
    pub(super) fn push(
        &mut self,
        new: NewRow<'_>,
        method_name: impl Fn(usize) -> String,
        role_name: impl Fn(i64) -> String,
    ) {
        let methods = match self.methods_at.get(new.methods) {
            Some(&i) => i,
            None => {
                let i = self.add_list(new.methods.iter().map(|&m| method_name(m)).collect());
                self.methods_at.insert(new.methods.to_vec(), i);
                i
            }
        };
        let roles = match self.roles_at.get(new.role_ids) {
            Some(&i) => i,
            None => {
                let i = self.add_list(new.role_ids.iter().map(|&id| role_name(id)).collect());
                self.roles_at.insert(new.role_ids.to_vec(), i);
                i
            }
        };
        let cannot = if new.cannot.is_empty() {
            0
        } else {
            self.cannot.push(new.cannot);
            index(self.cannot.len())
        };
        self.rows.push(Row {
            userid: new.userid,
            archive: new.archive,
            live: new.live.unwrap_or(Values::new(0, 0, 0)),
            methods,
            roles,
            cannot,
            flags: Flags {
                has_live: new.live.is_some(),
                live_enabled: new.live_enabled,
                stamped: new.stamped,
                manual: new.manual,
            },
        });
    }

    fn add_list(&mut self, list: Vec<String>) -> u32 {
        self.lists.push(list);
        index(self.lists.len() - 1)
    }

    /// Rows are complete: the lookup tables are dropped.
    pub(super) fn done(&mut self) {
        self.methods_at = IdMap::default();
        self.roles_at = IdMap::default();
    }

    /// Adds `limit` to the user at position `i`.
    pub(super) fn add_limit(&mut self, i: usize, limit: Limit) {
        let row = &mut self.rows[i];
        if row.cannot == 0 {
            self.cannot.push(Vec::new());
            row.cannot = index(self.cannot.len());
        }
        self.cannot[row.cannot as usize - 1].push(limit);
    }

    /// The number of converted users.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// No user was converted.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The user ids, in order.
    pub fn ids(&self) -> impl ExactSizeIterator<Item = i64> + '_ {
        self.rows.iter().map(|r| r.userid)
    }

    /// The users' results, in order.
    pub fn iter(&self) -> UsersIter<'_> {
        UsersIter {
            users: self,
            rows: self.rows.iter(),
        }
    }

    fn outcome<'a>(&'a self, r: &Row) -> UserOutcome<'a> {
        let f = r.flags;
        let live = f.has_live.then_some(r.live);
        let outcomes = super::users::outcomes(r.archive, live, f.live_enabled);
        let promised = outcomes.get(self.target);
        UserOutcome {
            userid: r.userid,
            methods: &self.lists[r.methods as usize],
            roles: &self.lists[r.roles as usize],
            status: promised.status,
            timestart: promised.timestart,
            timeend: promised.timeend,
            stamped: f.stamped,
            manual: f.manual.as_str(),
            archive: r.archive,
            outcomes,
            live_before: live,
            cannot: match r.cannot {
                0 => &[],
                i => &self.cannot[i as usize - 1],
            },
        }
    }
}

/// The users' results, in order ([`Users::iter`]).
#[derive(Debug, Clone)]
pub struct UsersIter<'a> {
    users: &'a Users,
    rows: std::slice::Iter<'a, Row>,
}

impl<'a> Iterator for UsersIter<'a> {
    type Item = UserOutcome<'a>;

    fn next(&mut self) -> Option<UserOutcome<'a>> {
        self.rows.next().map(|r| self.users.outcome(r))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.rows.size_hint()
    }
}

impl ExactSizeIterator for UsersIter<'_> {}

impl<'a> IntoIterator for &'a Users {
    type Item = UserOutcome<'a>;
    type IntoIter = UsersIter<'a>;

    fn into_iter(self) -> UsersIter<'a> {
        self.iter()
    }
}

/// A position as a row's 32-bit index (a course has far fewer than 4 billion users).
fn index(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Serialize for Users {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// One converted user's resulting manual enrolment.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct UserOutcome<'a> {
    /// `userid` in the backup.
    pub userid: i64,
    /// Methods the user came from.
    pub methods: &'a [String],
    /// Role shortnames the user holds in the course.
    pub roles: &'a [String],
    /// 0 active, 1 suspended.
    pub status: i64,
    /// Resulting start (epoch, 0 = none).
    pub timestart: i64,
    /// Resulting end (epoch, 0 = unlimited).
    pub timeend: i64,
    /// `timeend` was set to `until`.
    pub stamped: bool,
    /// `combined` with or `kept` an existing manual enrolment, or `new`.
    pub manual: &'static str,
    /// What the archive holds for the user (the promise, or its start shaped for the live merge).
    pub archive: Values,
    /// What each restore target stores.
    pub outcomes: Outcomes,
    /// The live course's manual enrolment that a merge meets (the backup's own), if any.
    pub live_before: Option<Values>,
    /// What no archive can make the live merge do for this user, in words.
    pub cannot: &'a [Limit],
}
