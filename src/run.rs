//! The commands as library calls on one archive: [`convert_file`] and [`inspect_file`]. The binary only
//! parses arguments and renders what these return.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::archive::{self, Container, Loaded};
use crate::backup::{self, MOODLE_BACKUP};
use crate::enrol::convert::{self, COURSE_ROLES, Docs, ENROLMENTS, EnrolError, GROUPS, ROLES};
use crate::enrol::summary::{self, Summary};
use crate::error::{Error, Result};

/// The course's own settings (idnumber).
const COURSE_XML: &str = "course/course.xml";
/// The members the rules read.
const WANTED: &[&str] = &[
    MOODLE_BACKUP,
    COURSE_XML,
    ENROLMENTS,
    COURSE_ROLES,
    ROLES,
    GROUPS,
];
/// The members the commands rewrite: in a zip output their records come last, so that the others are copied
/// while the rules run.
const REWRITTEN: &[&str] = &[ENROLMENTS, COURSE_ROLES, GROUPS];

/// Loads the members the rules read, and users.xml streamed into id → user (never held whole).
fn load_with_users(
    input: &Path,
    limits: &archive::Limits,
) -> Result<(Loaded, BTreeMap<i64, backup::User>)> {
    let mut users = BTreeMap::new();
    let loaded = archive::load_streaming::<Error>(
        input,
        WANTED,
        &[backup::USERS],
        limits,
        &mut |_, data| {
            users = backup::users(data, limits.max_xml).map_err(|source| Error::Enrol {
                path: input.to_path_buf(),
                source: EnrolError::Xml {
                    member: backup::USERS,
                    source,
                },
            })?;
            Ok(())
        },
    )?;
    Ok((loaded, users))
}

fn docs(loaded: &Loaded) -> Docs<'_> {
    Docs {
        enrolments: loaded.doc(ENROLMENTS),
        course_roles: loaded.doc(COURSE_ROLES),
        roles: loaded.doc(ROLES),
        groups: loaded.doc(GROUPS),
    }
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
                    "missing at the archive root: members are named `./…` (made with `tar -C dir .`?), \
                     which Moodle cannot restore: repack them with paths relative to the backup folder"
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
            idnumber: loaded.doc(COURSE_XML).and_then(course_idnumber),
        }
    }
}

/// `<course><idnumber>` of course/course.xml, when non-empty.
fn course_idnumber(x: &[u8]) -> Option<String> {
    let mut out = None;
    let _ = crate::xml::walk(x, |v| {
        if let crate::xml::Visit::Close(c) = v
            && c.depth == 2
            && c.name == b"idnumber"
            && out.is_none()
        {
            out = Some(crate::xml::text(x, c.content));
        }
        Ok(())
    });
    out.filter(|s| !s.is_empty() && s != crate::xml::NULL)
}

/// What `convert` did to one archive.
#[derive(Debug, Clone, Serialize)]
pub struct ConvertOutcome {
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
    #[serde(flatten)]
    pub report: convert::Report,
}

