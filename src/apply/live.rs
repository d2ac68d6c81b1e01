//! What apply reads from the live site, and how the answers are understood: the site's functions and release
//! (`core_webservice_get_site_info`, whose answer is never shown: it holds a private key), the course by a key
//! with its enabled methods (`core_course_get_courses_by_field`: `core_enrol_get_course_enrolment_methods` never
//! lists manual instances), the course's groups (`core_group_get_course_groups`) and its participants with roles
//! and groups (`core_enrol_get_enrolled_users`), all of them and the ones active now (`onlyactive`).
//! Shapes: `../shared/moodle/ws-responses.md` (Moodle 4.3 and 5.0).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::ApplyError;
use super::client::Client;
use crate::plan::{CourseKey, MAX_INPUT_VARS};

/// The functions apply calls: the service must allow each.
pub const FUNCTIONS: &[&str] = &[
    "core_webservice_get_site_info",
    "core_course_get_courses_by_field",
    "core_enrol_get_enrolled_users",
    "core_group_get_course_groups",
    "enrol_manual_enrol_users",
    "core_group_add_group_members",
];

/// Moodle 4.4's version number: from it on, a manual instance with the course welcome message on sends it on
/// every `enrol_manual_enrol_users` call (ws-responses.md, "What this means for apply" §4).
pub const WELCOME_ON_EVERY_CALL: i64 = 2024042200;

/// What the site says about itself (only what apply needs).
#[derive(Debug, Clone)]
pub struct SiteInfo {
    /// `release`, e.g. `4.3 (Build: 20231009)`.
    pub release: String,
    /// `version` as a number (0 when absent).
    pub version: i64,
    /// The token's user name.
    pub username: String,
}

/// Checks the token and the service: every function of [`FUNCTIONS`] allowed.
///
/// # Errors
/// [`ApplyError`]: the call's own, or [`ApplyError::MissingFunctions`].
pub fn site_info(client: &Client) -> Result<SiteInfo, ApplyError> {
    let v = client.call("core_webservice_get_site_info", &[])?;
    let allowed: BTreeSet<&str> = v["functions"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["name"].as_str()).collect())
        .unwrap_or_default();
    let missing: Vec<String> = FUNCTIONS
        .iter()
        .filter(|f| !allowed.contains(**f))
        .map(|f| (*f).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(ApplyError::MissingFunctions(missing));
    }
    Ok(SiteInfo {
        release: v["release"].as_str().unwrap_or_default().to_owned(),
        version: v["version"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| v["version"].as_i64())
            .unwrap_or(0),
        username: v["username"].as_str().unwrap_or_default().to_owned(),
    })
}

/// The live course.
#[derive(Debug, Clone)]
pub struct LiveCourse {
    /// Site id.
    pub id: i64,
    /// Shortname.
    pub shortname: String,
    /// Enabled enrolment methods (plugin names).
    pub methods: Vec<String>,
    /// The course's group mode (`groupmode`: 0 none, 1 separate, 2 visible groups).
    pub groupmode: i64,
}

