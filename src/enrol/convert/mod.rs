//! Conversion of synced enrolment methods (database, cohort, meta, …) into manual enrolments.
//!
//! The rules (issue 2, moodle-format.md §3–§4 and §9):
//! - every user enrolment of a converted instance merges, one `<enrolment>` per user, into one manual
//!   instance: the backup's first manual `<enrol>`, else the first converted `<enrol>` retyped to manual;
//!   the other converted `<enrol>`s keep their `id` (role and group `itemid`s still map) but are retyped to
//!   manual and emptied;
//! - a user is active if any source is effectively active (its own status 0 and its instance's status 0);
//!   start and end come from the active sources (0 = unlimited wins), or from all sources when none is;
//!   users holding a stamped role get `timeend` = the stamped end ([`Options::until`]);
//! - an existing manual enrolment is left alone when the converted result is suspended, else combined with it
//!   (its dates count only when it is effectively active itself, so a suspended one widens nothing);
//! - a disabled holder instance is enabled and its active enrolments suspended, so nobody gains access;
//! - retyped instances lose every plugin setting (`customint1` would be read as the 4.4+ welcome option);
//! - `enrol_<plugin>` role assignments and group members become plain manual ones.
//!
//! [`convert`] runs these as named steps: `read` (parse, stamped roles, which instances convert, each user's
//! sources), `holder` (the manual instance that receives them), `users` (the per-user merge and its edits),
//! `retype` (instances made manual), `append` (where new enrolments go) and `roles` (role assignments and
//! group members).

mod append;
mod holder;
mod read;
mod retype;
mod roles;
mod rows;
mod users;

use serde::Serialize;

pub use super::error::EnrolError;
pub use super::members::Docs;
use super::members::{COURSE_ROLES, ENROLMENTS, GROUPS, ROLES};
use super::model::MANUAL;
pub use super::restore::{Limit, LiveCourse, Outcomes, Target as RestoreTarget};
use super::warning::{Setting, Warning};
use crate::xml;
pub use rows::{UserOutcome, Users, UsersIter};

/// What to convert and how to stamp.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Enrol plugin names to convert (`database`, `cohort`, …).
    pub from: Vec<String>,
    /// Role shortnames whose holders get `timeend` = `until`.
    pub stamp_roles: Vec<String>,
    /// The end instant (epoch seconds).
    pub until: i64,
    /// The restore target whose outcome the per-user values promise (all three are reported).
    pub target: RestoreTarget,
    /// The live course a merge meets, from a fresh backup of it; `None`: the archive's own manual enrolments
    /// (what the live course held when it was backed up).
    pub live: Option<LiveCourse>,
    /// Write the archive's manual instance with the course welcome message off (`customint1` 0): a restore as a
    /// new course creates the manual instance from it, and Moodle 4.4 and later mail the message on every
    /// enrolment the restore writes. A merge keeps the live course's own setting.
    pub welcome_off: bool,
}

/// Why a list of methods cannot be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// No method given.
    #[error("no enrolment method to convert")]
    Empty,
    /// `manual` given: manual enrolments are where the conversion puts the others.
    #[error("manual enrolments are the conversion's target, not a source")]
    Manual,
}

/// Checks the methods to convert ([`Options::from`]): at least one, and never `manual`.
///
/// # Errors
/// [`SourceError`] saying which.
pub fn check_sources(from: &[String]) -> Result<(), SourceError> {
    if from.is_empty() {
        Err(SourceError::Empty)
    } else if from.iter().any(|m| m == MANUAL) {
        Err(SourceError::Manual)
    } else {
        Ok(())
    }
}

/// The rewritten members (`None` = unchanged) and the report.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// New `course/enrolments.xml`.
    pub enrolments: Option<Vec<u8>>,
    /// New `course/roles.xml`.
    pub course_roles: Option<Vec<u8>>,
    /// New `groups.xml`.
    pub groups: Option<Vec<u8>>,
    /// Members rewritten and handed over as soon as they were built ([`convert_owned_with`]) instead of
    /// returned above.
    pub handed: Vec<&'static str>,
    /// What was done.
    pub report: Report,
}

impl Conversion {
    /// True when no member changes.
    pub fn is_noop(&self) -> bool {
        self.enrolments.is_none()
            && self.course_roles.is_none()
            && self.groups.is_none()
            && self.handed.is_empty()
    }
}

