//! The change proof of `verify --against`: same members, untouched members identical, the rewritten XML
//! changed only inside enrolment, role-assignment and group-member records, and a per-user before/after table.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::scan::{Found, Scan};
use super::{Book, checks};
use crate::enrol::model;
use crate::xml::{self, Edit};

/// Members a conversion may rewrite.
const REWRITABLE: &[&str] = &[
    "course/enrolments.xml",
    "course/roles.xml",
    "groups.xml",
    ".ARCHIVE_INDEX",
];

/// What changed between the original and the archive.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Changes {
    /// Members whose bytes differ.
    pub members_rewritten: Vec<String>,
    /// Instances whose settings changed.
    pub instances: Vec<InstanceChange>,
    /// Users whose enrolments, roles or groups changed.
    pub users: Vec<UserChange>,
    /// Users present in either archive whose state did not change.
    pub users_unchanged: usize,
}

/// One `<enrol>` whose settings changed.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceChange {
    /// `<enrol id>`.
    pub id: String,
    /// Plugin before.
    pub before: String,
    /// Plugin after.
    pub after: String,
    /// Changed fields: name, before, after.
    pub fields: Vec<(String, String, String)>,
    /// Number of user enrolments before and after.
    pub enrolments: (usize, usize),
}

/// One user's state before and after.
#[derive(Debug, Clone, Serialize)]
pub struct UserChange {
    /// `userid`.
    pub userid: i64,
    /// From users.xml.
    pub username: Option<String>,
    /// Before.
    pub before: UserState,
    /// After.
    pub after: UserState,
}

/// A user's enrolments, roles and groups in one archive.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct UserState {
    /// Enrolments.
    pub enrolments: Vec<Enrolment>,
    /// Role shortnames, with the component when not manual: `student (enrol_cohort)`.
    pub roles: Vec<String>,
    /// Group names, with the component when not manual.
    pub groups: Vec<String>,
}

/// One user enrolment.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Enrolment {
    /// `<enrol id>`.
    pub instance: String,
    /// Its plugin.
    pub method: String,
    /// 0 active, 1 suspended (`None`: not an integer).
    pub status: Option<i64>,
    /// Start.
    pub timestart: Option<i64>,
    /// End (0 = unlimited).
    pub timeend: Option<i64>,
}

fn listing(scan: &Scan) -> Vec<(&str, char)> {
    scan.members
        .iter()
        .filter(|m| m.path != ".ARCHIVE_INDEX")
        .map(|m| (m.path.as_str(), m.kind))
        .collect()
}

pub(super) fn prove(before: &Scan, after: &Scan, book: &mut Book) -> Changes {
    book.check(
        checks::SAME_MEMBERS,
        format!("same {} members in the same order", listing(after).len()),
    );
    book.check(
        checks::UNTOUCHED,
        "every member other than course/enrolments.xml, course/roles.xml, groups.xml and .ARCHIVE_INDEX is byte-identical",
    );
    book.check(
        checks::RECORDS_ONLY,
        "the XML changed only inside <enrol>, <assignment> and <group_member> records; every <enrol id> kept in order",
    );
    let (lb, la) = (listing(before), listing(after));
    if lb != la {
        let first = lb
            .iter()
            .zip(&la)
            .position(|(a, b)| a != b)
            .unwrap_or(lb.len().min(la.len()));
        book.fail(
            checks::SAME_MEMBERS,
            format!(
                "member lists differ ({} before, {} after) from position {first}: `{}` vs `{}`",
                lb.len(),
                la.len(),
                lb.get(first).map_or("(end)", |m| m.0),
                la.get(first).map_or("(end)", |m| m.0)
            ),
        );
    }
    let by_path = |s: &Scan| -> BTreeMap<String, Found> {
        s.members
            .iter()
            .map(|m| (m.path.clone(), m.clone()))
            .collect()
    };
    let (mb, ma) = (by_path(before), by_path(after));
    let mut changes = Changes::default();
    for (path, b) in &mb {
        let Some(a) = ma.get(path) else { continue };
        if a.digest != b.digest || a.kind != b.kind {
            changes.members_rewritten.push(path.clone());
            if !REWRITABLE.contains(&path.as_str()) {
                book.fail(checks::UNTOUCHED, format!("member `{path}` changed"));
            }
        }
    }
    records_only(before, after, book);
    instances(before, after, &mut changes);
    users(before, after, &mut changes);
    changes
}

/// The document with every `tag` record (as found by `spans`) cut out.
fn without(x: &[u8], spans: Vec<std::ops::Range<usize>>) -> Vec<u8> {
    let edits = spans
        .into_iter()
        .map(|s| Edit::delete(xml::line_span(x, s)))
        .collect();
    xml::splice(x, edits).unwrap_or_else(|_| x.to_vec())
}