/// The course whose `key` is `value`.
///
/// # Errors
/// [`ApplyError::CourseNotFound`], or the call's error.
pub fn course(client: &Client, key: CourseKey, value: &str) -> Result<LiveCourse, ApplyError> {
    let field = match key {
        CourseKey::Shortname => "shortname",
        CourseKey::Idnumber => "idnumber",
        CourseKey::Id => "id",
    };
    let v = client.call(
        "core_course_get_courses_by_field",
        &[
            ("field".into(), field.into()),
            ("value".into(), value.into()),
        ],
    )?;
    let courses = v["courses"].as_array().cloned().unwrap_or_default();
    let [c] = courses.as_slice() else {
        return Err(ApplyError::CourseNotFound {
            field,
            value: value.to_owned(),
            found: courses.len(),
        });
    };
    Ok(LiveCourse {
        id: c["id"].as_i64().unwrap_or(0),
        shortname: c["shortname"].as_str().unwrap_or_default().to_owned(),
        methods: c["enrollmentmethods"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        groupmode: c["groupmode"].as_i64().unwrap_or(0),
    })
}

/// Moodle's `SEPARATEGROUPS` (`lib/grouplib.php`).
pub const SEPARATE_GROUPS: i64 = 1;

/// The course's group ids.
///
/// # Errors
/// The call's error.
pub fn groups(client: &Client, course: i64) -> Result<BTreeSet<i64>, ApplyError> {
    let v = client.call(
        "core_group_get_course_groups",
        &[("courseid".into(), course.to_string())],
    )?;
    Ok(v.as_array()
        .map(|a| a.iter().filter_map(|g| g["id"].as_i64()).collect())
        .unwrap_or_default())
}

/// One participant as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Participant {
    /// Role ids in the course.
    pub roles: BTreeSet<i64>,
    /// Group ids in the course.
    pub groups: BTreeSet<i64>,
    /// Active now (listed with `onlyactive`).
    pub active: bool,
}

/// The course's participants by user id, with roles, groups and whether each is active now.
///
/// # Errors
/// The calls' errors.
pub fn participants(
    client: &Client,
    course: i64,
) -> Result<BTreeMap<i64, Participant>, ApplyError> {
    let id = ("courseid".to_owned(), course.to_string());
    let all = client.call(
        "core_enrol_get_enrolled_users",
        &[
            id.clone(),
            ("options[0][name]".into(), "userfields".into()),
            ("options[0][value]".into(), "id,roles,groups".into()),
        ],
    )?;
    let active = client.call(
        "core_enrol_get_enrolled_users",
        &[
            id,
            ("options[0][name]".into(), "onlyactive".into()),
            ("options[0][value]".into(), "1".into()),
            ("options[1][name]".into(), "userfields".into()),
            ("options[1][value]".into(), "id".into()),
        ],
    )?;
    let ids = |v: &Value, name: &str, field: &str| -> BTreeSet<i64> {
        v[name]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x[field].as_i64()).collect())
            .unwrap_or_default()
    };
    let active: BTreeSet<i64> = active
        .as_array()
        .map(|a| a.iter().filter_map(|u| u["id"].as_i64()).collect())
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for u in all.as_array().map(Vec::as_slice).unwrap_or_default() {
        if let Some(uid) = u["id"].as_i64() {
            out.insert(
                uid,
                Participant {
                    roles: ids(u, "roles", "roleid"),
                    groups: ids(u, "groups", "id"),
                    active: active.contains(&uid),
                },
            );
        }
    }
    Ok(out)
}

/// Checks that the site keeps [`MAX_INPUT_VARS`] form variables per call: PHP drops the variables past its
/// `max_input_vars` silently, and an enrolment call cut that way is accepted with some users missing, unseen by
/// a read-back when they are participants already (through the sync). A read call of exactly that many
/// variables, with its one required parameter (`courseid`) last, is refused (`invalidparameter`, measured on
/// Moodle 4.3 with `max_input_vars` 500) when any is dropped.
///
/// # Errors
/// [`ApplyError::InputVars`], or the call's errors.
pub fn check_input_vars(client: &Client, course: i64) -> Result<(), ApplyError> {
    // wstoken, wsfunction and moodlewsrestformat, then option pairs, then courseid.
    let pairs = (MAX_INPUT_VARS - 3 - 1) / 2;
    let mut params = Vec::with_capacity(pairs * 2 + 1);
    for i in 0..pairs {
        params.push((format!("options[{i}][name]"), "limitnumber".to_owned()));
        params.push((format!("options[{i}][value]"), "1".to_owned()));
    }
    params.push(("courseid".to_owned(), course.to_string()));
    match client.call("core_enrol_get_enrolled_users", &params) {
        Err(ApplyError::Moodle { errorcode, .. }) if errorcode == "invalidparameter" => {
            Err(ApplyError::InputVars)
        }
        other => other.map(|_| ()),
    }
}
