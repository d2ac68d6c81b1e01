//! One archive through one command: read, apply the rules, write, then the job's policies (a change
//! required, the output verified and removed when it fails), and one [`Outcome`] that serialises itself.
//!
//! [`convert()`] and [`renew()`] are the jobs every command runs (`convert`, `renew`, `batch`, `renew` over folders);
//! [`convert_file`], [`renew_file`] and their `_with` forms are the bare read-rules-write steps, and
//! [`inspect_file`], [`plan_file`] and [`manual_enrolments`] the read-only ones. The binary parses arguments and
//! renders what these return.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::archive::{self, Container, Loaded};
use crate::backup;
use crate::enrol::convert as rules;
use crate::enrol::members::{
    COURSE, COURSE_ROLES, ENROLMENTS, GROUPS, MOODLE_BACKUP, READ, REWRITTEN, USERS,
};
use crate::enrol::summary::{self, Summary};
use crate::enrol::{Docs, EnrolError, Values, merge};
use crate::error::{Error, Result};
use crate::verify::Verification;

/// Loads the members the rules read, and users.xml streamed into id → user (never held whole); through the
/// writer's `handoff` when there is one (which may have read the archive's central directory already).
fn load_with_users(
    handoff: Option<&archive::Handoff>,
    input: &Path,
    wanted: &[&str],
    limits: &archive::Limits,
) -> Result<(Loaded, BTreeMap<i64, backup::User>)> {
    let mut users = BTreeMap::new();
    let mut each = |_: &str, data: &mut dyn std::io::BufRead| -> Result<()> {
        users = backup::users(data, limits.max_xml).map_err(|source| Error::Enrol {
            path: input.to_path_buf(),
            source: EnrolError::Xml {
                member: USERS,
                source,
            },
        })?;
        Ok(())
    };
    let loaded = match handoff {
        Some(h) => h.load_streaming(input, wanted, &[USERS], limits, &mut each)?,
        None => archive::load_streaming(input, wanted, &[USERS], limits, &mut each)?,
    };
    Ok((loaded, users))
}

/// Hands rewritten members to the writer ([`archive::Handoff`]), which compresses each at once.
struct ToWriter<'a>(&'a archive::Handoff);

impl rules::Hand for ToWriter<'_> {
    fn bytes(&self, member: &'static str, bytes: Vec<u8>) {
        self.0.give(member, bytes);
    }

    fn pieces(&self, member: &'static str, len: usize, pieces: rules::Pieces) {
        self.0.give_pieces(member, len, pieces);
    }
}

/// Refuses an archive holding a member no Moodle backup holds (absolute, `..`, backslash, NUL, link, device):
/// the tool writes nothing from it (no output, no plan).
fn refuse_hostile(input: &Path, loaded: &Loaded) -> Result<()> {
    match loaded.hostile().into_iter().next() {
        None => Ok(()),
        Some((member, why)) => Err(Error::Archive(archive::Error::Member {
            path: input.to_path_buf(),
            member,
            reason: format!(
                "{why}: no Moodle backup holds such a member, so the archive is refused (nothing written)"
            ),
        })),
    }
}

/// Refuses an archive missing a member restore stops without ([`crate::enrol::members::required`]): no output
/// of it could be restored, whatever the rules do.
fn refuse_unrestorable(input: &Path, loaded: &Loaded, info: &backup::Info) -> Result<()> {
    match crate::enrol::members::required(Some(info))
        .into_iter()
        .find(|m| !loaded.has_member(m))
    {
        None => Ok(()),
        Some(member) => Err(Error::Archive(archive::Error::Member {
            path: input.to_path_buf(),
            member: member.to_owned(),
            reason: "missing: Moodle's restore stops with an error without it (`missing_moodle_backup_xml_file`), \
                     so no output of this archive could be restored (nothing written)"
                .into(),
        })),
    }
}

fn docs(loaded: &Loaded) -> Docs<'_> {
    Docs::from_lookup(|member| loaded.doc(member))
}

fn enrol_err(path: &Path) -> impl Fn(EnrolError) -> Error + '_ {
    move |source| Error::Enrol {
        path: path.to_path_buf(),
        source,
    }
}

