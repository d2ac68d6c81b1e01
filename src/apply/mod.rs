//! `apply`: puts a plan into the live course through Moodle's web services, with the same engine as `plan` and
//! `convert` ([`crate::plan`]); nothing here is a second implementation of the rules.
//!
//! Per course: find the course by a key and check it is the backup's (same site: user ids are the site's) and
//! that it has an enabled manual method; read its groups and participants; compute the calls needed (a user's
//! enrolment is sent unless the [`journal`] shows exactly these values accepted and the participants show the
//! user enrolled with the roles, active now as promised; a membership unless the user is in the group); send
//! them in batches within PHP's `max_input_vars` ([`crate::plan::calls`]), recording each accepted call; read the
//! participants back and confirm every promised user. A dry run makes the read calls only.
//!
//! Moodle's rules modelled (cited where used): `enrol_manual_enrol_users` overwrites every field
//! (`enrol/manual/externallib.php`, `enrol_users()`); from 4.4 it mails the course welcome message on every call
//! when the manual instance's `customint1` is on, and a site that cannot mail answers `Message was not sent.`
//! after the enrolment was committed (`../shared/moodle/ws-responses.md` §4, measured on 5.0).

pub mod client;
pub mod journal;
pub mod live;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde::Serialize;

pub use client::{Client, ClientOptions, Landed, Token};
pub use live::{FUNCTIONS, SiteInfo};

use crate::plan::{self, Call, CourseKey, CoursePlan, Enrolment, Member};

/// Moodle's answer to a write it committed although the welcome message could not be mailed.
pub const MESSAGE_NOT_SENT: &str = "Message was not sent.";

/// Why apply could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// The site address cannot be used.
    #[error("site address `{url}`: {why}")]
    Url {
        /// As given.
        url: String,
        /// Why.
        why: String,
    },
    /// Plain HTTP to a host that is not this machine.
    #[error(
        "plain http to {host} would send the token unencrypted: use https (or allow plain http explicitly)"
    )]
    PlainHttp {
        /// The host.
        host: String,
    },
    /// The token cannot be used.
    #[error("token: {0}")]
    Token(String),
    /// A network error, after every try.
    #[error("{function}: network error after {tries} tries: {detail}")]
    Network {
        /// The function called.
        function: String,
        /// The error (never the request body).
        detail: String,
        /// Tries made.
        tries: u32,
    },
    /// An answer that is not Moodle's REST server's (`HTTP 200`, JSON).
    #[error("{function}: HTTP {status}{}", http_hint(*.status, *.empty))]
    Http {
        /// The function called.
        function: String,
        /// The status.
        status: u16,
        /// The body was empty.
        empty: bool,
    },
    /// An answer that is not JSON.
    #[error(
        "{function}: the answer is not JSON (starts with `{start}`): is this Moodle's REST endpoint?"
    )]
    NotJson {
        /// The function called.
        function: String,
        /// Its first characters.
        start: String,
    },
    /// A Moodle exception.
    #[error("{function}: Moodle answered {errorcode} ({message}): {}", what_to_do(.errorcode))]
    Moodle {
        /// The function called.
        function: String,
        /// The exception class.
        exception: String,
        /// Its `errorcode` (empty for a PHP error).
        errorcode: String,
        /// Its message.
        message: String,
    },
    /// The service lacks functions apply needs.
    #[error(
        "the token's service lacks {}: add them to the service (Site administration > Server > Web services > \
         External services > Functions)", .0.join(", ")
    )]
    MissingFunctions(Vec<String>),
    /// A separate-groups course listed without participants: the token's role cannot see them.
    #[error(
        "the site lists nobody in this separate-groups course: the token's role needs \
         moodle/site:accessallgroups (without it core_enrol_get_enrolled_users answers an empty list, and every \
         user would be sent again as if new); add it and run again; nothing was sent"
    )]
    NoParticipantsSeen,
    /// No course, or several, for the key.
    #[error(
        "no single course has {field} `{value}` on the site ({found} found, or hidden from the token's user)"
    )]
    CourseNotFound {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
        /// Courses found.
        found: usize,
    },
    /// The live course is not the backup's.
    #[error(
        "course `{shortname}` on the site has id {live}, the backup's has id {backup}: the backup must come from \
         this site (its user ids are the site's)"
    )]
    WrongCourse {
        /// Shortname.
        shortname: String,
        /// Live id.
        live: i64,
        /// Backup id.
        backup: i64,
    },
    /// The backup names no course id.
    #[error("the backup names no course id: apply needs the site's ids")]
    NoCourseId,
    /// No enabled manual method in the live course.
    #[error(
        "course `{shortname}` has no enabled manual enrolment method (its enabled methods: {}): add or enable \
         one (Participants > Enrolment methods), then run again", if .methods.is_empty() { "none".to_owned() } else { .methods.join(", ") }
    )]
    NoManual {
        /// Shortname.
        shortname: String,
        /// The enabled methods.
        methods: Vec<String>,
    },
    /// The journal cannot be read or written.
    #[error("journal {}: {why}", .path.display())]
    Journal {
        /// Where.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A call failed half-way: the calls before it were written (and journalled).
    #[error(
        "stopped after {done} of {total} calls ({left} users in the calls not sent; the journal keeps what was \
         accepted, a second run completes it)"
    )]
    Stopped {
        /// Calls accepted.
        done: usize,
        /// Calls needed.
        total: usize,
        /// Users in the calls not sent.
        left: usize,
        /// The failure.
        source: Box<ApplyError>,
    },
    /// The site keeps fewer form variables per call than the calls need.
    #[error(
        "the site's PHP max_input_vars is below 1,000: a read call of 1,000 form variables lost its last one \
         (PHP drops the rest of a call silently, so enrolments would be lost without an error): raise \
         max_input_vars to 1,000 or more (php.ini), then run again; nothing was sent"
    )]
    InputVars,
    /// A call Moodle accepted but applied only in part: PHP dropped the form variables past `max_input_vars`.
    #[error(
        "{function}: {missing} of the {sent} users sent are not enrolled although Moodle accepted the call: the \
         site's PHP max_input_vars is below the {vars} form variables sent (PHP drops the rest silently): raise \
         it to 1,000 or more"
    )]
    Truncated {
        /// The function.
        function: &'static str,
        /// Users missing.
        missing: usize,
        /// Users sent.
        sent: usize,
        /// Form variables sent.
        vars: usize,
    },
    /// The read-back does not show what was promised.
    #[error("read back: {} users are not as promised: {}", .0.len(), .0.join("; "))]
    ReadBack(Vec<String>),
}