/// What a conversion did, for humans and `--json`.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    /// Methods asked for.
    pub from: Vec<String>,
    /// Stamped role shortnames.
    pub stamp_roles: Vec<String>,
    /// The stamped end (epoch seconds).
    pub until: i64,
    /// The manual instance that holds the merged enrolments.
    pub target: Option<Target>,
    /// Per converted method.
    pub methods: Vec<MethodReport>,
    /// Totals over users (a user converted from two methods counts once).
    pub totals: Totals,
    /// Every converted user's result (in the JSON through the outcome's `job::Listing`, element by element).
    #[serde(skip)]
    pub users: Users,
    /// `course/roles.xml` assignments turned into manual ones.
    pub role_assignments_rewritten: usize,
    /// Assignments removed as exact duplicates of a manual one.
    pub role_assignments_removed: usize,
    /// `groups.xml` members turned into manual ones.
    pub group_members_rewritten: usize,
    /// Active enrolments of a disabled manual instance suspended when the instance was enabled.
    pub manual_enrolments_suspended: usize,
    /// Things the admin should know.
    pub warnings: Vec<Warning>,
    /// The restore target the per-user values promise.
    pub restore_target: RestoreTarget,
    /// Users whose archive start is one second after their live start, so that a merge into the live course
    /// applies their later end ([`super::restore::shape`]).
    pub shaped: usize,
    /// Users the live merge writes (`enrol_user()`): on Moodle 4.4 and later, each gets the course welcome
    /// message when the live manual method sends one.
    pub live_enrol_calls: usize,
    /// The holder's welcome-message setting (`customint1` of the manual instance, Moodle 4.4 and later: 0 off,
    /// 1-3 on), when the backup has a manual instance.
    pub manual_welcome: Option<i64>,
    /// The archive's manual instance was written with the welcome message off ([`Options::welcome_off`]).
    pub welcome_switched_off: bool,
}

impl Report {
    /// Adds limits to the users they concern (users not converted are left out: nothing is promised to them).
    fn add_limits(&mut self, limits: Vec<(i64, Limit)>) {
        if limits.is_empty() {
            return;
        }
        let at: crate::fast_hash::IdMap<i64, usize> =
            self.users.ids().enumerate().map(|(i, u)| (u, i)).collect();
        for (userid, limit) in limits {
            if let Some(&i) = at.get(&userid) {
                self.users.add_limit(i, limit);
            }
        }
    }

    /// Counts one converted user and records its outcome: `methods` are the user's methods as positions in
    /// `names` ([`read::Methods`]), `role_ids` the roles the user holds.
    fn tally(
        &mut self,
        userid: i64,
        methods: &[usize],
        names: &[String],
        merged: users::Merged,
        role_ids: &[i64],
        stamped: &read::StampedRoles,
    ) {
        let suspended = usize::from(merged.values.status != 0);
        let with_manual = usize::from(merged.manual.merged());
        for &m in methods {
            if let Some(mr) = self.methods.iter_mut().find(|r| r.plugin == names[m]) {
                mr.users_converted += 1;
                mr.stamped += usize::from(merged.stamped);
                mr.suspended += suspended;
                mr.merged_with_manual += with_manual;
            }
        }
        self.totals.users_converted += 1;
        self.totals.stamped += usize::from(merged.stamped);
        self.totals.suspended += suspended;
        self.totals.merged_with_manual += with_manual;
        self.shaped += usize::from(merged.written != merged.values);
        self.live_enrol_calls += usize::from(merged.outcomes.live_enrols);
        let manual = rows::Manual::from(merged.manual);
        self.users.push(
            rows::NewRow {
                userid,
                methods,
                role_ids,
                archive: merged.written,
                live: merged.live,
                live_enabled: merged.live_enabled,
                stamped: merged.stamped,
                manual,
                cannot: merged.limits,
            },
            |m| names[m].clone(),
            |id| stamped.name(id),
        );
    }
}

/// The instance that holds the merged enrolments.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// Its `<enrol id>`.
    pub instance_id: String,
    /// `manual` when it was already manual, else the plugin it was retyped from.
    pub was: String,
    /// It was disabled and has been enabled.
    pub enabled: bool,
}