fn info(path: &Path, loaded: &Loaded) -> Result<backup::Info> {
    match loaded.doc(MOODLE_BACKUP) {
        Some(x) => backup::parse(x).map_err(|source| Error::Enrol {
            path: path.to_path_buf(),
            source: EnrolError::Xml {
                member: MOODLE_BACKUP,
                source,
            },
        }),
        None => {
            let dotted = loaded.has_member("./moodle_backup.xml");
            Err(Error::Archive(archive::Error::Member {
                path: path.to_path_buf(),
                member: MOODLE_BACKUP.into(),
                reason: if dotted {
                    "missing at the archive root: this zip names its members `./…`, which Moodle's restore \
                     extracts in place but this tool reads only at the root (a tar.gz with `./` names is read): \
                     repack it with paths relative to the backup folder (`cd folder && zip -r ../x.mbz *`)"
                        .into()
                } else {
                    let names: Vec<String> = loaded
                        .members()
                        .into_iter()
                        .take(5)
                        .map(|m| m.path)
                        .collect();
                    format!(
                        "missing: this is not a Moodle backup (restore requires it); the archive holds {} members{}",
                        loaded.member_count(),
                        if names.is_empty() {
                            String::new()
                        } else {
                            format!(", e.g. {}", names.join(", "))
                        }
                    )
                },
            }))
        }
    }
}

/// What `inspect` says of an archive whose member names start with `./` (`tar -C dir .`), read from the root as
/// Moodle's extractor reads them (moodle-format.md §1.5).
const DOT_PREFIXED: &str = "member names start with `./` (made with `tar -C dir .`?): restore extracts them from the \
     root, but Moodle's backup information check, which matches exact names, would not find `moodle_backup.xml`; \
     convert and renew write them from the root, as Moodle's backups do";

/// The warning for a backup made without users (root setting `users` = 0), which `inspect` and every conversion
/// give: its sync instances are still retyped, but it holds no user enrolments to convert.
fn without_users(info: &backup::Info) -> Option<String> {
    (info.root_settings.get("users").map(String::as_str) == Some("0")).then(|| {
        "the backup was made without users: it holds no user enrolments to convert".to_owned()
    })
}

/// The course a backup came from.
#[derive(Debug, Clone, Serialize)]
pub struct Course {
    /// `original_course_id`.
    pub id: Option<i64>,
    /// `original_course_shortname`.
    pub shortname: Option<String>,
    /// `original_course_fullname`.
    pub fullname: Option<String>,
    /// The course's `idnumber` (from course/course.xml), when set.
    pub idnumber: Option<String>,
}

impl Course {
    fn new(info: &backup::Info, loaded: &Loaded) -> Self {
        Course {
            id: info
                .get("original_course_id")
                .and_then(|s| s.trim().parse().ok()),
            shortname: info.get("original_course_shortname").map(str::to_owned),
            fullname: info.get("original_course_fullname").map(str::to_owned),
            idnumber: loaded.doc(COURSE).and_then(backup::course_idnumber),
        }
    }
}

/// What a job did to one archive: `R` is the rules' report ([`ConvertOutcome`], [`RenewOutcome`]). Its JSON
/// is the report's fields beside the archive's, plus the run's [`Context`] and the verification when there are
/// any, every object's keys sorted.
#[derive(Debug, Clone)]
pub struct Outcome<R> {
    /// The input.
    pub archive: String,
    /// The output (`None` for a dry run).
    pub output: Option<String>,
    /// The container (the output's equals the input's).
    pub container: Container,
    /// The course.
    pub course: Course,
    /// Members rewritten (the others are copied unchanged).
    pub rewritten: Vec<String>,
    /// The rules' report.
    pub report: R,
    /// The check of the output against the input, when the job verified it and kept the result.
    pub verification: Option<Verification>,
    /// How the job was run, when the caller records it with the outcome.
    pub context: Option<Context>,
    /// Usernames by user id from `users.xml`, when the job was asked for them (listings); not in the JSON.
    pub usernames: BTreeMap<i64, String>,
}

/// What `convert` did to one archive.
pub type ConvertOutcome = Outcome<rules::Report>;

/// What `renew` did to one archive.
pub type RenewOutcome = Outcome<crate::enrol::renew::Report>;

