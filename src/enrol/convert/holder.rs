//! The holder: the manual instance that receives every converted enrolment (the backup's first manual
//! instance, else the first converted one, retyped), and the enrolments it already has.

use super::read::Instances;
use super::{MethodReport, Report, Target};
use crate::enrol::model;
use crate::enrol::warning::Warning;
use crate::fast_hash::IdMap;

/// The chosen holder.
pub(super) struct Holder {
    /// Its position among the instances.
    pub idx: usize,
    /// It is one of the converted instances (no manual instance in the backup).
    pub retyped: bool,
    /// It was disabled (convert enables it).
    pub disabled: bool,
}

impl Holder {
    /// Chooses the holder among `set` (which converts at least one instance), and records it and the
    /// converted methods in `report`.
    pub fn choose(set: &Instances<'_>, report: &mut Report) -> Self {
        let idx = model::first_manual(&set.all, set.ex).map_or(set.converted[0], |(i, _)| i);
        let holder = &set.all[idx];
        if let Some(&first) = set.converted.first()
            && first < idx
        {
            report.warnings.push(Warning::Note(format!(
                "converted <enrol id=\"{}\"> comes before the manual instance {} in the backup: a restore into a new \
                 course creates the manual instance from the first manual record, so instance {}'s own settings \
                 (default role, enrolment duration, expiry notification, welcome message) are not restored; \
                 merge restores and the enrolments themselves are unaffected",
                set.all[first].id, holder.id, holder.id
            )));
        }
        let disabled = holder.status(set.ex) != 0;
        report.target = Some(Target {
            instance_id: holder.id.clone(),
            was: set.plugins[idx].clone(),
            enabled: disabled,
        });
        for &i in &set.converted {
            match report
                .methods
                .iter_mut()
                .find(|m| m.plugin == set.plugins[i])
            {
                Some(m) => m.instances.push(set.all[i].id.clone()),
                None => report.methods.push(MethodReport {
                    plugin: set.plugins[i].clone(),
                    instances: vec![set.all[i].id.clone()],
                    ..MethodReport::default()
                }),
            }
        }
        Holder {
            idx,
            retyped: set.converted.contains(&idx),
            disabled,
        }
    }

    /// The holder's own enrolments when it was already manual: user id to the position of the user's first one.
    pub fn existing(&self, set: &Instances<'_>) -> IdMap<i64, usize> {
        let mut existing = IdMap::default();
        if !self.retyped {
            for (ui, ue) in set.all[self.idx].enrolments.iter().enumerate() {
                if let Some(u) = ue.int(set.ex, "userid") {
                    existing.entry(u).or_insert(ui);
                }
            }
        }
        existing
    }
}