/// Counts for one converted method.
#[derive(Debug, Clone, Serialize, Default)]
pub struct MethodReport {
    /// Plugin name.
    pub plugin: String,
    /// Its `<enrol id>`s.
    pub instances: Vec<String>,
    /// Users with an enrolment of this method.
    pub users_converted: usize,
    /// Of them, users whose end was stamped.
    pub stamped: usize,
    /// Of them, users whose resulting enrolment is suspended.
    pub suspended: usize,
    /// Of them, users who already had a manual enrolment (combined or kept).
    pub merged_with_manual: usize,
}

/// Totals over distinct users.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Totals {
    /// Converted users.
    pub users_converted: usize,
    /// Stamped users.
    pub stamped: usize,
    /// Users whose resulting enrolment is suspended.
    pub suspended: usize,
    /// Users who already had a manual enrolment.
    pub merged_with_manual: usize,
}

impl Report {
    /// An empty report of a conversion per `opts`.
    fn new(opts: &Options) -> Self {
        Report {
            from: opts.from.clone(),
            stamp_roles: opts.stamp_roles.clone(),
            until: opts.until,
            restore_target: opts.target,
            users: Users::new(opts.target),
            ..Report::default()
        }
    }
}

impl Conversion {
    /// The backup has no enrolments: nothing converts.
    fn without_enrolments(mut report: Report) -> Self {
        report.warnings.push(Warning::Note(format!(
            "no {ENROLMENTS} in this backup: nothing to convert"
        )));
        Conversion::unchanged(report)
    }

    /// No member changes: only the report.
    fn unchanged(report: Report) -> Self {
        Conversion {
            enrolments: None,
            course_roles: None,
            groups: None,
            handed: Vec::new(),
            report,
        }
    }
}

/// Converts per `opts`. Returns the rewritten members and the report; members with no change are `None`.
///
/// # Errors
/// [`EnrolError`] when a member is malformed or a converted enrolment lacks an integer field;
/// [`EnrolError::UndefinedRoles`] when a role in [`Options::stamp_roles`] is not defined in the root `roles.xml`
/// and is not a standard Moodle role (a standard role it lacks, or any role when it defines none, is held by
/// nobody in the course: a warning).
pub fn convert(docs: &Docs<'_>, opts: &Options) -> Result<Conversion, EnrolError> {
    // One conversion: on copies of the borrowed members (plan and apply, which keep the archive's documents).
    let copy = |x: Option<&[u8]>| x.map(<[u8]>::to_vec);
    let owned = OwnedDocs {
        enrolments: copy(docs.enrolments),
        course_roles: copy(docs.course_roles),
        roles: copy(docs.roles),
        groups: copy(docs.groups),
    };
    convert_owned(owned, opts)
}

/// The members a conversion reads, owned by it ([`convert_owned`]).
#[derive(Debug, Default)]
pub struct OwnedDocs {
    /// [`ENROLMENTS`].
    pub enrolments: Option<Vec<u8>>,
    /// [`COURSE_ROLES`].
    pub course_roles: Option<Vec<u8>>,
    /// Root `roles.xml`.
    pub roles: Option<Vec<u8>>,
    /// `groups.xml`.
    pub groups: Option<Vec<u8>>,
}

impl OwnedDocs {
    /// The documents `take` gives up, a lookup by member path (as [`Docs::from_lookup`]).
    pub fn from_lookup(mut take: impl FnMut(&str) -> Option<Vec<u8>>) -> Self {
        OwnedDocs {
            enrolments: take(ENROLMENTS),
            course_roles: take(COURSE_ROLES),
            roles: take(ROLES),
            groups: take(GROUPS),
        }
    }
}

/// The conversion of members it is given: each is freed, or rewritten over its own buffer, as soon as its rewrite
/// is built, so that a document and its rewrite are held together as little as possible (a course of a hundred
/// thousand users has tens of megabytes of each). [`convert`] runs it on copies of borrowed members.
///
/// # Errors
/// As [`convert`].
pub fn convert_owned(docs: OwnedDocs, opts: &Options) -> Result<Conversion, EnrolError> {
    convert_owned_with(docs, opts, None)
}

/// A member's new bytes, given in order, piece by piece, to the function it is called with (once, on any thread).
pub type Pieces = Box<dyn FnOnce(&mut dyn FnMut(&[u8])) + Send>;