/// How a job was run, recorded in its outcome's JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    /// The zone dates were read and written in (IANA name).
    pub timezone: String,
    /// Nothing was written.
    pub dry_run: bool,
    /// The end date asked for, ISO 8601 in `timezone` (convert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until_iso: Option<String>,
    /// "Now" for the status filters (renew).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
}

/// A rules' report whose per-user list is left out of its own JSON (`#[serde(skip)]`) and written by its
/// [`Outcome`] one element at a time: built as one serde_json tree with the rest (the way every object's keys
/// come out sorted), 30,000 converted users took 150 MB and 300 ms.
pub trait Listing {
    /// The list's key, beside the report's own fields.
    const KEY: &'static str;
    /// The list, as [`Sorted`] elements.
    fn list(&self) -> impl Serialize + '_;
}

/// Serialises each element of a list through serde_json's map, so that its objects' keys come out sorted (as
/// the whole outcome's always had them), one element at a time.
#[derive(Clone, Copy)]
pub struct Sorted<I>(pub I);

impl<I> Serialize for Sorted<I>
where
    I: IntoIterator + Copy,
    I::Item: Serialize,
{
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_seq(self.0.into_iter().map(SortedOne))
    }
}

impl Listing for rules::Report {
    const KEY: &'static str = "users";
    fn list(&self) -> impl Serialize + '_ {
        Sorted(&self.users)
    }
}

impl Listing for crate::enrol::renew::Report {
    const KEY: &'static str = "matched";
    fn list(&self) -> impl Serialize + '_ {
        Sorted(&self.matched)
    }
}

/// One element, through serde_json's map.
struct SortedOne<T>(T);

impl<T: Serialize> Serialize for SortedOne<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        serde_json::to_value(&self.0)
            .map_err(serde::ser::Error::custom)?
            .serialize(s)
    }
}

impl<R: Serialize + Listing> Serialize for Outcome<R> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(Serialize)]
        struct Fields<'a, R> {
            archive: &'a str,
            output: &'a Option<String>,
            container: Container,
            course: &'a Course,
            rewritten: &'a [String],
            #[serde(flatten)]
            report: &'a R,
            #[serde(flatten)]
            context: &'a Option<Context>,
        }
        // Through serde_json's map so that every object's keys come out sorted, as the reports always had them;
        // the report's list and the verification (left out of the map) are placed at their keys' ranks, their
        // own lists element by element.
        let fields = sorted_object(&Fields {
            archive: &self.archive,
            output: &self.output,
            container: self.container,
            course: &self.course,
            rewritten: &self.rewritten,
            report: &self.report,
            context: &self.context,
        })?;
        let mut map = s.serialize_map(Some(
            fields.len() + 1 + usize::from(self.verification.is_some()),
        ))?;
        let list = self.report.list();
        let mut write_list = |m: &mut S::SerializeMap| m.serialize_entry(R::KEY, &list);
        let mut write_verification = |m: &mut S::SerializeMap| match &self.verification {
            Some(v) => m.serialize_entry("verification", &SortedVerification(v)),
            None => Ok(()),
        };
        entries_merged(
            &mut map,
            &fields,
            &mut [
                (R::KEY, &mut write_list),
                ("verification", &mut write_verification),
            ],
        )?;
        map.end()
    }
}

/// `value` as serde_json's map (keys sorted), or the error of a value that is no JSON object.
fn sorted_object<E: serde::ser::Error>(
    value: &impl Serialize,
) -> std::result::Result<serde_json::Map<String, serde_json::Value>, E> {
    match serde_json::to_value(value).map_err(E::custom)? {
        serde_json::Value::Object(fields) => Ok(fields),
        _ => Err(E::custom("a JSON object was expected")),
    }
}

/// An entry written by its own serialiser, beside a map's: its key, and what writes it (or nothing).
type Entry<'k, 'f, M> = (
    &'k str,
    &'f mut dyn FnMut(&mut M) -> std::result::Result<(), <M as serde::ser::SerializeMap>::Error>,
);

