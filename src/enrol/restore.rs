//! What Moodle stores when a converted or renewed archive is restored, per restore target: a new course, an
//! existing course without these users, or merged into the live course the backup came from. One model of
//! Moodle's restore for manual and self user enrolments, used by convert, renew, plan and the reports; and the
//! shaping that makes a merge apply a promised later end (Moodle 4.3 and 5.0 `enrol/manual/lib.php`,
//! `enrol_manual_plugin::restore_user_enrolment()`; `enrol/self/lib.php`, `enrol_self_plugin::restore_user_enrolment()`).

use serde::Serialize;

use super::model::Values;

/// Where the archive is restored, which decides what Moodle stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// "Restore as a new course": the archive's values, as written.
    New,
    /// Into an existing course that does not enrol these users (emptied first, or another course).
    Existing,
    /// "Merge the backup course into this course", into the live course the backup came from (the documented
    /// route): Moodle's merge rule against the live course's current manual enrolments.
    #[default]
    Live,
}

impl Target {
    /// Every target, in the order the reports list them.
    pub const ALL: [Target; 3] = [Target::New, Target::Existing, Target::Live];

    /// The lowercase name (`new`, `existing`, `live`).
    pub fn as_str(self) -> &'static str {
        match self {
            Target::New => "new",
            Target::Existing => "existing",
            Target::Live => "live",
        }
    }
}

/// What one restore of one `<enrolment>` stores, and whether Moodle calls `enrol_user()` for it (which fires the
/// `after_user_enrolled` hook: Moodle 4.4 and later mail the course welcome message there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Stored {
    /// The user enrolment Moodle keeps.
    pub values: Values,
    /// `enrol_user()` was called (a write, and the welcome-message hook).
    pub enrols: bool,
}

/// Moodle's `enrol_manual_plugin::restore_user_enrolment()` (`enrol/manual/lib.php`, identical in 4.3 and 5.0):
/// `live` is the user's enrolment in the target course's manual instance, if any; `archive` the `<enrolment>`'s
/// values; `archive_instance_enabled` whether its parent `<enrol>` has status 0; `target_instance_enabled` the
/// target manual instance's status.
///
/// ```text
/// if ($ue and $ue->status == ENROL_USER_ACTIVE) {          // live active: merge the times only
///     if ($data->status == ENROL_USER_ACTIVE) {
///         if ($data->timestart > $ue->timestart) { $data->timestart = $ue->timestart; $enrol = true; }
///         if ($data->timeend == 0) { if ($ue->timeend != 0) { $enrol = true; } }
///         else if ($ue->timeend == 0) { $data->timeend = 0; }
///         else if ($data->timeend < $ue->timeend) { $data->timeend = $ue->timeend; $enrol = true; }
///     }
/// } else {                                                  // none or suspended: the archive overwrites
///     if ($instance->status == ENABLED and $oldinstancestatus != ENABLED) { $data->status = SUSPENDED; }
///     $enrol = true;
/// }
/// if ($enrol) { $this->enrol_user($instance, $userid, null, $data->timestart, $data->timeend, $data->status); }
/// ```
pub fn manual_restore(
    live: Option<Values>,
    archive: Values,
    archive_instance_enabled: bool,
    target_instance_enabled: bool,
) -> Stored {
    match live {
        Some(e) if e.status == 0 => {
            if archive.status != 0 {
                return Stored {
                    values: e,
                    enrols: false,
                };
            }
            let mut d = archive;
            let mut enrol = false;
            if d.timestart > e.timestart {
                d.timestart = e.timestart;
                enrol = true;
            }
            if d.timeend == 0 {
                if e.timeend != 0 {
                    enrol = true;
                }
            } else if e.timeend == 0 {
                d.timeend = 0;
            } else if d.timeend < e.timeend {
                d.timeend = e.timeend;
                enrol = true;
            }
            // enrol_user() writes start, end and status only when asked to; otherwise the live row stays.
            if enrol {
                Stored {
                    values: d,
                    enrols: true,
                }
            } else {
                Stored {
                    values: e,
                    enrols: false,
                }
            }
        }
        _ => {
            let mut d = archive;
            if target_instance_enabled && !archive_instance_enabled {
                d.status = 1;
            }
            Stored {
                values: d,
                enrols: true,
            }
        }
    }
}