/// Where [`convert_owned_with`] hands members over as soon as their rewrite is built, instead of returning them.
pub trait Hand: Sync {
    /// `member`'s new bytes.
    fn bytes(&self, member: &'static str, bytes: Vec<u8>);
    /// `member`'s new bytes, `len` of them, written by `pieces` when the receiver is ready for them.
    fn pieces(&self, member: &'static str, len: usize, pieces: Pieces);
}

/// [`convert_owned`], with `course/roles.xml`, when `hand` is given, rewritten on a second thread while
/// `course/enrolments.xml` is rewritten on this one, and handed to `hand` on that thread instead of being
/// returned (a zip writer compresses it there, on the core the enrolments' rewrite leaves free). The two
/// rewrites read nothing of each other; the errors are those of [`convert_owned`], the roles' first.
/// `course/enrolments.xml` is then handed over too, as pieces of the original and new bytes: its compression
/// starts at once and the document is never assembled.
///
/// # Errors
/// As [`convert`].
pub fn convert_owned_with(
    docs: OwnedDocs,
    opts: &Options,
    hand: Option<&dyn Hand>,
) -> Result<Conversion, EnrolError> {
    let OwnedDocs {
        enrolments,
        course_roles,
        roles,
        groups,
    } = docs;
    let mut report = Report::new(opts);
    let Some(mut ex) = enrolments else {
        return Ok(Conversion::without_enrolments(report));
    };
    // Returned, the rewrite is written over the document and can be a little longer (new enrolments stamped
    // with longer values): room for it is made now, while little else is held, rather than by moving the
    // document when it is written (the pages reserved cost nothing until written). Handed over, it is never
    // assembled.
    if hand.is_none() {
        ex.reserve_exact(ex.len() / 8);
    }
    let Some(plan) = plan(
        &ex,
        course_roles.as_deref(),
        roles.as_deref(),
        opts,
        &mut report,
    )?
    else {
        return Ok(Conversion::unchanged(report));
    };
    drop(roles);
    let Plan {
        set,
        components,
        user_roles,
        stamped,
        role_ops,
        sources,
    } = plan;
    // What the roles' rewrite takes, for whichever thread runs it (this one if no thread can be started).
    let roles_input = std::sync::Mutex::new(course_roles.map(|x| (x, role_ops)));
    let rewrite_roles = || match roles_input.lock().ok().and_then(|mut taken| taken.take()) {
        Some((x, ops)) => roles::apply_role_ops_owned(x, ops),
        None => Ok(None),
    };
    let mut handed = Vec::new();
    let (course_roles, rewritten) = match hand {
        // course/roles.xml rewritten and handed over on a second thread while the enrolments' rewrite is
        // planned here; the roles' error first, as below.
        Some(hand) => std::thread::scope(|scope| {
            let roles_thread = std::thread::Builder::new()
                .spawn_scoped(scope, || {
                    let new = rewrite_roles()?;
                    let rewritten = new.is_some();
                    if let Some(new) = new {
                        hand.bytes(COURSE_ROLES, new);
                    }
                    Ok::<_, EnrolError>(rewritten)
                })
                .ok();
            let rewritten =
                rewrite_enrolments(set, sources, &user_roles, &stamped, opts, &mut report);
            let course_roles = match roles_thread {
                Some(t) => {
                    if t.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?
                    {
                        handed.push(COURSE_ROLES);
                    }
                    None
                }
                None => rewrite_roles()?,
            };
            Ok::<_, EnrolError>((course_roles, rewritten?))
        })?,
        // course/roles.xml first: its rewrite takes its own place (values made shorter, duplicates removed), and
        // its plan is freed before the enrolments are rewritten.
        None => {
            let course_roles = rewrite_roles()?;
            (
                course_roles,
                rewrite_enrolments(set, sources, &user_roles, &stamped, opts, &mut report)?,
            )
        }
    };
    let enrolments = match hand {
        Some(hand) => {
            if let Some((len, pieces)) = rewritten.splice_streamed(ex)? {
                hand.pieces(ENROLMENTS, len, pieces);
                handed.push(ENROLMENTS);
            }
            None
        }
        None => rewritten.splice_owned(ex)?,
    };
    let groups = match groups {
        Some(x) => roles::rewrite_members_owned(x, &components, &mut report)?,
        None => None,
    };
    Ok(Conversion {
        enrolments,
        course_roles,
        groups,
        handed,
        report,
    })
}

/// What a conversion knows before it writes: the instances that convert, each user's sources, the role holders
/// and the planned rewrite of `course/roles.xml`.
struct Plan<'a> {
    set: read::Instances<'a>,
    /// Each user's sources, or why they could not be gathered: an error met only where the enrolments' rewrite
    /// meets it ([`rewrite_enrolments`]), so that the errors and the report are those of gathering them there.
    sources: Result<read::Sources, EnrolError>,
    components: std::collections::BTreeSet<String>,
    user_roles: read::UserRoles,
    stamped: read::StampedRoles,
    role_ops: Vec<roles::RoleOp>,
}

/// Parses the members and plans the conversion; `None` when nothing converts (the report says why).
fn plan<'a>(
    ex: &'a [u8],
    course_roles: Option<&[u8]>,
    roles: Option<&[u8]>,
    opts: &Options,
    report: &mut Report,
) -> Result<Option<Plan<'a>>, EnrolError> {
    // enrolments.xml and course/roles.xml are parsed side by side when both are large (a course of tens of
    // thousands of users); errors are still reported in document order.
    let (instances, parsed_roles) = read::parse_both(ex, course_roles);
    let instances = instances.map_err(EnrolError::xml(ENROLMENTS))?;
    let stamped = read::StampedRoles::read(roles, &opts.stamp_roles)?;
    for name in stamped.check(&opts.stamp_roles)? {
        report.warnings.push(Warning::Missing {
            setting: Setting::StampRoles,
            name,
        });
    }
    let set = read::Instances::new(ex, instances, &opts.from);
    let components = set.components();
    // course/roles.xml, parsed once: who holds which role, and the plan of its rewrite, applied at the end.
    let assignments = match course_roles.zip(parsed_roles) {
        Some((x, parsed)) => Some((x, parsed.map_err(EnrolError::xml(COURSE_ROLES))?)),
        None => None,
    };
    if set.converted.is_empty() {
        // No component converts: the roles' plan would be empty, and is not made.
        report
            .warnings
            .push(set.nothing_to_convert(&opts.from).into());
        return Ok(None);
    }
    let plan_roles = || match &assignments {
        Some((x, assignments)) => (
            roles::plan_assignments(x, assignments, &components),
            read::UserRoles::new(assignments),
        ),
        None => (Vec::new(), read::UserRoles::default()),
    };
    // The roles' plan and the users' sources read nothing of each other and each takes milliseconds on a large
    // course, on the critical path (the rest of the conversion waits for both): the roles' runs on a second
    // thread meanwhile. The sources' error is kept for the place the enrolments' rewrite meets it.
    let parallel = assignments
        .as_ref()
        .is_some_and(|(x, _)| read::both_large(ex, x));
    let ((role_ops, user_roles), sources) =
        read::side_by_side(parallel, plan_roles, || read::Sources::collect(&set));
    roles::count(&role_ops, report);
    Ok(Some(Plan {
        set,
        sources,
        components,
        user_roles,
        stamped,
        role_ops,
    }))
}