/// Writes `fields` (serde_json's map: keys sorted) into `map`, each of `extra` (keys not among the fields') at
/// its key's rank: the whole object with its keys sorted, without the extras built as serde_json trees.
fn entries_merged<M: serde::ser::SerializeMap>(
    map: &mut M,
    fields: &serde_json::Map<String, serde_json::Value>,
    extra: &mut [Entry<'_, '_, M>],
) -> std::result::Result<(), M::Error> {
    extra.sort_by_key(|(key, _)| *key);
    let mut extra = extra.iter_mut().peekable();
    for (key, value) in fields {
        while let Some((_, write)) = extra.next_if(|(k, _)| *k < key.as_str()) {
            write(map)?;
        }
        map.serialize_entry(key, value)?;
    }
    extra.try_for_each(|(_, write)| write(map))
}

/// A verification's JSON in an outcome: every object's keys sorted, as the rest of the outcome, and the per-user
/// list (`changes.users`) written one element at a time (built as one serde_json tree, the verification of
/// 30,000 converted users took 50 MB and 0.3 s more).
struct SortedVerification<'a>(&'a Verification);

impl Serialize for SortedVerification<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // Every field named, so that a field added to `Verification` is a compile error here.
        let Verification {
            archive,
            against,
            container,
            members,
            checks,
            changes,
            passed,
        } = self.0;
        #[derive(Serialize)]
        struct Head<'a> {
            archive: &'a str,
            against: &'a Option<String>,
            container: &'a Option<Container>,
            members: usize,
            checks: &'a [crate::verify::Check],
            passed: bool,
        }
        let head = sorted_object(&Head {
            archive,
            against,
            container,
            members: *members,
            checks,
            passed: *passed,
        })?;
        let mut map = s.serialize_map(Some(head.len() + usize::from(changes.is_some())))?;
        let mut write_changes = |m: &mut S::SerializeMap| match changes {
            Some(c) => m.serialize_entry("changes", &SortedChanges(c)),
            None => Ok(()),
        };
        entries_merged(&mut map, &head, &mut [("changes", &mut write_changes)])?;
        map.end()
    }
}

/// [`SortedVerification`]'s `changes`.
struct SortedChanges<'a>(&'a crate::verify::Changes);

impl Serialize for SortedChanges<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let crate::verify::Changes {
            members_rewritten,
            instances,
            users,
            users_unchanged,
        } = self.0;
        #[derive(Serialize)]
        struct Head<'a> {
            members_rewritten: &'a [String],
            instances: &'a [crate::verify::InstanceChange],
            users_unchanged: usize,
        }
        let head = sorted_object(&Head {
            members_rewritten,
            instances,
            users_unchanged: *users_unchanged,
        })?;
        let mut map = s.serialize_map(Some(head.len() + 1))?;
        let mut write_users = |m: &mut S::SerializeMap| m.serialize_entry("users", &Sorted(users));
        entries_merged(&mut map, &head, &mut [("users", &mut write_users)])?;
        map.end()
    }
}

/// What a job does after writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Verify {
    /// Nothing.
    #[default]
    No,
    /// Verify the output against the input and keep the result in the outcome (a failed output stays, for
    /// the caller to report).
    Report,
    /// Verify the output; when it fails, remove it and fail the job with [`Error::VerifyFailed`] (a batch never
    /// leaves a failed output behind: resuming would take it for done work).
    RemoveFailed,
}

/// How a job runs.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Level, threads, cancellation, reading limits.
    pub write: archive::WriteOptions,
    /// An archive the rules leave unchanged fails the job with [`Error::NothingToConvert`] and gets no output.
    pub require_change: bool,
    /// Whether and how the output is verified.
    pub verify: Verify,
    /// Recorded in the outcome (its JSON).
    pub context: Option<Context>,
    /// Keep the usernames of `users.xml` in the outcome ([`Outcome::usernames`]), read in the same pass.
    pub usernames: bool,
}

/// Converts `input` into `output` (`None`: a dry run) with the options `options` chooses for its course, then
/// applies `settings`' policies.
///
/// # Errors
/// As [`convert_file_with`]; [`Error::NothingToConvert`] and [`Error::VerifyFailed`] per `settings`.
pub fn convert(
    input: &Path,
    output: Option<&Path>,
    settings: &Settings,
    options: impl FnOnce(&Course) -> Result<rules::Options>,
) -> Result<ConvertOutcome> {
    let outcome = convert_file_named(input, output, &settings.write, settings.usernames, options)?;
    finish(outcome, input, output, settings)
}

