//! The per-user step: a user's sources combined ([`merge::combine`]), then met with the holder's own
//! enrolment of that user, if any: kept as it is when the result is suspended (restore never suspends an
//! active manual enrolment either), combined with it otherwise, or written new; then the edits that say so.

use std::ops::Range;

use super::EnrolError;
use super::append::{Copies, appends_lines};
use super::holder::Holder;
use super::read::{Instances, Source};
use crate::enrol::members::ENROLMENTS;
use crate::enrol::model::{Instance, UserEnrolment, Values};
use crate::enrol::{merge, restore};
use crate::fast_hash::IdSet;
use crate::xml::{self, Edit};

/// What became of the holder's own enrolment of the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Manual {
    /// Kept exactly.
    Kept,
    /// Combined with the converted result (the enrolment at this position).
    Combined(usize),
    /// None: the result is a new enrolment.
    New,
}

impl Manual {
    /// The user already had a manual enrolment.
    pub fn merged(self) -> bool {
        self != Manual::New
    }
}

/// One user's resulting manual enrolment.
pub(super) struct Merged {
    /// Its values: the promise, what a new course gets when the start is not shaped.
    pub values: Values,
    /// What the archive holds: the promise, its start shaped so that a merge into the live course applies a
    /// later end ([`restore::shape`]).
    pub written: Values,
    /// The live course's manual enrolment a merge meets (the backup's own), if any.
    pub live: Option<Values>,
    /// The live course's manual instance is enabled.
    pub live_enabled: bool,
    /// What each restore target stores.
    pub outcomes: restore::Outcomes,
    /// What the live merge cannot do for this user.
    pub limits: Vec<restore::Limit>,
    /// `timeend` was stamped.
    pub stamped: bool,
    /// What became of the holder's own enrolment.
    pub manual: Manual,
}

/// The edits to `course/enrolments.xml` the per-user step makes.
pub(super) struct Rewrite<'s, 'a> {
    set: &'s Instances<'a>,
    holder: &'s Holder,
    /// Edits in the document.
    pub edits: Vec<Edit>,
    /// New enrolments for the holder (see `line_mode`).
    pub appended: Copies,
    /// New enrolments are whole lines (with their indentation), else bare elements.
    pub line_mode: bool,
    /// Positions of the holder's enrolments combined with a converted result.
    pub combined: IdSet<usize>,
    /// The live course a merge meets when it is not the backed-up one ([`restore::LiveCourse`]).
    live: Option<&'s restore::LiveCourse>,
    /// The replacements of the copy being added (reused).
    scratch: Vec<u8>,
}

impl<'s, 'a> Rewrite<'s, 'a> {
    pub fn new(
        set: &'s Instances<'a>,
        holder: &'s Holder,
        live: Option<&'s restore::LiveCourse>,
    ) -> Self {
        Rewrite {
            set,
            holder,
            edits: Vec::new(),
            appended: Copies::default(),
            line_mode: appends_lines(set.ex, &set.all[holder.idx]),
            combined: IdSet::default(),
            live,
            scratch: Vec::new(),
        }
    }