/// What a non-200 answer means (ws-responses.md, "Answers that are not Moodle JSON").
fn http_hint(status: u16, empty: bool) -> &'static str {
    match status {
        403 if empty => ": web services or the REST protocol are disabled on the site",
        300..=399 => {
            ": Moodle redirects requests whose address is not its wwwroot: give the site's address exactly as \
             its wwwroot"
        }
        404 => ": no REST endpoint there: give the site's address (its wwwroot)",
        500..=599 => ": the server failed",
        _ => "",
    }
}

/// What to do about a Moodle `errorcode` (ws-responses.md, "Errors by errorcode").
fn what_to_do(errorcode: &str) -> &'static str {
    match errorcode {
        "invalidtoken" => "the token is unknown or expired: create a new one",
        "accessexception" => {
            "the function is not in the token's service, or the service is disabled, the user not authorised \
             for it, the token expired, or the role lacks webservice/rest:use"
        }
        "wsaccessusersuspended" => "the token's user is suspended",
        "invalidrecord" | "invalidrecordunknown" => {
            "the function or the course does not exist on this site"
        }
        "invalidparameter" => {
            "Moodle refused a value: a group member must be enrolled first, or the site's max_input_vars is \
             below the variables of one call (PHP drops the rest, and an enrolment cut short lacks a required \
             field: nothing of the call was written); raise max_input_vars to at least 1000"
        }
        "wsusercannotassign" => {
            "the token's user may not assign this role (Define roles > Allow role assignments)"
        }
        "wsnoinstance" => "the course has no enabled manual enrolment method: add or enable one",
        "nopermissions" => "the token's role lacks the capability named in the message",
        "requireloginerror" | "errorcoursecontextnotvalid" | "coursehidden" => {
            "the token's user cannot enter the course (moodle/course:view, moodle/course:viewhiddencourses)"
        }
        MESSAGE_NOT_SENT => "the site could not mail the course welcome message",
        "" => "a PHP error inside the function",
        _ => "see the message",
    }
}

/// How to apply.
#[derive(Debug, Clone)]
pub struct Options {
    /// The key the course is found by.
    pub course_key: CourseKey,
    /// Read calls only.
    pub dry_run: bool,
    /// Where the journals are kept.
    pub journal_dir: PathBuf,
    /// Now (epoch): which promised enrolments are active now.
    pub now: i64,
}

/// What happens to one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Sent and confirmed.
    Sent,
    /// Nothing needed: already done (journal and participants agree).
    AlreadyDone,
    /// Dry run: would be sent.
    WouldSend,
    /// Not sendable: no role in the backup.
    LeftOut,
}