/// Renews `input` into `output` (`None`: a dry run) per `opts`, then applies `settings`' policies.
///
/// # Errors
/// As [`renew_file_with`]; [`Error::NothingToConvert`] and [`Error::VerifyFailed`] per `settings`.
pub fn renew(
    input: &Path,
    output: Option<&Path>,
    settings: &Settings,
    opts: &crate::enrol::renew::Options,
) -> Result<RenewOutcome> {
    let outcome = renew_file_with(input, output, opts, &settings.write)?;
    finish(outcome, input, output, settings)
}

/// The policies after the write: a change required, the output verified.
fn finish<R>(
    mut outcome: Outcome<R>,
    input: &Path,
    output: Option<&Path>,
    settings: &Settings,
) -> Result<Outcome<R>> {
    outcome.context.clone_from(&settings.context);
    if settings.require_change && outcome.rewritten.is_empty() {
        if let Some(o) = output {
            let _ = std::fs::remove_file(o);
        }
        return Err(Error::NothingToConvert {
            path: input.to_path_buf(),
        });
    }
    let Some(out) = output.filter(|_| settings.verify != Verify::No) else {
        return Ok(outcome);
    };
    let v = crate::verify::verify_file_limited(out, Some(input), &settings.write.limits)?;
    if settings.verify == Verify::RemoveFailed {
        if !v.passed {
            let _ = std::fs::remove_file(out);
            return Err(Error::VerifyFailed {
                path: out.to_path_buf(),
                failed: v.failed().map(|c| (c.name, c.finding.clone())).collect(),
            });
        }
    } else {
        outcome.verification = Some(v);
    }
    Ok(outcome)
}

impl<R> Outcome<R> {
    /// The outcome of the rules run on `loaded` (`rewritten`: each member they may rewrite, with its new bytes
    /// if they did), returned with what the write step takes: the archive and the members to replace.
    fn of<'a>(
        input: &Path,
        output: Option<&Path>,
        loaded: Loaded,
        course: Course,
        rewritten: impl IntoIterator<Item = (&'a str, Option<Vec<u8>>)>,
        report: R,
    ) -> (Loaded, BTreeMap<String, Vec<u8>>, Self) {
        let replacements: BTreeMap<String, Vec<u8>> = rewritten
            .into_iter()
            .filter_map(|(member, new)| Some((member.to_owned(), new?)))
            .collect();
        let outcome = Outcome {
            archive: input.display().to_string(),
            output: output.map(|p| p.display().to_string()),
            container: loaded.container(),
            course,
            rewritten: replacements.keys().cloned().collect(),
            report,
            verification: None,
            context: None,
            usernames: BTreeMap::new(),
        };
        (loaded, replacements, outcome)
    }
}

/// Converts `input` per `opts` and writes `output` (atomically), or only reports when `output` is `None`.
///
/// # Errors
/// [`Error`] naming the archive and member; nothing is left at `output` on failure.
pub fn convert_file(
    input: &Path,
    output: Option<&Path>,
    opts: &rules::Options,
) -> Result<ConvertOutcome> {
    convert_file_with(input, output, &archive::WriteOptions::default(), |_| {
        Ok(opts.clone())
    })
}

/// [`convert_file`] whose options depend on the course (a per-course end date), written per `write` (level,
/// threads, cancellation).
///
/// # Errors
/// As [`convert_file`], whatever `options` returns, and [`Error::Cancelled`].
pub fn convert_file_with(
    input: &Path,
    output: Option<&Path>,
    write: &archive::WriteOptions,
    options: impl FnOnce(&Course) -> Result<rules::Options>,
) -> Result<ConvertOutcome> {
    convert_file_named(input, output, write, false, options)
}