/// Moodle's `enrol_self_plugin::restore_user_enrolment()` (`enrol/self/lib.php`): `enrol_user()` with the
/// archive's start, end and status, which overwrites whatever the target holds.
pub fn self_restore(archive: Values) -> Stored {
    Stored {
        values: archive,
        enrols: true,
    }
}

/// The values to write into the archive so that a merge into a live course holding `live` stores `promise`
/// (as far as Moodle's rule allows). Moodle applies a later end only when the archive's start is later than
/// the live start: then it keeps the live start and the later end. So when the promise extends an active live
/// enrolment that has an end, the archive's start becomes the live start plus one second. A new-course restore
/// then starts one second after the live start. Everything else is written as promised.
pub fn shape(live: Option<Values>, promise: Values) -> Values {
    let Some(e) = live else { return promise };
    let extends = e.status == 0
        && promise.status == 0
        && e.timeend != 0
        && promise.timeend > e.timeend
        && promise.timestart <= e.timestart;
    match e.timestart.checked_add(1) {
        Some(start) if extends && start < promise.timeend => Values {
            timestart: start,
            ..promise
        },
        _ => promise,
    }
}

/// The live course a merge meets, read from a fresh backup of it (same site: user ids are the site's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveCourse {
    /// The users' enrolments in its first manual instance (the one a merge maps every manual record into).
    pub enrolments: std::collections::BTreeMap<i64, Values>,
    /// That instance is enabled (a merge never changes it).
    pub enabled: bool,
}

/// One user's enrolment as each target would store it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Restored as a new course.
    pub new: Values,
    /// Restored into an existing course that does not enrol the user.
    pub existing: Values,
    /// Merged into the live course.
    pub live: Values,
    /// The live merge calls `enrol_user()` (a welcome message where the live method sends one).
    pub live_enrols: bool,
}

impl Outcomes {
    /// The outcome for `target`.
    pub fn get(&self, target: Target) -> Values {
        match target {
            Target::New => self.new,
            Target::Existing => self.existing,
            Target::Live => self.live,
        }
    }
}

/// The three outcomes of a manual `<enrolment>` holding `written` (in an `<enrol>` enabled or not) restored
/// into each target; `live` is the live course's manual enrolment and `live_instance_enabled` its instance's
/// status.
pub fn manual_outcomes(
    written: Values,
    archive_instance_enabled: bool,
    live: Option<Values>,
    live_instance_enabled: bool,
) -> Outcomes {
    let merged = manual_restore(
        live,
        written,
        archive_instance_enabled,
        live_instance_enabled,
    );
    Outcomes {
        new: written,
        existing: manual_restore(None, written, archive_instance_enabled, true).values,
        live: merged.values,
        live_enrols: merged.enrols,
    }
}

/// Something no archive can make Moodle's merge do for one user, or that the merge does besides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// The live enrolment has no end: a merge never adds one.
    StaysUnlimited,
    /// The live enrolment is active: a merge never suspends it.
    StaysActive,
    /// The live enrolment ends later: a merge never brings an end forward.
    KeepsLaterEnd {
        /// The live end.
        end: i64,
    },
    /// The live enrolment starts later and nothing else changes: the earlier start is not applied.
    KeepsLaterStart {
        /// The live start.
        start: i64,
    },
    /// The live enrolment starts earlier: a merge never moves a start later.
    KeepsEarlierStart {
        /// The live start.
        start: i64,
    },
    /// A group membership the live course already has, owned by a synced method: the merge skips it (Moodle's
    /// `restore_groups_members_structure_step` adds a member only "if not member already"), and the cutoff
    /// sync removes it with the synced enrolment.
    GroupOwnedBySync {
        /// The group's name.
        group: String,
        /// The owning component (`enrol_cohort`, `enrol_meta`, …).
        component: String,
    },
}