/// One user's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct UserOutcome {
    /// Site id.
    pub userid: i64,
    /// Username.
    pub username: String,
    /// What happened.
    pub state: State,
    /// The enrolments sent (or to send): one per role.
    pub enrolments: Vec<Enrolment>,
    /// The groups added (or to add).
    pub groups: Vec<i64>,
}

/// One course's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// The course's site id.
    pub courseid: i64,
    /// Shortname.
    pub shortname: String,
    /// Write calls sent (0 on a dry run).
    pub calls: usize,
    /// Per user.
    pub users: Vec<UserOutcome>,
    /// Things the admin should know.
    pub warnings: Vec<String>,
    /// How many of `warnings` were told before anything was sent (the rest came from the answers).
    #[serde(skip)]
    pub told_before: usize,
    /// The journal.
    pub journal: PathBuf,
}

/// Whether a promised enrolment is active at `now`.
fn active_at(e: &Enrolment, now: i64) -> bool {
    e.suspend == 0 && e.timestart <= now && (e.timeend == 0 || now < e.timeend)
}

/// Puts `plan` into the live course. `welcome`: the backup's manual instance sends the course welcome message;
/// `note` is told each warning before anything is sent.
///
/// # Errors
/// [`ApplyError`]; a failure half-way is [`ApplyError::Stopped`] (the calls before it are journalled).
pub fn apply(
    client: &Client,
    site: &SiteInfo,
    plan: &CoursePlan,
    welcome: bool,
    sync_groups: &BTreeMap<(String, String), usize>,
    opts: &Options,
    note: &dyn Fn(&str),
) -> Result<Applied, ApplyError> {
    let backup_id = plan.course.id.ok_or(ApplyError::NoCourseId)?;
    let key = plan.course.key(opts.course_key);
    let course = live::course(client, opts.course_key, &key)?;
    if course.id != backup_id {
        return Err(ApplyError::WrongCourse {
            shortname: course.shortname,
            live: course.id,
            backup: backup_id,
        });
    }
    if !course.methods.iter().any(|m| m == "manual") {
        return Err(ApplyError::NoManual {
            shortname: course.shortname,
            methods: course.methods,
        });
    }
    let host = client
        .endpoint()
        .split("://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_default()
        .to_owned();
    let journal_path = opts.journal_dir.join(journal::file_name(&host, course.id));
    let mut journal = journal::Journal::open(&journal_path)?;
    live::check_input_vars(client, course.id)?;
    let groups = live::groups(client, course.id)?;
    let before = live::participants(client, course.id)?;
    // In a separate-groups course a role without moodle/site:accessallgroups sees nobody (ws-responses.md §6,
    // measured on 4.3 and 5.0): an empty list there is not the course's state.
    if before.is_empty() && course.groupmode == live::SEPARATE_GROUPS && !plan.actions.is_empty() {
        return Err(ApplyError::NoParticipantsSeen);
    }
    let (enrolments, members, output) =
        plan::ws_items(std::slice::from_ref(plan)).map_err(|_| ApplyError::NoCourseId)?;
    let mut warnings: Vec<String> = output.warnings.clone();
    let mut by_user: BTreeMap<i64, (Vec<Enrolment>, Vec<Member>)> = BTreeMap::new();
    for e in &enrolments {
        by_user.entry(e.userid).or_default().0.push(*e);
    }
    for m in &members {
        if groups.contains(&m.groupid) {
            by_user.entry(m.userid).or_default().1.push(*m);
        } else {
            warnings.push(format!(
                "group {} of the backup is not in the live course: user {} is not added to it",
                m.groupid, m.userid
            ));
        }
    }
    let names: BTreeMap<i64, &str> = plan
        .actions
        .iter()
        .map(|a| (a.user.id, a.user.user.username.as_str()))
        .collect();
    let mut users = Vec::new();
    let (mut send_enrol, mut send_members) = (Vec::new(), Vec::new());
    // `--into`: the fresh backup shows the live manual enrolment already granting at least the promise.
    let kept: BTreeSet<i64> = plan
        .actions
        .iter()
        .filter(|a| a.into.as_ref().is_some_and(|o| o.kind == "kept"))
        .map(|a| a.user.id)
        .collect();
    let mut not_suspended = Vec::new();
    for (uid, (es, ms)) in &by_user {
        let live = before.get(uid);
        // Active now while the backup shows the user suspended: apply never suspends an access the live course
        // grants (it may have been given since the backup was taken).
        if live.is_some_and(|p| p.active) && !es.is_empty() && es.iter().all(|e| e.suspend != 0) {
            not_suspended.push(names.get(uid).copied().unwrap_or_default().to_owned());
            users.push(UserOutcome {
                userid: *uid,
                username: names.get(uid).copied().unwrap_or_default().to_owned(),
                state: State::LeftOut,
                enrolments: Vec::new(),
                groups: Vec::new(),
            });
            continue;
        }
        let enrol_done = live.is_some_and(|p| {
            es.iter().all(|e| {
                (journal.enrolled.contains(e) || kept.contains(uid)) && p.roles.contains(&e.roleid)
            }) && (p.active || !es.iter().any(|e| active_at(e, opts.now)))
        });
        let need_members: Vec<Member> = ms
            .iter()
            .filter(|m| !live.is_some_and(|p| p.groups.contains(&m.groupid)))
            .copied()
            .collect();
        let state = if enrol_done && need_members.is_empty() {
            State::AlreadyDone
        } else if opts.dry_run {
            State::WouldSend
        } else {
            State::Sent
        };
        let enrol_sent = if enrol_done { Vec::new() } else { es.clone() };
        send_enrol.extend(enrol_sent.iter().copied());
        send_members.extend(need_members.iter().copied());
        users.push(UserOutcome {
            userid: *uid,
            username: names.get(uid).copied().unwrap_or_default().to_owned(),
            state,
            enrolments: enrol_sent,
            groups: need_members.iter().map(|m| m.groupid).collect(),
        });
    }
    for a in plan.actions.iter().filter(|a| a.roles.is_empty()) {
        users.push(UserOutcome {
            userid: a.user.id,
            username: a.user.user.username.clone(),
            state: State::LeftOut,
            enrolments: Vec::new(),
            groups: Vec::new(),
        });
    }
    // A membership owned by a synced method (groups.xml `component`, e.g. enrol_cohort's "Add to group"):
    // `core_group_add_group_members` leaves it as it is (`groups_add_member()` in group/lib.php returns early for
    // a member), and the cutoff sync removes it with the synced enrolment (`groups_remove_member()` from the
    // plugin's unenrol). After the cutoff the user is no member: a second run adds a plain membership.
    for ((group, component), n) in sync_groups {
        warnings.push(format!(
            "{} of group \"{group}\" through {component}: the site keeps that membership as it is, and the cutoff \
             sync removes it with the synced enrolment; run apply again once the sync has run (it adds the \
             memberships back, owned by no method)",
            if *n == 1 {
                "1 user is a member".to_owned()
            } else {
                format!("{n} users are members")
            }
        ));
    }
    if !not_suspended.is_empty() {
        warnings.push(format!(
            "{} active in the live course now but suspended in the backup: not suspended (apply never takes away \
             an access the live course grants; a fresh backup of the course, compared with the plan, shows the \
             current state): {}",
            if not_suspended.len() == 1 { "1 user is" } else { "users are" },
            not_suspended.join(", ")
        ));
    }
    if welcome && site.version >= live::WELCOME_ON_EVERY_CALL && !send_enrol.is_empty() {
        // One mail per enrolment item: a user holding two roles gets two.
        let n = send_enrol.len();
        warnings.push(format!(
            "the backup's manual method sends the course welcome message and this site ({}) mails it on every \
             enrolment call: {n} enrolments will be sent, each mailing its user once (a user holding two roles \
             gets it twice; no call is sent twice by this run); switch it off in the manual method first if \
             they should not",
            site.release
        ));
    }
    for w in &warnings {
        note(w);
    }
    let calls = plan::calls(&send_enrol, &send_members);
    let mut applied = Applied {
        courseid: course.id,
        shortname: course.shortname.clone(),
        calls: 0,
        users,
        told_before: warnings.len(),
        warnings,
        journal: journal_path,
    };
    if opts.dry_run {
        return Ok(applied);
    }
    let total = calls.len();
    let stop = |i: usize, e: ApplyError| {
        let left = calls[i..]
            .iter()
            .flat_map(Call::users)
            .collect::<BTreeSet<_>>()
            .len();
        ApplyError::Stopped {
            done: i,
            total,
            left,
            source: Box::new(e),
        }
    };
    for (i, call) in calls.iter().enumerate() {
        // A lost answer is read back before the call is sent again. Enrolments: landed when every item shows now
        // and could not show before; not landed when none shows now. A user enrolled before cannot prove new
        // dates: sending again is harmless where the welcome message is not mailed on every call, and is
        // never done where it is (Moodle 4.4+ with the message on).
        let mails_again = welcome && site.version >= live::WELCOME_ON_EVERY_CALL;
        let landed = || {
            let Ok(now) = live::participants(client, course.id) else {
                return Landed::Unknown;
            };
            let shows = |e: &Enrolment| {
                now.get(&e.userid)
                    .is_some_and(|p| p.roles.contains(&e.roleid))
            };
            match call {
                Call::Enrol(items) => {
                    let new = items.iter().all(|e| !before.contains_key(&e.userid));
                    if new && items.iter().all(shows) {
                        Landed::Yes
                    } else if !mails_again || (new && !items.iter().any(shows)) {
                        Landed::No
                    } else {
                        Landed::Unknown
                    }
                }
                // Adding a member twice changes nothing and mails nobody.
                Call::AddMembers(items) => {
                    if items.iter().all(|m| {
                        now.get(&m.userid)
                            .is_some_and(|p| p.groups.contains(&m.groupid))
                    }) {
                        Landed::Yes
                    } else {
                        Landed::No
                    }
                }
            }
        };
        let answer = match client.call_checked(call.function(), &call.params(), &landed) {
            Ok(Some(_)) => "ok".to_owned(),
            Ok(None) => "ok (answer lost, confirmed by reading back)".to_owned(),
            // Committed before the mail failed (ws-responses.md §4): a warning once read back, never re-sent.
            Err(ApplyError::Moodle { errorcode, .. }) if errorcode == MESSAGE_NOT_SENT => {
                applied.warnings.push(format!(
                    "{}: Moodle answered \"{MESSAGE_NOT_SENT}\" (the welcome message could not be mailed); the \
                     enrolments were written (confirmed by the read-back)",
                    call.function()
                ));
                errorcode
            }
            Err(e) => return Err(stop(i, e)),
        };
        applied.calls += 1;
        // Read back after each enrolment batch: PHP may have cut it at max_input_vars, and a group member must
        // be enrolled first (add_group_members() refuses others).
        if let Call::Enrol(items) = call {
            let now_live = live::participants(client, course.id).map_err(|e| stop(i + 1, e))?;
            let missing = items
                .iter()
                .filter(|e| {
                    !now_live
                        .get(&e.userid)
                        .is_some_and(|p| p.roles.contains(&e.roleid))
                })
                .map(|e| e.userid)
                .collect::<BTreeSet<_>>()
                .len();
            if missing > 0 {
                let truncated = ApplyError::Truncated {
                    function: call.function(),
                    missing,
                    sent: items
                        .iter()
                        .map(|e| e.userid)
                        .collect::<BTreeSet<_>>()
                        .len(),
                    vars: call.params().len() + 3,
                };
                return Err(stop(i + 1, truncated));
            }
        }
        // Journalled once the batch is read back: only what Moodle shows it accepted.
        journal.record(call, &answer, crate::time::now_epoch())?;
    }
    if total > 0 {
        read_back(client, course.id, &by_user, &groups, opts.now, &names)?;
    }
    Ok(applied)
}

/// Confirms every promised user: enrolled, with the roles and the (live) groups, active now as promised. Also
/// catches a batch PHP cut at `max_input_vars` (the users past the cut are missing).
fn read_back(
    client: &Client,
    course: i64,
    by_user: &BTreeMap<i64, (Vec<Enrolment>, Vec<Member>)>,
    groups: &BTreeSet<i64>,
    now: i64,
    names: &BTreeMap<i64, &str>,
) -> Result<(), ApplyError> {
    let after = live::participants(client, course)?;
    let mut wrong = Vec::new();
    for (uid, (es, ms)) in by_user {
        let name = names.get(uid).copied().unwrap_or_default();
        let Some(p) = after.get(uid) else {
            wrong.push(format!("{name} ({uid}) not enrolled"));
            continue;
        };
        let roles: Vec<i64> = es
            .iter()
            .map(|e| e.roleid)
            .filter(|r| !p.roles.contains(r))
            .collect();
        let missing: Vec<i64> = ms
            .iter()
            .map(|m| m.groupid)
            .filter(|g| groups.contains(g) && !p.groups.contains(g))
            .collect();
        // Only a promised active user must be active: one promised suspended may still be active through the
        // method the plan replaces (it is still on the site).
        let active = es.iter().any(|e| active_at(e, now));
        if !roles.is_empty() {
            wrong.push(format!("{name} ({uid}) lacks role ids {roles:?}"));
        }
        if !missing.is_empty() {
            wrong.push(format!("{name} ({uid}) not in group ids {missing:?}"));
        }
        if active && !p.active {
            wrong.push(format!("{name} ({uid}) not active now, promised active"));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::ReadBack(wrong))
    }
}