/// [`convert_file_with`], keeping the usernames of `users.xml` in the outcome when `usernames` (streamed in the
/// same pass; not held otherwise, so memory does not grow with the users).
fn convert_file_named(
    input: &Path,
    output: Option<&Path>,
    write: &archive::WriteOptions,
    usernames: bool,
    options: impl FnOnce(&Course) -> Result<rules::Options>,
) -> Result<ConvertOutcome> {
    // The output is checked before anything is read; for a zip, the members the conversion cannot change are
    // copied while it runs.
    archive::produce_and_write(input, output, REWRITTEN, write, |handoff| {
        let (loaded, names) = if usernames {
            let (loaded, users) = load_with_users(Some(handoff), input, READ, &write.limits)?;
            let names = users.into_iter().map(|(id, u)| (id, u.username)).collect();
            (loaded, names)
        } else {
            (
                handoff.load_limited(input, READ, &write.limits)?,
                BTreeMap::new(),
            )
        };
        refuse_hostile(input, &loaded)?;
        let info = info(input, &loaded)?;
        refuse_unrestorable(input, &loaded, &info)?;
        let course = Course::new(&info, &loaded);
        let opts = options(&course)?;
        // The conversion owns the members it reads and frees each once its rewrite is built; the others are no
        // longer needed while the archive is written (memory stays flat).
        let mut loaded = loaded;
        let owned = rules::OwnedDocs::from_lookup(|member| loaded.docs.remove(member));
        loaded.docs.clear();
        // A zip writer compresses course/roles.xml as soon as it is rewritten, on another thread than the
        // enrolments' rewrite, and course/enrolments.xml from its pieces as soon as they are known.
        let to_writer = ToWriter(handoff);
        let hand: Option<&dyn rules::Hand> = handoff.compresses().then_some(&to_writer);
        let mut conversion =
            rules::convert_owned_with(owned, &opts, hand).map_err(enrol_err(input))?;
        if let Some(w) = without_users(&info) {
            conversion.report.warnings.insert(0, w.into());
        }
        let rewritten = [
            (ENROLMENTS, conversion.enrolments),
            (COURSE_ROLES, conversion.course_roles),
            (GROUPS, conversion.groups),
        ];
        let (report, handed) = (conversion.report, conversion.handed);
        let (loaded, replacements, mut outcome) =
            Outcome::of(input, output, loaded, course, rewritten, report);
        // Members handed over were rewritten too; the list stays in name order.
        outcome
            .rewritten
            .extend(handed.into_iter().map(str::to_owned));
        outcome.rewritten.sort();
        outcome.usernames = names;
        Ok((loaded, replacements, outcome))
    })
}

/// What `inspect` shows.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The archive.
    pub archive: String,
    /// `tgz` or `zip`.
    pub container: Container,
    /// `moodle_release` from moodle_backup.xml.
    pub moodle_release: Option<String>,
    /// `moodle_version`.
    pub moodle_version: Option<String>,
    /// `backup_release`.
    pub backup_release: Option<String>,
    /// The course.
    pub course: Course,
    /// Root backup settings (users, role_assignments, groups, …).
    pub root_settings: BTreeMap<String, String>,
    /// Number of members (files and folders; the tar index excluded).
    pub members: usize,
    /// The tar.gz has an `.ARCHIVE_INDEX`.
    pub archive_index: bool,
    /// Enrolment instances, role assignments and group members.
    #[serde(flatten)]
    pub summary: Summary,
}

/// Reads `input` and describes it.
///
/// # Errors
/// [`Error`] naming the archive and member.
pub fn inspect_file(input: &Path) -> Result<Inspection> {
    inspect_file_limited(input, &archive::Limits::default())
}

/// [`inspect_file`] within `limits`.
///
/// # Errors
/// As [`inspect_file`], and [`archive::Error::TooLarge`] (as [`Error::Archive`]).
pub fn inspect_file_limited(input: &Path, limits: &archive::Limits) -> Result<Inspection> {
    let loaded = archive::load_limited(input, READ, limits)?;
    let info = info(input, &loaded)?;
    let mut summary = summary::summarize(&docs(&loaded)).map_err(enrol_err(input))?;
    summary.warnings.extend(without_users(&info));
    if loaded.dot_prefixed() {
        summary.warnings.push(DOT_PREFIXED.to_owned());
    }
    summary
        .warnings
        .extend(loaded.hostile().into_iter().map(|(m, why)| {
        format!(
            "member `{m}` {why}: no Moodle backup holds one; convert, renew, plan and batch refuse this archive"
        )
    }));
    Ok(Inspection {
        archive: input.display().to_string(),
        container: loaded.container(),
        moodle_release: info.get("moodle_release").map(str::to_owned),
        moodle_version: info.get("moodle_version").map(str::to_owned),
        backup_release: info.get("backup_release").map(str::to_owned),
        course: Course::new(&info, &loaded),
        root_settings: info.root_settings.clone(),
        members: loaded.member_count(),
        archive_index: loaded.has_index(),
        summary,
    })
}

