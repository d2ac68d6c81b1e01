//! The JSON plan (schema `mbz-enrol/plan/1`, documented in docs/plan-json.md): every action with both
//! identifiers and ISO times, for scripts.

use std::io::{self, Write};

use serde::Serialize;

use super::{Format, Output, Settings, Written, key_of};
use crate::plan::{Action, CourseKey, CoursePlan, UserKey};
use crate::time;

/// JSON: the chosen keys, every field.
pub(super) static FORMAT: Format = Format::new("json", "JSON", write_json)
    .with_about("A documented JSON plan (docs/plan-json.md)");

/// The JSON plan (schema `mbz-enrol/plan/1`, documented in docs/plan-json.md).
///
/// Errors: an empty identifier, or a write error.
fn write_json(plans: &[CoursePlan], settings: &Settings, mut out: &mut dyn Write) -> Written {
    let Settings {
        tz,
        user_key,
        course_key,
        ..
    } = *settings;
    #[derive(Serialize)]
    struct Doc<'a> {
        schema: &'static str,
        generator: String,
        timezone: &'a str,
        user_key: UserKey,
        course_key: CourseKey,
        courses: Vec<Course<'a>>,
    }
    #[derive(Serialize)]
    struct Course<'a> {
        archive: &'a str,
        course: &'a crate::plan::CourseRef,
        manual_enrolperiod: i64,
        warnings: &'a [crate::enrol::Warning],
        actions: Vec<Item<'a>>,
    }
    #[derive(Serialize)]
    struct Item<'a> {
        user_key: String,
        course_key: String,
        #[serde(flatten)]
        action: &'a Action,
        status_name: &'static str,
        timestart_iso: String,
        timeend_iso: Option<String>,
    }
    for a in plans.iter().flat_map(|p| &p.actions) {
        key_of(a, settings)?;
    }
    let doc = Doc {
        schema: "mbz-enrol/plan/1",
        generator: format!("mbz-enrol {}", env!("CARGO_PKG_VERSION")),
        timezone: tz.name(),
        user_key,
        course_key,
        courses: plans
            .iter()
            .map(|p| Course {
                archive: &p.archive,
                course: &p.course,
                manual_enrolperiod: p.manual_enrolperiod,
                warnings: &p.warnings,
                actions: p
                    .actions
                    .iter()
                    .map(|a| Item {
                        user_key: key_of(a, settings)
                            .map(|k| k.0)
                            .unwrap_or_default(),
                        course_key: key_of(a, settings)
                            .map(|k| k.1)
                            .unwrap_or_default(),
                        action: a,
                        status_name: if a.values.status == 0 { "active" } else { "suspended" },
                        timestart_iso: time::format_iso(a.values.timestart, tz),
                        timeend_iso: (a.values.timeend != 0).then(|| time::format_iso(a.values.timeend, tz)),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_writer_pretty(&mut out, &doc).map_err(io::Error::other)?;
    writeln!(out)?;
    Ok(Output {
        rows: plans.iter().map(|p| p.actions.len()).sum(),
        unit: "actions",
        ..Output::default()
    })
}