impl Limit {
    /// A short name (`stays_unlimited`, `stays_active`, `keeps_later_end`, `keeps_later_start`,
    /// `keeps_earlier_start`, `group_after_cutoff`).
    pub fn kind(&self) -> &'static str {
        match self {
            Limit::StaysUnlimited => "stays_unlimited",
            Limit::StaysActive => "stays_active",
            Limit::KeepsLaterEnd { .. } => "keeps_later_end",
            Limit::KeepsLaterStart { .. } => "keeps_later_start",
            Limit::KeepsEarlierStart { .. } => "keeps_earlier_start",
            Limit::GroupOwnedBySync { .. } => "group_after_cutoff",
        }
    }

    /// What happens, in an admin's words, and what to do instead.
    pub fn words(&self) -> String {
        match self {
            Limit::StaysUnlimited => "stays unlimited in the live course: a merge never adds an end to an active \
                 enrolment that has none (a plan compared with a fresh backup of the course, applied by Upload \
                 users or on the participants page, sets it)"
                .into(),
            Limit::StaysActive => "stays active in the live course: a merge never suspends an active enrolment \
                 (a plan compared with a fresh backup of the course, applied by Upload users or on the participants \
                 page, suspends it)"
                .into(),
            Limit::KeepsLaterEnd { .. } => "keeps its later end in the live course: a merge never shortens an \
                 active enrolment (a plan compared with a fresh backup of the course, applied by Upload users or on \
                 the participants page, sets it)"
                .into(),
            Limit::KeepsLaterStart { .. } => "keeps its later start in the live course: a merge applies an \
                 earlier start only together with another change (a plan compared with a fresh backup of the course \
                 sets it)"
                .into(),
            Limit::KeepsEarlierStart { .. } => "keeps its earlier start in the live course: a merge never moves \
                 a start later (the participants page sets it)"
                .into(),
            Limit::GroupOwnedBySync { group, component } => format!(
                "group `{group}`: the live course already has this membership, owned by {component}, so a merge \
                 skips it, and the cutoff sync removes it with the synced enrolment; merge this archive again \
                 after the cutoff sync has run (a second merge restores it as a plain membership), or add it \
                 with the ws or Upload users plan"
            ),
        }
    }
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Limit", 2)?;
        st.serialize_field("kind", self.kind())?;
        st.serialize_field("words", &self.words())?;
        st.end()
    }
}