/// Renews `input` per `opts` and writes `output` (atomically), or only reports when `output` is `None`.
///
/// # Errors
/// [`Error`] naming the archive and member; nothing is left at `output` on failure.
pub fn renew_file(
    input: &Path,
    output: Option<&Path>,
    opts: &crate::enrol::renew::Options,
) -> Result<RenewOutcome> {
    renew_file_with(input, output, opts, &archive::WriteOptions::default())
}

/// [`renew_file`] written per `write` (level, threads, cancellation).
///
/// # Errors
/// As [`renew_file`], and [`Error::Cancelled`].
pub fn renew_file_with(
    input: &Path,
    output: Option<&Path>,
    opts: &crate::enrol::renew::Options,
    write: &archive::WriteOptions,
) -> Result<RenewOutcome> {
    archive::produce_and_write(input, output, REWRITTEN, write, |handoff| {
        let (loaded, users) = load_with_users(Some(handoff), input, READ, &write.limits)?;
        refuse_hostile(input, &loaded)?;
        let info = info(input, &loaded)?;
        refuse_unrestorable(input, &loaded, &info)?;
        let users: BTreeMap<i64, String> =
            users.into_iter().map(|(id, u)| (id, u.username)).collect();
        let renewal =
            crate::enrol::renew::renew(&docs(&loaded), &users, opts).map_err(enrol_err(input))?;
        let course = Course::new(&info, &loaded);
        let rewritten = [(ENROLMENTS, renewal.enrolments)];
        let report = renewal.report;
        Ok(Outcome::of(
            input, output, loaded, course, rewritten, report,
        ))
    })
}

/// Converts `input` in memory (nothing written) and returns its merge-plan actions.
///
/// # Errors
/// [`Error`] naming the archive and member.
pub fn plan_file(input: &Path, opts: &rules::Options) -> Result<crate::plan::CoursePlan> {
    plan_file_limited(input, opts, &archive::Limits::default())
}

/// [`plan_file`] within `limits`.
///
/// # Errors
/// As [`plan_file`], and [`archive::Error::TooLarge`] (as [`Error::Archive`]).
pub fn plan_file_limited(
    input: &Path,
    opts: &rules::Options,
    limits: &archive::Limits,
) -> Result<crate::plan::CoursePlan> {
    plan_for_apply(input, opts, limits).map(|a| a.plan)
}

/// [`plan_file_limited`], and whether the backup's manual instance sends the course welcome message
/// (`customint1` of the first manual instance, enrol_manual's "Send course welcome message", 4.4 and later:
/// `../shared/moodle/ws-responses.md` §4).
///
/// # Errors
/// As [`plan_file_limited`].
pub fn plan_for_apply(
    input: &Path,
    opts: &rules::Options,
    limits: &archive::Limits,
) -> Result<ForApply> {
    let (loaded, users) = load_with_users(None, input, READ, limits)?;
    // A plan is the conversion written as actions: it refuses what the conversion refuses.
    refuse_hostile(input, &loaded)?;
    let info = info(input, &loaded)?;
    let course = Course::new(&info, &loaded);
    let mut conversion = rules::convert(&docs(&loaded), opts).map_err(enrol_err(input))?;
    if let Some(w) = without_users(&info) {
        conversion.report.warnings.insert(0, w.into());
    }
    let welcome = loaded
        .doc(ENROLMENTS)
        .and_then(|x| {
            let instances = crate::enrol::model::parse_enrolments(x).ok()?;
            let (_, manual) = crate::enrol::model::first_manual(&instances, x)?;
            manual.int(x, "customint1")
        })
        .is_some_and(|v| v != 0);
    let mut plan = crate::plan::build(
        &input.display().to_string(),
        crate::plan::CourseRef {
            id: course.id,
            shortname: course.shortname.clone().unwrap_or_default(),
            idnumber: course.idnumber.clone().unwrap_or_default(),
        },
        &docs(&loaded),
        &users,
        &conversion.report,
    );
    plan.release = info.release();
    let mut sync_groups: BTreeMap<(String, String), usize> = BTreeMap::new();
    for u in conversion.report.users.iter() {
        for c in u.cannot {
            if let crate::enrol::restore::Limit::GroupOwnedBySync { group, component } = c {
                *sync_groups
                    .entry((group.clone(), component.clone()))
                    .or_default() += 1;
            }
        }
    }
    Ok(ForApply {
        plan,
        welcome,
        sync_groups,
    })
}