/// The rewrite of `course/enrolments.xml` once the instances that convert are known: the holder chosen, each
/// user's sources merged into it, the holder enabled if it was disabled, the converted instances retyped.
fn rewrite_enrolments(
    set: read::Instances<'_>,
    sources: Result<read::Sources, EnrolError>,
    user_roles: &read::UserRoles,
    stamped: &read::StampedRoles,
    opts: &Options,
    report: &mut Report,
) -> Result<Rewritten, EnrolError> {
    let until = opts.until;
    let ex = set.ex;
    let holder = holder::Holder::choose(&set, report);
    // Gathered with the plan (beside the roles'), its error met here, after the holder's warnings, as ever.
    let sources = sources?;
    // Moodle allows one manual instance per course; a backup with several is unusual: restore maps them all into
    // one instance and applies their rows in order, which the per-user results below cannot promise.
    let manual_count = set.plugins.iter().filter(|p| *p == MANUAL).count();
    if manual_count > 1 {
        report.warnings.push(Warning::Note(format!(
            "this backup has {manual_count} manual instances: restore merges them into one and applies their \
             enrolments one after another, so a user enrolled in a second manual instance may end with other \
             dates than reported here"
        )));
    }
    let existing = holder.existing(&set);
    let mut welcome_edit = None;
    if !holder.retyped {
        let holder_instance = &set.all[holder.idx];
        report.manual_welcome = holder_instance.int(ex, "customint1");
        if opts.welcome_off
            && matches!(report.manual_welcome, Some(1..=3))
            && let Some(f) = holder_instance.fields.get("customint1")
        {
            welcome_edit = f.set(ex, "customint1", "0");
            report.welcome_switched_off = welcome_edit.is_some();
        }
    }

    let mut rewrite = users::Rewrite::new(&set, &holder, opts.live.as_ref());
    report.users.reserve_exact(sources.users.len());
    let all_methods = read::Methods::new(&set);
    let mut methods = Vec::new();
    let mut roles = user_roles.cursor();
    for (userid, range) in &sources.users {
        let srcs = &sources.list[range.clone()];
        let role_ids = roles.of(*userid);
        let stamp = role_ids
            .iter()
            .any(|id| stamped.ids.contains(id))
            .then_some(until);
        let merged = rewrite.merge_user(*userid, existing.get(userid).copied(), srcs, stamp)?;
        if merged.stamped && merged.values.timestart > until {
            report.warnings.push(Warning::Note(format!(
                "user {userid}: start {} is after the stamped end {until}: the enrolment gives no access",
                merged.values.timestart
            )));
        }
        all_methods.of(srcs, &mut methods);
        report.tally(
            *userid,
            &methods,
            &all_methods.names,
            merged,
            role_ids,
            stamped,
        );
    }
    report.users.done();
    let users::Rewrite {
        mut edits,
        appended,
        combined,
        line_mode,
        ..
    } = rewrite;

    let holder_instance = &set.all[holder.idx];
    // A disabled manual holder is enabled; its active enrolments are suspended so nobody gains access.
    if holder.disabled && !holder.retyped {
        report.manual_enrolments_suspended +=
            retype::enable_holder(ex, holder_instance, &combined, &mut edits);
    }
    for &ii in &set.converted {
        retype::retype(ex, &set.all[ii], &mut edits);
    }
    edits.extend(welcome_edit);
    // New enrolments go at the end of the holder's <user_enrolments>.
    let place = (!appended.is_empty()).then(|| append::place(ex, holder_instance, line_mode));
    Ok(Rewritten {
        edits,
        place,
        appended,
    })
}

