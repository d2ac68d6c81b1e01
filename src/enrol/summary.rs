//! What a backup holds, enrolment-wise: instances with their user counts, role assignments and group
//! members by component, and the warnings an admin should read before converting or restoring.

use std::collections::BTreeMap;

use serde::Serialize;

use super::error::EnrolError;
use super::members::{COURSE_ROLES, Docs, ENROLMENTS, GROUPS};
use super::model::{self, MANUAL};

/// One `<enrol>` instance.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceSummary {
    /// `<enrol id>` (numeric in every Moodle backup; `null` otherwise).
    pub id: Option<i64>,
    /// Plugin name.
    pub plugin: String,
    /// 0 enabled, 1 disabled.
    pub status: i64,
    /// Default or synced role id (0 = none).
    pub roleid: Option<i64>,
    /// Number of `<enrolment>` rows.
    pub users: usize,
    /// Of them, status 1.
    pub users_suspended: usize,
}

/// The enrolment side of a backup.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    /// Instances in document (sort) order.
    pub enrol_instances: Vec<InstanceSummary>,
    /// Course role assignments by component (`""` = manual).
    pub role_assignments_by_component: BTreeMap<String, usize>,
    /// Group members by component (`""` = manual).
    pub group_members_by_component: BTreeMap<String, usize>,
    /// Things an admin should know.
    pub warnings: Vec<String>,
}

/// Summarises `docs`.
///
/// # Errors
/// [`EnrolError`] when a member is malformed.
pub fn summarize(docs: &Docs<'_>) -> Result<Summary, EnrolError> {
    let mut s = Summary::default();
    if let Some(x) = docs.enrolments {
        let instances = model::parse_enrolments(x).map_err(EnrolError::xml(ENROLMENTS))?;
        let manual = instances.iter().filter(|i| i.is_manual(x)).count();
        if manual > 1 {
            s.warnings.push(format!(
                "{manual} manual instances: Moodle allows one per course; restore merges them into one and applies \
                 their enrolments one after another"
            ));
        }
        // What a merge into this course (the live one) will meet: Moodle's restore rule (`super::restore`).
        if let Some((_, m)) = model::first_manual(&instances, x) {
            let unlimited = m
                .enrolments
                .iter()
                .filter_map(|e| e.values_if_present(x))
                .filter(|v| v.status == 0 && v.timeend == 0)
                .count();
            if unlimited > 0 {
                s.warnings.push(format!(
                    "{unlimited} active manual enrolment(s) without an end: merged back into this course, a converted \
                     or renewed archive {}",
                    super::restore::Limit::StaysUnlimited.words().replacen("stays", "leaves them", 1)
                ));
            }
        }
        for inst in &instances {
            let plugin = inst.plugin(x);
            let status = inst.status(x);
            let suspended = inst
                .enrolments
                .iter()
                .filter(|e| e.int(x, "status").is_some_and(|v| v != 0))
                .count();
            if plugin == MANUAL {
                if status != 0 {
                    s.warnings.push(format!(
                        "manual instance {} is disabled: its enrolments give no access (convert enables it and \
                         suspends its active enrolments)",
                        inst.id
                    ));
                }
                if inst.int(x, "customint1").is_some_and(|v| v != 0) {
                    s.warnings.push(format!(
                        "manual instance {} sends course welcome messages (customint1 = {}): on Moodle 4.4+ a \
                         restore mails every restored user",
                        inst.id,
                        inst.int(x, "customint1").unwrap_or_default()
                    ));
                }
            }
            if matches!(plugin.as_str(), "cohort" | "meta") && !inst.enrolments.is_empty() {
                s.warnings.push(format!(
                    "{plugin} instance {} ({} users): Moodle drops it when restoring on another site and \
                     re-syncs it on the same site; convert it to keep these enrolments",
                    inst.id,
                    inst.enrolments.len()
                ));
            }
            if plugin == "database" && !inst.enrolments.is_empty() {
                s.warnings.push(format!(
                    "database instance {} ({} users): restore drops it when enrol_database is disabled and \
                     restores its users suspended otherwise; convert it to keep these enrolments",
                    inst.id,
                    inst.enrolments.len()
                ));
            }
            s.enrol_instances.push(InstanceSummary {
                id: inst.id.trim().parse().ok(),
                plugin,
                status,
                roleid: inst.int(x, "roleid"),
                users: inst.enrolments.len(),
                users_suspended: suspended,
            });
        }
    } else {
        s.warnings.push(format!(
            "no {ENROLMENTS}: the backup holds no enrolment methods"
        ));
    }
    if let Some(x) = docs.course_roles {
        let assignments = model::parse_assignments(x).map_err(EnrolError::xml(COURSE_ROLES))?;
        for a in &assignments {
            let c = a.component.as_ref().map(|c| c.text(x)).unwrap_or_default();
            *s.role_assignments_by_component.entry(c).or_default() += 1;
        }
    }
    if let Some(x) = docs.groups {
        let members = model::parse_group_members(x).map_err(EnrolError::xml(GROUPS))?;
        for m in &members {
            let c = m.component.as_ref().map(|c| c.text(x)).unwrap_or_default();
            *s.group_members_by_component.entry(c).or_default() += 1;
        }
    }
    Ok(s)
}