/// What `apply` needs from one backup ([`plan_for_apply`]).
#[derive(Debug)]
pub struct ForApply {
    /// The plan, as `plan` computes it.
    pub plan: crate::plan::CoursePlan,
    /// The backup's manual instance sends the course welcome message.
    pub welcome: bool,
    /// Group memberships of converted users that the live course holds owned by a synced method, by (group
    /// name, component): the site answers that these users are members already, and the cutoff sync removes
    /// the memberships with the synced enrolments.
    pub sync_groups: BTreeMap<(String, String), usize>,
}

/// The live course a merge meets, from a fresh backup of it (same site): its course and its manual enrolments
/// by user id ([`merge::live_course`]).
///
/// # Errors
/// [`Error`] naming the archive and member.
pub fn live_course(
    target: &Path,
    limits: &archive::Limits,
) -> Result<(Course, crate::enrol::restore::LiveCourse)> {
    let loaded = archive::load_limited(target, READ, limits)?;
    let course = Course::new(&info(target, &loaded)?, &loaded);
    let live = match loaded.doc(ENROLMENTS) {
        Some(x) => merge::live_course(x).map_err(enrol_err(target))?,
        None => crate::enrol::restore::LiveCourse {
            enabled: true,
            ..Default::default()
        },
    };
    Ok((course, live))
}

/// The target course and its manual enrolments by username (first manual instance, as Upload users and restore
/// use).
///
/// # Errors
/// [`Error`] naming the archive and member.
pub fn manual_enrolments(
    target: &Path,
    limits: &archive::Limits,
) -> Result<(Course, BTreeMap<String, Values>)> {
    let (course, current, _) = plan_target(target, limits)?;
    Ok((course, current))
}

/// [`manual_enrolments`], and the target as a plan's consumer meets it: its first manual instance (status,
/// default duration, default role) and its site's release.
///
/// # Errors
/// [`Error`] naming the archive and member.
pub fn plan_target(
    target: &Path,
    limits: &archive::Limits,
) -> Result<(Course, BTreeMap<String, Values>, crate::plan::into::Target)> {
    let (loaded, users) = load_with_users(None, target, READ, limits)?;
    let info = info(target, &loaded)?;
    let course = Course::new(&info, &loaded);
    let (out, manual) = match loaded.doc(ENROLMENTS) {
        Some(x) => (
            merge::manual_by_username(x, &users).map_err(enrol_err(target))?,
            target_manual(x, loaded.doc(crate::enrol::members::ROLES)),
        ),
        None => (BTreeMap::new(), None),
    };
    let found = crate::plan::into::Target {
        archive: target.display().to_string(),
        manual,
        release: info.release(),
    };
    Ok((course, out, found))
}

/// The first manual instance of `course/enrolments.xml` (`x`), its role named from the root `roles.xml`.
fn target_manual(x: &[u8], roles: Option<&[u8]>) -> Option<crate::plan::into::Manual> {
    let instances = crate::enrol::model::parse_enrolments(x).ok()?;
    let (_, manual) = crate::enrol::model::first_manual(&instances, x)?;
    let roleid = manual.int(x, "roleid").unwrap_or(0);
    let role = roles
        .and_then(|r| crate::enrol::model::parse_role_names(r).ok())
        .and_then(|names| names.get(&roleid).cloned());
    Some(crate::plan::into::Manual {
        enabled: manual.status(x) == 0,
        enrolperiod: manual.int(x, "enrolperiod").unwrap_or(0),
        roleid,
        role,
    })
}
