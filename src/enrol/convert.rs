//! Conversion of synced enrolment methods (database, cohort, meta, …) into manual enrolments.
//!
//! The rules (issue 2, moodle-format.md §3–§4 and §9):
//! - every user enrolment of a converted instance merges, one `<enrolment>` per user, into one manual
//!   instance: the backup's first manual `<enrol>`, else the first converted `<enrol>` retyped to manual;
//!   the other converted `<enrol>`s keep their `id` (role and group `itemid`s still map) but are retyped to
//!   manual and emptied;
//! - a user is active if any source is effectively active (its own status 0 and its instance's status 0);
//!   start and end come from the active sources (0 = unlimited wins), or from all sources when none is;
//!   users holding a stamped role get `timeend` = `--until`;
//! - an existing manual enrolment is left alone when the converted result is suspended, else combined with it
//!   (its dates count only when it is effectively active itself, so a suspended one widens nothing);
//! - a disabled holder instance is enabled and its active enrolments suspended, so nobody gains access;
//! - retyped instances lose every plugin setting (`customint1` would be read as the 4.4+ welcome option);
//! - `enrol_<plugin>` role assignments and group members become plain manual ones.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::model::{self, Field, Instance, UserEnrolment};
use crate::xml::{self, Edit, XmlError};

/// Member path of the enrolment instances.
pub const ENROLMENTS: &str = "course/enrolments.xml";
/// Member path of the course role assignments.
pub const COURSE_ROLES: &str = "course/roles.xml";
/// Member path of the role definitions.
pub const ROLES: &str = "roles.xml";
/// Member path of the groups and their members.
pub const GROUPS: &str = "groups.xml";

/// Fields set to `$@NULL@$` on a retyped instance.
const NULLED: &[&str] = &[
    "name",
    "password",
    "customint1",
    "customint2",
    "customint3",
    "customint4",
    "customint5",
    "customint6",
    "customint7",
    "customint8",
    "customchar1",
    "customchar2",
    "customchar3",
    "customdec1",
    "customdec2",
    "customtext1",
    "customtext2",
    "customtext3",
    "customtext4",
];
/// Fields set to 0 on a retyped instance.
const ZEROED: &[&str] = &[
    "enrolperiod",
    "expirynotify",
    "notifyall",
    "enrolstartdate",
    "enrolenddate",
];

/// A rule could not be applied to a member's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrolError {
    /// The member is not well-formed XML.
    #[error("member `{member}`")]
    Xml {
        /// Archive member path.
        member: &'static str,
        /// The parse error.
        #[source]
        source: XmlError,
    },
    /// A value the rules need is missing or not an integer.
    #[error("member `{member}`: {what}")]
    Invalid {
        /// Archive member path.
        member: &'static str,
        /// What is wrong, naming the element.
        what: String,
    },
    /// Internal: two edits overlap (never the input's fault).
    #[error("member `{member}`: internal error")]
    Edit {
        /// Archive member path.
        member: &'static str,
        /// The overlap.
        #[source]
        source: xml::EditError,
    },
}

/// The XML members the rules read (`None` when the archive lacks one).
#[derive(Debug, Default, Clone, Copy)]
pub struct Docs<'a> {
    /// `course/enrolments.xml`.
    pub enrolments: Option<&'a [u8]>,
    /// `course/roles.xml`.
    pub course_roles: Option<&'a [u8]>,
    /// Root `roles.xml`.
    pub roles: Option<&'a [u8]>,
    /// `groups.xml`.
    pub groups: Option<&'a [u8]>,
}

/// What to convert and how to stamp.
#[derive(Debug, Clone)]
pub struct Options {
    /// Enrol plugin names to convert (`database`, `cohort`, …).
    pub from: Vec<String>,
    /// Role shortnames whose holders get `timeend` = `until`.
    pub stamp_roles: Vec<String>,
    /// The end instant (epoch seconds).
    pub until: i64,
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
    /// What was done.
    pub report: Report,
}