fn records_only(before: &Scan, after: &Scan, book: &mut Book) {
    type Spans = fn(&[u8]) -> Option<Vec<std::ops::Range<usize>>>;
    let files: [(&str, Spans); 3] = [
        ("course/enrolments.xml", |x| {
            model::parse_enrolments(x)
                .ok()
                .map(|v| v.into_iter().map(|i| i.span).collect())
        }),
        ("course/roles.xml", |x| {
            model::parse_assignments(x)
                .ok()
                .map(|v| v.into_iter().map(|a| a.span).collect())
        }),
        ("groups.xml", |x| {
            model::parse_group_members(x)
                .ok()
                .map(|v| v.into_iter().map(|m| m.span).collect())
        }),
    ];
    for (path, spans) in files {
        let (Some(b), Some(a)) = (before.held.get(path), after.held.get(path)) else {
            continue;
        };
        if a == b {
            continue;
        }
        let (Some(sb), Some(sa)) = (spans(b), spans(a)) else {
            book.fail(checks::RECORDS_ONLY, format!("`{path}` cannot be parsed"));
            continue;
        };
        if without(b, sb) != without(a, sa) {
            book.fail(
                checks::RECORDS_ONLY,
                format!("`{path}` changed outside its records"),
            );
        }
    }
    if let (Some(b), Some(a)) = (
        before.held.get("course/enrolments.xml"),
        after.held.get("course/enrolments.xml"),
    ) && let (Ok(ib), Ok(ia)) = (model::parse_enrolments(b), model::parse_enrolments(a))
    {
        let ids = |v: &[model::Instance]| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
        if ids(&ib) != ids(&ia) {
            book.fail(
                checks::RECORDS_ONLY,
                format!(
                    "<enrol id>s changed: {:?} -> {:?} (role and group references would no longer map)",
                    ids(&ib),
                    ids(&ia)
                ),
            );
        }
    }
}

fn instances(before: &Scan, after: &Scan, changes: &mut Changes) {
    let (Some(b), Some(a)) = (
        before.held.get("course/enrolments.xml"),
        after.held.get("course/enrolments.xml"),
    ) else {
        return;
    };
    let (Ok(ib), Ok(ia)) = (model::parse_enrolments(b), model::parse_enrolments(a)) else {
        return;
    };
    for inst_b in &ib {
        let Some(inst_a) = ia.iter().find(|i| i.id == inst_b.id) else {
            continue;
        };
        let names: BTreeSet<&String> = inst_b.fields.keys().chain(inst_a.fields.keys()).collect();
        let mut fields = Vec::new();
        for name in names {
            let vb = inst_b.fields.get(name).map(|f| f.text(b));
            let va = inst_a.fields.get(name).map(|f| f.text(a));
            if vb != va {
                fields.push((
                    name.clone(),
                    vb.unwrap_or_else(|| "(absent)".into()),
                    va.unwrap_or_else(|| "(absent)".into()),
                ));
            }
        }
        let removed_children = inst_b.plugin_children.len() != inst_a.plugin_children.len();
        if !fields.is_empty() || removed_children {
            if removed_children {
                fields.push((
                    "(plugin elements)".into(),
                    inst_b.plugin_children.len().to_string(),
                    inst_a.plugin_children.len().to_string(),
                ));
            }
            changes.instances.push(InstanceChange {
                id: inst_b.id.clone(),
                before: inst_b.plugin(b),
                after: inst_a.plugin(a),
                fields,
                enrolments: (inst_b.enrolments.len(), inst_a.enrolments.len()),
            });
        }
    }
}

/// Every user's state in one archive.
fn states(scan: &Scan) -> BTreeMap<i64, UserState> {
    let mut out: BTreeMap<i64, UserState> = BTreeMap::new();
    if let Some(x) = scan.held.get("course/enrolments.xml")
        && let Ok(instances) = model::parse_enrolments(x)
    {
        for inst in &instances {
            for ue in &inst.enrolments {
                let Some(u) = ue.int(x, "userid") else {
                    continue;
                };
                out.entry(u).or_default().enrolments.push(Enrolment {
                    instance: inst.id.clone(),
                    method: inst.plugin(x),
                    status: ue.int(x, "status"),
                    timestart: ue.int(x, "timestart"),
                    timeend: ue.int(x, "timeend"),
                });
            }
        }
    }
    let names = scan
        .held
        .get("roles.xml")
        .and_then(|x| model::parse_role_names(x).ok())
        .unwrap_or_default();
    let label = |name: String, component: String| {
        if component.is_empty() {
            name
        } else {
            format!("{name} ({component})")
        }
    };
    if let Some(x) = scan.held.get("course/roles.xml")
        && let Ok(assignments) = model::parse_assignments(x)
    {
        for a in &assignments {
            let (Some(u), Some(r)) = (a.userid, a.roleid) else {
                continue;
            };
            let name = names
                .get(&r)
                .cloned()
                .unwrap_or_else(|| format!("role {r}"));
            let component = a.component.as_ref().map(|c| c.text(x)).unwrap_or_default();
            out.entry(u).or_default().roles.push(label(name, component));
        }
    }
    if let Some(x) = scan.held.get("groups.xml")
        && let Ok(members) = model::parse_group_members(x)
    {
        for m in &members {
            let Some(u) = m.userid else { continue };
            let component = m.component.as_ref().map(|c| c.text(x)).unwrap_or_default();
            out.entry(u)
                .or_default()
                .groups
                .push(label(m.group.clone(), component));
        }
    }
    for s in out.values_mut() {
        s.roles.sort();
        s.groups.sort();
    }
    out
}

fn users(before: &Scan, after: &Scan, changes: &mut Changes) {
    let (sb, sa) = (states(before), states(after));
    let ids: BTreeSet<i64> = sb.keys().chain(sa.keys()).copied().collect();
    for id in ids {
        let b = sb.get(&id).cloned().unwrap_or_default();
        let a = sa.get(&id).cloned().unwrap_or_default();
        if a == b {
            changes.users_unchanged += 1;
            continue;
        }
        let username = after
            .users
            .as_ref()
            .and_then(|u| u.get(&id))
            .or_else(|| before.users.as_ref().and_then(|u| u.get(&id)))
            .cloned();
        changes.users.push(UserChange {
            userid: id,
            username,
            before: b,
            after: a,
        });
    }
}