    fn holder_instance(&self) -> &'s Instance {
        &self.set.all[self.holder.idx]
    }

    /// Merges one user's `sources` with the holder's own enrolment at `existing`, stamps the end with
    /// `stamp` unless the holder's enrolment is kept, and writes the result.
    ///
    /// # Errors
    /// [`EnrolError::Invalid`] when the holder's enrolment lacks an integer field; internal splice errors.
    pub fn merge_user(
        &mut self,
        userid: i64,
        existing: Option<usize>,
        sources: &[Source],
        stamp: Option<i64>,
    ) -> Result<Merged, EnrolError> {
        let combined = merge::combine(sources.iter().map(|s| (s.values, s.effective)));
        let promise = match existing {
            Some(ei) if combined.status != 0 => self.keep(ei)?,
            Some(ei) => self.combine_with(ei, combined, stamp)?,
            None => stamped(combined, stamp, Manual::New),
        };
        // The live course a merge meets: a fresh backup of it when given, else the one backed up (the holder's
        // own enrolment of the user, in the holder as it was).
        let holder = self.holder_instance();
        let (live, live_enabled) = match self.live {
            Some(l) => (l.enrolments.get(&userid).copied(), l.enabled),
            None => (
                existing.and_then(|ei| holder.enrolments[ei].values_if_present(self.set.ex)),
                !self.holder.disabled,
            ),
        };
        let merged = Merged::meet(promise, live, live_enabled);
        self.write(&merged, sources)?;
        Ok(merged)
    }

    /// Restore never suspends an active manual enrolment either: the holder's is kept exactly (suspended
    /// when the holder was disabled, as every enrolment of a disabled holder is).
    fn keep(&self, ei: usize) -> Result<Promise, EnrolError> {
        let holder = self.holder_instance();
        let mut values = holder.enrolments[ei].values(self.set.ex, holder)?;
        if self.holder.disabled && values.status == 0 {
            values.status = 1;
        }
        Ok(Promise {
            values,
            stamped: false,
            manual: Manual::Kept,
        })
    }

    /// The holder's enrolment is one more source: its dates count only when it is effectively active (a
    /// suspended one, or one in a disabled instance, gives no access to widen).
    fn combine_with(
        &self,
        ei: usize,
        result: Values,
        stamp: Option<i64>,
    ) -> Result<Promise, EnrolError> {
        let holder = self.holder_instance();
        let own = holder.enrolments[ei].values(self.set.ex, holder)?;
        let result = if own.status == 0 && !self.holder.disabled {
            merge::widen(result, own)
        } else {
            result
        };
        Ok(stamped(result, stamp, Manual::Combined(ei)))
    }

    /// The edits: the holder's enrolment set to the result, or the result added as a new enrolment (the
    /// first source rewritten in place when it is the holder's, else copied into the holder); the other
    /// sources removed.
    fn write(&mut self, merged: &Merged, sources: &[Source]) -> Result<(), EnrolError> {
        let ue = |s: &Source| &self.set.all[s.inst].enrolments[s.ue];
        match merged.manual {
            Manual::Kept => {}
            Manual::Combined(ei) => {
                self.combined.insert(ei);
                let edits = set_values(
                    self.set.ex,
                    &self.holder_instance().enrolments[ei],
                    merged.written,
                );
                self.edits.extend(edits);
            }
            Manual::New => {
                let first = sources[0];
                if first.inst == self.holder.idx {
                    self.edits
                        .extend(set_values(self.set.ex, ue(&first), merged.written));
                    for s in &sources[1..] {
                        self.remove(ue(s));
                    }
                    return Ok(());
                }
                // The first source is copied and removed: its line is found once.
                let line = xml::line_span(self.set.ex, ue(&first).span.clone());
                self.append_copy(ue(&first), line.clone(), merged.written)?;
                self.edits.push(Edit::delete(line));
                for s in &sources[1..] {
                    self.remove(ue(s));
                }
                return Ok(());
            }
        }
        for s in sources {
            self.remove(ue(s));
        }
        Ok(())
    }

    /// Removes an enrolment with its line.
    fn remove(&mut self, ue: &UserEnrolment) {
        self.edits
            .push(Edit::delete(xml::line_span(self.set.ex, ue.span.clone())));
    }

    /// Adds a copy of `ue` (whose line span is `line`) holding `v` to the new enrolments.
    fn append_copy(
        &mut self,
        ue: &UserEnrolment,
        line: Range<usize>,
        v: Values,
    ) -> Result<(), EnrolError> {
        let ex = self.set.ex;
        let range = if self.line_mode {
            line
        } else {
            ue.span.clone()
        };
        // The replacements are written one after another in a buffer reused from user to user.
        self.scratch.clear();
        let mut changes: [(Range<usize>, Range<usize>); 3] = Default::default();
        let mut n = 0;
        value_changes(ex, ue, v, &mut self.scratch, |replaced, with| {
            changes[n] = (replaced, with);
            n += 1;
        });
        self.appended
            .push(range, &self.scratch, &mut changes[..n])
            .map_err(EnrolError::edit(ENROLMENTS))
    }
}

/// `values` with the end stamped to `stamp`, if given.
fn stamped(mut values: Values, stamp: Option<i64>, manual: Manual) -> Promise {
    if let Some(until) = stamp {
        values.timeend = until;
    }
    Promise {
        values,
        stamped: stamp.is_some(),
        manual,
    }
}

/// The conversion's result for one user, before the live course is looked at.
struct Promise {
    values: Values,
    stamped: bool,
    manual: Manual,
}

/// What each restore target stores for a converted user whose enrolment is `written` in the backup's manual
/// instance, enabled after conversion, met with the live course's `live` (in a manual instance `live_enabled` or
/// not). The conversion decides with it, and the report's rows recompute it when read.
pub(super) fn outcomes(
    written: Values,
    live: Option<Values>,
    live_enabled: bool,
) -> restore::Outcomes {
    restore::manual_outcomes(written, true, live, live_enabled)
}

impl Merged {
    /// `promise` met with the live course's enrolment `live` (in a manual instance `live_enabled` or not): the
    /// values to write (a kept enrolment is written as it is, others shaped for the merge), what each target
    /// stores (the holder is enabled after conversion) and what the merge cannot do.
    fn meet(promise: Promise, live: Option<Values>, live_enabled: bool) -> Self {
        let written = if promise.manual == Manual::Kept {
            promise.values
        } else {
            restore::shape(live, promise.values)
        };
        let outcomes = outcomes(written, live, live_enabled);
        Merged {
            values: promise.values,
            written,
            live,
            live_enabled,
            limits: restore::limits(promise.values, live, outcomes.live),
            outcomes,
            stamped: promise.stamped,
            manual: promise.manual,
        }
    }
}

/// Edits setting `status`, `timestart`, `timeend` of `ue` to `v`.
fn set_values(xml: &[u8], ue: &UserEnrolment, v: Values) -> Vec<Edit> {
    let mut spans = Vec::new();
    let mut text = Vec::new();
    value_changes(xml, ue, v, &mut text, |range, with| {
        spans.push((range, with))
    });
    spans
        .into_iter()
        .map(|(range, with)| Edit::replace(range, &text[with]))
        .collect()
}

/// The changes setting `status`, `timestart`, `timeend` of `ue` to `v`, in that order: `f` is called with the
/// bytes each replaces and where its replacement is in `text` (appended to it).
fn value_changes(
    xml: &[u8],
    ue: &UserEnrolment,
    v: Values,
    text: &mut Vec<u8>,
    mut f: impl FnMut(Range<usize>, Range<usize>),
) {
    let mut digits = itoa::Buffer::new();
    for (name, value) in [
        ("status", v.status),
        ("timestart", v.timestart),
        ("timeend", v.timeend),
    ] {
        if let Some(field) = ue.fields.get(name) {
            let start = text.len();
            if let Some(range) = field.set_into(xml, name, digits.format(value).as_bytes(), text) {
                f(range, start..text.len());
            }
        }
    }
}