impl Conversion {
    /// True when no member changes.
    pub fn is_noop(&self) -> bool {
        self.enrolments.is_none() && self.course_roles.is_none() && self.groups.is_none()
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
    /// Every converted user's result.
    pub users: Vec<UserOutcome>,
    /// `course/roles.xml` assignments turned into manual ones.
    pub role_assignments_rewritten: usize,
    /// Assignments removed as exact duplicates of a manual one.
    pub role_assignments_removed: usize,
    /// `groups.xml` members turned into manual ones.
    pub group_members_rewritten: usize,
    /// Active enrolments of a disabled manual instance suspended when the instance was enabled.
    pub manual_enrolments_suspended: usize,
    /// Things the admin should know.
    pub warnings: Vec<String>,
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

/// One converted user's resulting manual enrolment.
#[derive(Debug, Clone, Serialize)]
pub struct UserOutcome {
    /// `userid` in the backup.
    pub userid: i64,
    /// Methods the user came from.
    pub methods: Vec<String>,
    /// Role shortnames the user holds in the course.
    pub roles: Vec<String>,
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
}

/// A converted user enrolment's values.
#[derive(Debug, Clone, Copy)]
struct Values {
    status: i64,
    timestart: i64,
    timeend: i64,
}

fn required(
    ue: &UserEnrolment,
    xml: &[u8],
    inst: &Instance,
    name: &str,
) -> Result<i64, EnrolError> {
    ue.int(xml, name).ok_or_else(|| EnrolError::Invalid {
        member: ENROLMENTS,
        what: format!(
            "{} in <enrol id=\"{}\"> has no integer <{name}>",
            ue.label(),
            inst.id
        ),
    })
}

fn values(ue: &UserEnrolment, xml: &[u8], inst: &Instance) -> Result<Values, EnrolError> {
    Ok(Values {
        status: required(ue, xml, inst, "status")?,
        timestart: required(ue, xml, inst, "timestart")?,
        timeend: required(ue, xml, inst, "timeend")?,
    })
}

/// The later of two ends, 0 (unlimited) winning.
pub(crate) fn later_end(a: i64, b: i64) -> i64 {
    if a == 0 || b == 0 { 0 } else { a.max(b) }
}

/// An edit setting a leaf element's text to `value`, or `None` if it already holds exactly that.
fn set(xml: &[u8], field: &Field, tag: &str, value: &str) -> Option<Edit> {
    field.set(xml, tag, value)
}

/// Edits setting `status`, `timestart`, `timeend` of `ue` to `v`.
fn set_values(xml: &[u8], ue: &UserEnrolment, v: Values) -> Vec<Edit> {
    let mut out = Vec::new();
    for (name, value) in [
        ("status", v.status),
        ("timestart", v.timestart),
        ("timeend", v.timeend),
    ] {
        if let Some(f) = ue.fields.get(name) {
            out.extend(set(xml, &f, name, &value.to_string()));
        }
    }
    out
}

/// Converts per `opts`. Returns the rewritten members and the report; members with no change are `None`.
///
/// # Errors
/// [`EnrolError`] when a member is malformed or a converted enrolment lacks an integer field.
pub fn convert(docs: &Docs<'_>, opts: &Options) -> Result<Conversion, EnrolError> {
    let mut report = Report {
        from: opts.from.clone(),
        stamp_roles: opts.stamp_roles.clone(),
        until: opts.until,
        ..Report::default()
    };
    let noop = |report: Report| Conversion {
        enrolments: None,
        course_roles: None,
        groups: None,
        report,
    };
    let Some(ex) = docs.enrolments else {
        report.warnings.push(format!(
            "no {ENROLMENTS} in this backup: nothing to convert"
        ));
        return Ok(noop(report));
    };
    // enrolments.xml and course/roles.xml are parsed side by side when both are large (a course of tens of
    // thousands of users); errors are still reported in document order.
    let (instances, parsed_roles) = parse_both(ex, docs.course_roles);
    let instances = instances.map_err(|source| EnrolError::Xml {
        member: ENROLMENTS,
        source,
    })?;

    // Roles: shortnames from the root roles.xml, holders from course/roles.xml.
    let role_names = match docs.roles {
        Some(x) => model::parse_role_names(x).map_err(|source| EnrolError::Xml {
            member: ROLES,
            source,
        })?,
        None => BTreeMap::new(),
    };
    let stamp_ids: BTreeSet<i64> = role_names
        .iter()
        .filter(|(_, short)| opts.stamp_roles.iter().any(|s| s == *short))
        .map(|(id, _)| *id)
        .collect();
    for wanted in &opts.stamp_roles {
        if !role_names.values().any(|s| s == wanted) {
            report.warnings.push(format!(
                "role `{wanted}` (--stamp-roles) is not defined in this backup's {ROLES}: nobody holds it"
            ));
        }
    }

    let plugins: Vec<String> = instances.iter().map(|i| i.plugin(ex)).collect();
    let converted: Vec<usize> = (0..instances.len())
        .filter(|&i| plugins[i] != "manual" && opts.from.iter().any(|f| *f == plugins[i]))
        .collect();
    // course/roles.xml, parsed once: the (user, role) pairs, sorted (compact even for a hundred thousand
    // users), and the plan of its rewrite (a few spans per converted assignment), applied at the end.
    let components: BTreeSet<String> = converted
        .iter()
        .map(|&i| format!("enrol_{}", plugins[i]))
        .collect();
    let (mut user_roles, role_ops): (Vec<(i64, i64)>, Vec<RoleOp>) = match docs.course_roles {
        Some(x) => {
            let assignments = parsed_roles
                .unwrap_or_else(|| model::parse_assignments(x))
                .map_err(|source| EnrolError::Xml {
                    member: COURSE_ROLES,
                    source,
                })?;
            let ops = plan_assignments(x, &assignments, &components, &mut report);
            let pairs = assignments
                .iter()
                .filter_map(|a| Some((a.userid?, a.roleid?)))
                .collect();
            (pairs, ops)
        }
        None => (Vec::new(), Vec::new()),
    };
    user_roles.sort_unstable();
    user_roles.dedup();
    user_roles.shrink_to_fit();
    let roles_of = |user: i64| {
        let from = user_roles.partition_point(|&(u, _)| u < user);
        user_roles[from..]
            .iter()
            .take_while(move |&&(u, _)| u == user)
            .map(|&(_, r)| r)
    };

    if converted.is_empty() {
        let mut present: Vec<&str> = plugins.iter().map(String::as_str).collect();
        present.sort_unstable();
        present.dedup();
        report.warnings.push(format!(
            "nothing to convert: no enrolment method {} in this backup (it has: {})",
            opts.from.join(", "),
            if present.is_empty() {
                "none".to_owned()
            } else {
                present.join(", ")
            }
        ));
        return Ok(noop(report));
    }
    let holder_idx = (0..instances.len())
        .find(|&i| plugins[i] == "manual")
        .unwrap_or(converted[0]);
    let holder = &instances[holder_idx];
    let holder_retyped = converted.contains(&holder_idx);
    if let Some(&first) = converted.first()
        && first < holder_idx
    {
        report.warnings.push(format!(
            "converted <enrol id=\"{}\"> comes before the manual instance {} in the backup: a restore into a new \
             course creates the manual instance from the first manual record, so instance {}'s own settings \
             (default role, enrolment duration, expiry notification, welcome message) are not restored; \
             merge restores and the enrolments themselves are unaffected",
            instances[first].id, holder.id, holder.id
        ));
    }
    let holder_disabled = holder.status(ex) != 0;
    report.target = Some(Target {
        instance_id: holder.id.clone(),
        was: plugins[holder_idx].clone(),
        enabled: holder_disabled,
    });
    for &i in &converted {
        match report.methods.iter_mut().find(|m| m.plugin == plugins[i]) {
            Some(m) => m.instances.push(instances[i].id.clone()),
            None => report.methods.push(MethodReport {
                plugin: plugins[i].clone(),
                instances: vec![instances[i].id.clone()],
                ..MethodReport::default()
            }),
        }
    }

    // Sources per user, in document order of first appearance: one flat list sorted by user (stable, so each
    // user's sources stay in document order), then users ordered by their first source.
    let mut flat: Vec<(i64, usize, usize, Values)> = Vec::new();
    for &ii in &converted {
        let inst = &instances[ii];
        for (ui, ue) in inst.enrolments.iter().enumerate() {
            let userid = required(ue, ex, inst, "userid")?;
            flat.push((userid, ii, ui, values(ue, ex, inst)?));
        }
    }
    let first_seen: HashMap<i64, usize> = flat
        .iter()
        .enumerate()
        .rev()
        .map(|(seq, s)| (s.0, seq))
        .collect();
    flat.sort_by_key(|s| (first_seen[&s.0], s.0));
    let mut groups: Vec<(i64, std::ops::Range<usize>)> = Vec::new();
    for (i, s) in flat.iter().enumerate() {
        match groups.last_mut() {
            Some((u, r)) if *u == s.0 => r.end = i + 1,
            _ => groups.push((s.0, i..i + 1)),
        }
    }
    drop(first_seen);
    let sources: Vec<(usize, usize, Values)> = flat.iter().map(|s| (s.1, s.2, s.3)).collect();
    drop(flat);
    // Moodle allows one manual instance per course; a backup with several is unusual: restore maps them all into
    // one instance and applies their rows in order, which the per-user results below cannot promise.
    let manual_count = plugins.iter().filter(|p| *p == "manual").count();
    if manual_count > 1 {
        report.warnings.push(format!(
            "this backup has {manual_count} manual instances: restore merges them into one and applies their \
             enrolments one after another, so a user enrolled in a second manual instance may end with other \
             dates than reported here"
        ));
    }
    // Existing enrolments of the holder when it was already manual: first one per user.
    let mut existing: HashMap<i64, usize> = HashMap::new();
    if !holder_retyped {
        for (ui, ue) in holder.enrolments.iter().enumerate() {
            if let Some(u) = ue.int(ex, "userid") {
                existing.entry(u).or_insert(ui);
            }
        }
    }

    let mut edits: Vec<Edit> = Vec::new();
    // New enrolments for the holder, built in one buffer: whole lines (with their indentation) when the holder's
    // <user_enrolments> closes on a line of its own, else bare elements.
    let line_mode = appends_lines(ex, holder);
    let mut appended: Vec<u8> = Vec::new();
    let mut combined: HashSet<usize> = HashSet::new();
    let remove = |edits: &mut Vec<Edit>, ue: &UserEnrolment| {
        edits.push(Edit::delete(xml::line_span(ex, ue.span.clone())));
    };

    report.users.reserve_exact(groups.len());
    for (userid, range) in &groups {
        let srcs = &sources[range.clone()];
        let effective =
            |&(ii, _, v): &(usize, usize, Values)| v.status == 0 && instances[ii].status(ex) == 0;
        let active: Vec<_> = srcs.iter().filter(|s| effective(s)).collect();
        let is_active = !active.is_empty();
        let pool: Vec<_> = if is_active {
            active
        } else {
            srcs.iter().collect()
        };
        let timestart = pool.iter().map(|s| s.2.timestart).min().unwrap_or(0);
        let timeend = pool.iter().map(|s| s.2.timeend).fold(None, |acc, e| {
            Some(match acc {
                None => e,
                Some(a) => later_end(a, e),
            })
        });
        let mut result = Values {
            status: if is_active { 0 } else { 1 },
            timestart,
            timeend: timeend.unwrap_or(0),
        };
        let stamp = roles_of(*userid).any(|id| stamp_ids.contains(&id));
        let mut stamped = false;
        let manual;
        match existing.get(userid) {
            Some(&ei) if !is_active => {
                // Restore never suspends an active manual enrolment either: keep it exactly.
                let e = &holder.enrolments[ei];
                result = values(e, ex, holder)?;
                if holder_disabled && result.status == 0 {
                    result.status = 1;
                }
                for s in srcs {
                    remove(&mut edits, &instances[s.0].enrolments[s.1]);
                }
                manual = "kept";
            }
            Some(&ei) => {
                let e = &holder.enrolments[ei];
                let ev = values(e, ex, holder)?;
                // The existing enrolment is one more source: its dates count only when it is effectively
                // active (a suspended one, or one in a disabled instance, gives no access to widen).
                if ev.status == 0 && !holder_disabled {
                    result = Values {
                        status: 0,
                        timestart: result.timestart.min(ev.timestart),
                        timeend: later_end(result.timeend, ev.timeend),
                    };
                }
                if stamp {
                    result.timeend = opts.until;
                    stamped = true;
                }
                combined.insert(ei);
                edits.extend(set_values(ex, e, result));
                for s in srcs {
                    remove(&mut edits, &instances[s.0].enrolments[s.1]);
                }
                manual = "combined";
            }
            None => {
                if stamp {
                    result.timeend = opts.until;
                    stamped = true;
                }
                let (fi, fu, _) = srcs[0];
                let first = &instances[fi].enrolments[fu];
                if fi == holder_idx {
                    edits.extend(set_values(ex, first, result));
                    for s in &srcs[1..] {
                        remove(&mut edits, &instances[s.0].enrolments[s.1]);
                    }
                } else {
                    let range = if line_mode {
                        xml::line_span(ex, first.span.clone())
                    } else {
                        first.span.clone()
                    };
                    let inner = set_values(ex, first, result)
                        .into_iter()
                        .map(|e| {
                            Edit::replace(
                                e.range.start - range.start..e.range.end - range.start,
                                e.with,
                            )
                        })
                        .collect();
                    let copy =
                        xml::splice(&ex[range], inner).map_err(|source| EnrolError::Edit {
                            member: ENROLMENTS,
                            source,
                        })?;
                    appended.extend_from_slice(&copy);
                    for s in srcs {
                        remove(&mut edits, &instances[s.0].enrolments[s.1]);
                    }
                }
                manual = "new";
            }
        }
        if stamped && result.timestart > opts.until {
            report.warnings.push(format!(
                "user {userid}: start {} is after the stamped end {}: the enrolment gives no access",
                result.timestart, opts.until
            ));
        }
        let mut methods: Vec<String> = srcs.iter().map(|s| plugins[s.0].clone()).collect();
        methods.dedup();
        methods.sort();
        methods.dedup();
        let merged = manual != "new";
        for m in &methods {
            if let Some(mr) = report.methods.iter_mut().find(|r| r.plugin == *m) {
                mr.users_converted += 1;
                mr.stamped += usize::from(stamped);
                mr.suspended += usize::from(result.status != 0);
                mr.merged_with_manual += usize::from(merged);
            }
        }
        report.totals.users_converted += 1;
        report.totals.stamped += usize::from(stamped);
        report.totals.suspended += usize::from(result.status != 0);
        report.totals.merged_with_manual += usize::from(merged);
        report.users.push(UserOutcome {
            userid: *userid,
            methods,
            roles: roles_of(*userid)
                .map(|id| {
                    role_names
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| id.to_string())
                })
                .collect(),
            status: result.status,
            timestart: result.timestart,
            timeend: result.timeend,
            stamped,
            manual,
        });
    }

    // A disabled manual holder is enabled; its active enrolments are suspended so nobody gains access.
    if holder_disabled && !holder_retyped {
        if let Some(f) = holder.fields.get("status") {
            edits.extend(set(ex, f, "status", "0"));
        }
        for (ui, ue) in holder.enrolments.iter().enumerate() {
            if combined.contains(&ui) {
                continue;
            }
            if ue.int(ex, "status") == Some(0)
                && let Some(f) = ue.fields.get("status")
            {
                edits.extend(set(ex, &f, "status", "1"));
                report.manual_enrolments_suspended += 1;
            }
        }
    }

    // Retype every converted instance.
    for &ii in &converted {
        let inst = &instances[ii];
        let mut put = |name: &str, value: &str| {
            if let Some(f) = inst.fields.get(name) {
                edits.extend(set(ex, f, name, value));
            }
        };
        put("enrol", "manual");
        put("status", "0");
        for name in NULLED {
            put(name, xml::NULL);
        }
        for name in ZEROED {
            put(name, "0");
        }
        put("expirythreshold", "86400");
        for child in &inst.plugin_children {
            edits.push(Edit::delete(xml::line_span(ex, child.clone())));
        }
    }

    // New enrolments go at the end of the holder's <user_enrolments>.
    if !appended.is_empty() {
        edits.push(append_enrolments(ex, holder, appended, line_mode));
    }

    // The model is not needed for the splice: freed first, so it and the rewritten document are never held at
    // once (peak memory).
    drop(sources);
    drop(instances);
    let enrolments = xml::splice(ex, edits).map_err(|source| EnrolError::Edit {
        member: ENROLMENTS,
        source,
    })?;

    // Role assignments and group members of converted plugins become plain manual ones.
    let course_roles = match docs.course_roles {
        Some(x) => apply_role_ops(x, role_ops)?,
        None => None,
    };
    let groups = match docs.groups {
        Some(x) => rewrite_members(x, &components, &mut report)?,
        None => None,
    };

    Ok(Conversion {
        enrolments: (enrolments != ex).then_some(enrolments),
        course_roles,
        groups,
        report,
    })
}

/// The edit adding `items` (whole-line and bare forms) as the last children of the holder's
/// `<user_enrolments>`, creating the container when needed.
/// The indentation before `pos` when only spaces or tabs precede it on its line.
fn indent_of(ex: &[u8], pos: usize) -> Option<&[u8]> {
    let line_start = ex[..pos]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let prefix = &ex[line_start..pos];
    prefix
        .iter()
        .all(|b| matches!(b, b' ' | b'\t'))
        .then_some(prefix)
}

/// Whether new enrolments go in as whole indented lines (Moodle's layout) or as bare elements.
fn appends_lines(ex: &[u8], holder: &Instance) -> bool {
    match &holder.user_enrolments {
        Some(c) if !c.empty_tag => indent_of(ex, c.content.end).is_some(),
        Some(_) => true,
        None => false,
    }
}

/// The edit adding `items` (built per [`appends_lines`]) as the last children of the holder's
/// `<user_enrolments>`, creating the container when needed.
fn append_enrolments(ex: &[u8], holder: &Instance, items: Vec<u8>, line_mode: bool) -> Edit {
    match &holder.user_enrolments {
        Some(c) if !c.empty_tag => {
            let close = c.content.end;
            match indent_of(ex, close) {
                Some(indent) if line_mode => Edit::insert(close - indent.len(), items),
                _ => Edit::insert(close, items),
            }
        }
        Some(c) => {
            let indent = indent_of(ex, c.span.start).unwrap_or_default();
            let mut with = b"<user_enrolments>\n".to_vec();
            with.extend_from_slice(&items);
            with.extend_from_slice(indent);
            with.extend_from_slice(b"</user_enrolments>");
            Edit::replace(c.span.clone(), with)
        }
        None => {
            // Before the holder's closing tag.
            let close = ex[holder.span.clone()]
                .windows(2)
                .rposition(|w| w == b"</")
                .map_or(holder.span.end, |i| holder.span.start + i);
            let mut with = b"<user_enrolments>".to_vec();
            with.extend_from_slice(&items);
            with.extend_from_slice(b"</user_enrolments>");
            Edit::insert(close, with)
        }
    }
}

/// Below this size a second thread costs more than it saves.
const PARALLEL_PARSE: usize = 1 << 20;

/// Parses enrolments.xml, and course/roles.xml on another thread when both are large (`None`: not parsed).
#[allow(clippy::type_complexity)]
fn parse_both(
    ex: &[u8],
    roles: Option<&[u8]>,
) -> (
    Result<Vec<Instance>, XmlError>,
    Option<Result<Vec<model::Assignment>, XmlError>>,
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

/// One converted role assignment's rewrite: removed (an exact duplicate of a manual one), or made manual.
enum RoleOp {
    Delete(std::ops::Range<usize>),
    Manual(Option<Field>, Option<Field>),
}

/// The rewrite of `course/roles.xml`: assignments of converted plugins become manual (component '', itemid 0),
/// and one that would duplicate a manual assignment (same role and user) is removed.
fn plan_assignments(
    x: &[u8],
    assignments: &[model::Assignment],
    components: &BTreeSet<String>,
    report: &mut Report,
) -> Vec<RoleOp> {
    let component_of = |a: &model::Assignment| a.component.as_ref().map(|c| c.text(x));
    let mut manual: HashSet<(i64, i64)> = assignments
        .iter()
        .filter(|a| component_of(a).is_none_or(|c| c.is_empty()))
        .filter_map(|a| Some((a.roleid?, a.userid?)))
        .collect();
    let mut ops = Vec::new();
    for a in assignments {
        let Some(comp) = component_of(a) else {
            continue;
        };
        if !components.contains(comp.trim()) {
            continue;
        }
        let key = a.roleid.zip(a.userid);
        if key.is_some_and(|k| manual.contains(&k)) {
            ops.push(RoleOp::Delete(xml::line_span(x, a.span.clone())));
            report.role_assignments_removed += 1;
            continue;
        }
        if let Some(k) = key {
            manual.insert(k);
        }
        ops.push(RoleOp::Manual(a.component.clone(), a.itemid.clone()));
        report.role_assignments_rewritten += 1;
    }
    ops.shrink_to_fit();
    ops
}

fn apply_role_ops(x: &[u8], ops: Vec<RoleOp>) -> Result<Option<Vec<u8>>, EnrolError> {
    let mut edits = Vec::with_capacity(ops.len() * 2);
    for op in ops {
        match op {
            RoleOp::Delete(span) => edits.push(Edit::delete(span)),
            RoleOp::Manual(component, itemid) => {
                if let Some(c) = &component {
                    edits.extend(set(x, c, "component", ""));
                }
                if let Some(i) = &itemid {
                    edits.extend(set(x, i, "itemid", "0"));
                }
            }
        }
    }
    finish(x, edits, COURSE_ROLES)
}

fn rewrite_members(
    x: &[u8],
    components: &BTreeSet<String>,
    report: &mut Report,
) -> Result<Option<Vec<u8>>, EnrolError> {
    let members = model::parse_group_members(x).map_err(|source| EnrolError::Xml {
        member: GROUPS,
        source,
    })?;
    let mut edits = Vec::new();
    for m in &members {
        let Some(c) = &m.component else { continue };
        if !components.contains(c.text(x).trim()) {
            continue;
        }
        edits.extend(set(x, c, "component", ""));
        if let Some(i) = &m.itemid {
            edits.extend(set(x, i, "itemid", "0"));
        }
        report.group_members_rewritten += 1;
    }
    finish(x, edits, GROUPS)
}

fn finish(x: &[u8], edits: Vec<Edit>, member: &'static str) -> Result<Option<Vec<u8>>, EnrolError> {
    if edits.is_empty() {
        return Ok(None);
    }
    let out = xml::splice(x, edits).map_err(|source| EnrolError::Edit { member, source })?;
    Ok((out != x).then_some(out))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