/// The rewrite of `course/enrolments.xml`, to be written: the edits, and the new enrolments and where they go.
/// The model is not needed to write it: freed first, so it and the rewritten document are never held at once
/// (peak memory).
struct Rewritten {
    edits: Vec<xml::Edit>,
    place: Option<append::Place>,
    appended: append::Copies,
}

/// The new enrolments and the lines around them, as pieces ([`Rewritten::into_parts`]).
type NewEnrolments = Box<dyn Fn(&mut dyn FnMut(xml::Piece<'_>)) + Send>;

impl Rewritten {
    /// The edits, and the new enrolments as the pieces of one filled edit.
    fn into_parts(self) -> (Vec<xml::Edit>, Option<xml::FillPieces<NewEnrolments>>) {
        let Rewritten {
            edits,
            place,
            appended,
        } = self;
        let fill = place.map(|place| xml::FillPieces {
            range: place.range.clone(),
            pieces: Box::new(move |f: &mut dyn FnMut(xml::Piece<'_>)| {
                f(xml::Piece::Bytes(&place.before));
                appended.pieces(f);
                f(xml::Piece::Bytes(&place.after));
            }) as NewEnrolments,
        });
        (edits, fill)
    }

    /// The rewritten document written over the original `ex` (`None`: unchanged).
    fn splice_owned(self, ex: Vec<u8>) -> Result<Option<Vec<u8>>, EnrolError> {
        let (edits, fill) = self.into_parts();
        xml::splice_pieces_owned(ex, edits, fill).map_err(EnrolError::edit(ENROLMENTS))
    }

    /// The rewritten document's length and its pieces, checked as [`Rewritten::splice_owned`] checks them but not
    /// assembled (`None`: unchanged): the same bytes, for a receiver that only compresses them.
    fn splice_streamed(self, ex: Vec<u8>) -> Result<Option<(usize, Pieces)>, EnrolError> {
        let (edits, fill) = self.into_parts();
        let streamed =
            xml::splice_pieces_streamed(ex, edits, fill).map_err(EnrolError::edit(ENROLMENTS))?;
        Ok(streamed.map(|s| {
            let len = s.len();
            let pieces: Pieces = Box::new(move |out| s.write_to(out));
            (len, pieces)
        }))
    }
}

#[cfg(test)]
mod tests;