/// Converts `input` per `opts` and writes `output` (atomically), or only reports when `output` is `None`.
///
/// # Errors
/// [`Error`] naming the archive and member; nothing is left at `output` on failure.
pub fn convert_file(
    input: &Path,
    output: Option<&Path>,
    opts: &convert::Options,
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
    options: impl FnOnce(&Course) -> Result<convert::Options>,
) -> Result<ConvertOutcome> {
    // The output is checked before anything is read; for a zip, the members the conversion cannot change are
    // copied while it runs.
    archive::produce_and_write(input, output, REWRITTEN, write, || {
        let loaded = archive::load_limited(input, WANTED, &write.limits)?;
        let info = info(input, &loaded)?;
        let course = Course::new(&info, &loaded);
        let opts = options(&course)?;
        let mut conversion = convert::convert(&docs(&loaded), &opts).map_err(enrol_err(input))?;
        // The originals are no longer needed while the archive is written: free them (memory stays flat).
        let mut loaded = loaded;
        loaded.docs.clear();
        let mut replacements = BTreeMap::new();
        for (member, new) in [
            (ENROLMENTS, conversion.enrolments.take()),
            (COURSE_ROLES, conversion.course_roles.take()),
            (GROUPS, conversion.groups.take()),
        ] {
            if let Some(bytes) = new {
                replacements.insert(member.to_owned(), bytes);
            }
        }
        let outcome = ConvertOutcome {
            archive: input.display().to_string(),
            output: output.map(|p| p.display().to_string()),
            container: loaded.container(),
            course,
            rewritten: replacements.keys().cloned().collect(),
            report: conversion.report,
        };
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
/// As [`inspect_file`], and [`Error::TooLarge`].
pub fn inspect_file_limited(input: &Path, limits: &archive::Limits) -> Result<Inspection> {
    let loaded = archive::load_limited(input, WANTED, limits)?;
    let info = info(input, &loaded)?;
    let mut summary = summary::summarize(&docs(&loaded)).map_err(enrol_err(input))?;
    if info.root_settings.get("users").map(String::as_str) == Some("0") {
        summary.warnings.push(
            "the backup was made without users: it holds no user enrolments to convert".into(),
        );
    }
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

/// What `renew` did to one archive.
#[derive(Debug, Clone, Serialize)]
pub struct RenewOutcome {
    /// The input.
    pub archive: String,
    /// The output (`None` for a dry run).
    pub output: Option<String>,
    /// The container.
    pub container: Container,
    /// The course.
    pub course: Course,
    /// Members rewritten.
    pub rewritten: Vec<String>,
    /// The rules' report.
    #[serde(flatten)]
    pub report: crate::enrol::renew::Report,
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
    archive::produce_and_write(input, output, REWRITTEN, write, || {
        let (loaded, users) = load_with_users(input, &write.limits)?;
        let info = info(input, &loaded)?;
        let users: BTreeMap<i64, String> =
            users.into_iter().map(|(id, u)| (id, u.username)).collect();
        let renewal =
            crate::enrol::renew::renew(&docs(&loaded), &users, opts).map_err(enrol_err(input))?;
        let mut replacements = BTreeMap::new();
        if let Some(bytes) = renewal.enrolments {
            replacements.insert(ENROLMENTS.to_owned(), bytes);
        }
        let outcome = RenewOutcome {
            archive: input.display().to_string(),
            output: output.map(|p| p.display().to_string()),
            container: loaded.container(),
            course: Course::new(&info, &loaded),
            rewritten: replacements.keys().cloned().collect(),
            report: renewal.report,
        };
        Ok((loaded, replacements, outcome))
    })
}

/// Converts `input` in memory (nothing written) and returns its merge-plan actions.
///
/// # Errors
/// [`Error`] naming the archive and member.
pub fn plan_file(input: &Path, opts: &convert::Options) -> Result<crate::plan::CoursePlan> {
    plan_file_limited(input, opts, &archive::Limits::default())
}

/// [`plan_file`] within `limits`.
///
/// # Errors
/// As [`plan_file`], and [`Error::TooLarge`].
pub fn plan_file_limited(
    input: &Path,
    opts: &convert::Options,
    limits: &archive::Limits,
) -> Result<crate::plan::CoursePlan> {
    let (loaded, users) = load_with_users(input, limits)?;
    let info = info(input, &loaded)?;
    let course = Course::new(&info, &loaded);
    let conversion = convert::convert(&docs(&loaded), opts).map_err(enrol_err(input))?;
    Ok(crate::plan::build(
        &input.display().to_string(),
        crate::plan::CourseRef {
            id: course.id,
            shortname: course.shortname.clone().unwrap_or_default(),
            idnumber: course.idnumber.clone().unwrap_or_default(),
        },
        &docs(&loaded),
        &users,
        &conversion.report,
    ))
}

/// The target course and its manual enrolments by username (first manual instance, as Upload users and restore
/// use).
///
/// # Errors
/// [`Error`] naming the archive and member.
pub fn manual_enrolments(
    target: &Path,
    limits: &archive::Limits,
) -> Result<(Course, BTreeMap<String, crate::plan::into::Values>)> {
    let (loaded, users) = load_with_users(target, limits)?;
    let course = Course::new(&info(target, &loaded)?, &loaded);
    let mut out = BTreeMap::new();
    let Some(x) = loaded.doc(ENROLMENTS) else {
        return Ok((course, out));
    };
    let instances = crate::enrol::model::parse_enrolments(x).map_err(|source| Error::Enrol {
        path: target.to_path_buf(),
        source: EnrolError::Xml {
            member: ENROLMENTS,
            source,
        },
    })?;
    let Some(manual) = instances.iter().find(|i| i.plugin(x) == "manual") else {
        return Ok((course, out));
    };
    for e in &manual.enrolments {
        let (Some(u), Some(status), Some(ts), Some(te)) = (
            e.int(x, "userid"),
            e.int(x, "status"),
            e.int(x, "timestart"),
            e.int(x, "timeend"),
        ) else {
            continue;
        };
        let Some(user) = users.get(&u) else { continue };
        out.entry(user.username.clone())
            .or_insert(crate::plan::into::Values {
                status,
                timestart: ts,
                timeend: te,
            });
    }
    Ok((course, out))
}