/// Why the live merge does not store `promise`, given the live enrolment `live` and what it stores.
pub fn limits(promise: Values, live: Option<Values>, stored: Values) -> Vec<Limit> {
    let Some(e) = live.filter(|e| e.status == 0) else {
        return Vec::new();
    };
    if stored == promise {
        return Vec::new();
    }
    let mut out = Vec::new();
    if promise.status != 0 {
        out.push(Limit::StaysActive);
        return out;
    }
    if e.timeend == 0 && promise.timeend != 0 {
        out.push(Limit::StaysUnlimited);
    } else if promise.timeend != 0 && stored.timeend > promise.timeend {
        out.push(Limit::KeepsLaterEnd {
            end: stored.timeend,
        });
    }
    if out.is_empty() && stored.timestart > promise.timestart && stored.timestart == e.timestart {
        out.push(Limit::KeepsLaterStart { start: e.timestart });
    }
    if out.is_empty() && stored.timestart < promise.timestart {
        out.push(Limit::KeepsEarlierStart {
            start: stored.timestart,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::v;

    #[test]
    fn every_branch_of_moodles_rule() {
        // (live, archive, archive instance enabled, live instance enabled) -> (stored, enrol_user() called).
        let cases = [
            // No live enrolment, or a suspended one: the archive overwrites.
            (None, v(0, 5, 9), true, true, v(0, 5, 9), true),
            (Some(v(1, 1, 2)), v(0, 5, 9), true, true, v(0, 5, 9), true),
            // Archive instance disabled, target enabled: forced suspended.
            (None, v(0, 5, 9), false, true, v(1, 5, 9), true),
            (None, v(0, 5, 9), false, false, v(0, 5, 9), true),
            // Live active, archive suspended: nothing.
            (Some(v(0, 1, 2)), v(1, 5, 9), true, true, v(0, 1, 2), false),
            // Later archive start: live start, later end.
            (Some(v(0, 1, 5)), v(0, 3, 9), true, true, v(0, 1, 9), true),
            // Equal start, later end: nothing (year two without shaping).
            (Some(v(0, 3, 5)), v(0, 3, 9), true, true, v(0, 3, 5), false),
            // Earlier start, later end: nothing.
            (Some(v(0, 3, 5)), v(0, 1, 9), true, true, v(0, 3, 5), false),
            // Archive unlimited, live finite: unlimited, earlier start kept.
            (Some(v(0, 3, 5)), v(0, 1, 0), true, true, v(0, 1, 0), true),
            // Live unlimited: stays.
            (Some(v(0, 3, 0)), v(0, 5, 9), true, true, v(0, 3, 0), true),
            (Some(v(0, 3, 0)), v(0, 1, 9), true, true, v(0, 3, 0), false),
            // Earlier archive end: live end kept, the write happens.
            (Some(v(0, 3, 9)), v(0, 5, 5), true, true, v(0, 3, 9), true),
        ];
        for (live, archive, a_on, l_on, values, enrols) in cases {
            assert_eq!(
                manual_restore(live, archive, a_on, l_on),
                Stored { values, enrols },
                "{live:?} {archive:?} {a_on} {l_on}"
            );
        }
    }

    #[test]
    fn shaping_makes_the_merge_store_the_later_end() {
        for (live, promise) in [
            (v(0, 3, 5), v(0, 3, 9)),
            (v(0, 3, 5), v(0, 1, 9)),
            (v(0, 0, 5), v(0, 0, 9)),
        ] {
            let written = shape(Some(live), promise);
            assert_eq!(written.timestart, live.timestart + 1);
            let stored = manual_restore(Some(live), written, true, true).values;
            assert_eq!(stored, v(0, live.timestart, promise.timeend));
        }
        // Nothing to shape: no live, suspended live, unlimited either side, no extension.
        for (live, promise) in [
            (None, v(0, 3, 9)),
            (Some(v(1, 3, 5)), v(0, 3, 9)),
            (Some(v(0, 3, 0)), v(0, 3, 9)),
            (Some(v(0, 3, 5)), v(0, 3, 0)),
            (Some(v(0, 3, 9)), v(0, 3, 5)),
            (Some(v(0, 3, 5)), v(1, 3, 9)),
            (Some(v(0, 3, 5)), v(0, 4, 9)),
        ] {
            assert_eq!(shape(live, promise), promise);
        }
    }

    #[test]
    fn limits_name_what_no_archive_can_do() {
        let l = |e: Values, p: Values| {
            let w = shape(Some(e), p);
            limits(p, Some(e), manual_restore(Some(e), w, true, true).values)
        };
        assert_eq!(l(v(0, 3, 0), v(0, 3, 9)), vec![Limit::StaysUnlimited]);
        assert_eq!(l(v(0, 3, 5), v(1, 3, 9)), vec![Limit::StaysActive]);
        assert_eq!(
            l(v(0, 3, 12), v(0, 3, 9)),
            vec![Limit::KeepsLaterEnd { end: 12 }]
        );
        assert!(l(v(0, 3, 5), v(0, 3, 9)).is_empty());
        assert!(l(v(0, 3, 5), v(0, 3, 0)).is_empty());
    }
}
