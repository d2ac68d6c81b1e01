//! A Moodle web-service stand-in on loopback: `webservice/rest/server.php` with `moodlewsrestformat=json`, the
//! functions apply calls, answering with Moodle's real shapes and exceptions (`../shared/moodle/ws-responses.md`,
//! Moodle 4.3) and recording every call. Bodies are read as PHP reads them (the REST replay's parser, which also
//! asserts PHP's 1,000-variable limit). Faults on request: 500 answers, connections dropped on write calls.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

use crate::plan::ws_replay::php_parse;

/// One manual enrolment on the stand-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enrolled {
    pub roles: BTreeSet<i64>,
    pub groups: BTreeSet<i64>,
    pub timestart: i64,
    pub timeend: i64,
    pub suspend: i64,
}

/// The site's state and the faults to inject.
#[derive(Debug, Clone, Default)]
pub struct Site {
    pub token: String,
    pub functions: Vec<&'static str>,
    pub course_id: i64,
    pub shortname: String,
    pub methods: Vec<&'static str>,
    pub groups: BTreeSet<i64>,
    pub users: BTreeMap<i64, Enrolled>,
    /// Every call: function and its parameters (the token left out).
    pub calls: Vec<(String, Map<String, Value>)>,
    /// The next this many requests answer HTTP 500.
    pub fail_500: usize,
    /// Once this many writes were accepted, every write call's connection is dropped unanswered.
    pub drop_writes_after: Option<usize>,
    pub writes: usize,
    /// The next write is applied, then its connection dropped before the answer (an answer lost on the way).
    pub lose_next_answer: bool,
    /// Moodle 5.0 with a welcome message it cannot mail: writes answer "Message was not sent." (written anyway).
    pub welcome_fails: bool,
    pub now: i64,
    /// PHP's max_input_vars on the stand-in (None: 1,000, asserted never passed).
    pub max_input_vars: Option<usize>,
    /// `version` and `release` of the site (empty: 4.3's).
    pub version: &'static str,
    /// The course's group mode (1: separate groups).
    pub groupmode: i64,
}

/// The functions of the service `ws_setup.php` makes.
pub const ALL: &[&str] = &[
    "core_webservice_get_site_info",
    "core_course_get_courses_by_field",
    "core_enrol_get_course_enrolment_methods",
    "core_enrol_get_enrolled_users",
    "enrol_manual_enrol_users",
    "enrol_manual_unenrol_users",
    "core_group_get_course_groups",
    "core_group_add_group_members",
];

/// A running stand-in.
pub struct StandIn {
    pub url: String,
    pub site: Arc<Mutex<Site>>,
}

impl StandIn {
    /// Serves `site` on 127.0.0.1, a free port, until the test ends.
    pub fn start(site: Site) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/moodle", listener.local_addr().unwrap());
        let site = Arc::new(Mutex::new(site));
        let shared = Arc::clone(&site);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &s));
            }
        });
        Self { url, site }
    }

    /// The functions called, in order.
    pub fn functions(&self) -> Vec<String> {
        self.site
            .lock()
            .unwrap()
            .calls
            .iter()
            .map(|c| c.0.clone())
            .collect()
    }

    /// The write calls made.
    pub fn writes(&self) -> usize {
        self.functions().iter().filter(|f| is_write(f)).count()
    }
}

fn is_write(f: &str) -> bool {
    f == "enrol_manual_enrol_users" || f == "core_group_add_group_members"
}

fn exception(class: &str, code: &str, message: &str) -> Value {
    json!({"exception": class, "errorcode": code, "message": message})
}

fn serve(mut stream: TcpStream, site: &Mutex<Site>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let answer = {
        let mut s = site.lock().unwrap();
        if s.fail_500 > 0 {
            s.fail_500 -= 1;
            let mut post = php_parse(std::str::from_utf8(&body).unwrap());
            let f = post
                .remove("wsfunction")
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            s.calls.push((format!("{f} (500)"), Map::new()));
            Some((500, "<h1>Internal Server Error</h1>".to_owned()))
        } else if path != "/moodle/webservice/rest/server.php" {
            Some((404, "not found".to_owned()))
        } else {
            let text = std::str::from_utf8(&body).unwrap();
            // PHP keeps the first max_input_vars variables and drops the rest silently.
            let kept: Vec<&str> = text
                .split('&')
                .take(s.max_input_vars.unwrap_or(usize::MAX))
                .collect();
            let post = php_parse(&kept.join("&"));
            let answer = handle(&mut s, post).map(|v| (200, v.to_string()));
            let written = s.calls.last().is_some_and(|c| is_write(&c.0));
            if written && std::mem::take(&mut s.lose_next_answer) {
                None
            } else {
                answer
            }
        }
    };
    let Some((status, text)) = answer else {
        // Dropped: no answer at all.
        return;
    };
    let (reason, kind) = if status == 200 {
        ("OK", "application/json")
    } else {
        ("Error", "text/html; charset=utf-8")
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
}

fn int(v: Option<&Value>) -> i64 {
    v.and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// One REST call; None drops the connection.
fn handle(s: &mut Site, mut post: Map<String, Value>) -> Option<Value> {
    let token = post
        .remove("wstoken")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let function = post
        .remove("wsfunction")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    assert_eq!(post.remove("moodlewsrestformat"), Some(json!("json")));
    if token != s.token {
        return Some(exception(
            "moodle_exception",
            "invalidtoken",
            "Invalid token - token not found",
        ));
    }
    if !s.functions.contains(&function.as_str()) {
        return Some(exception(
            "webservice_access_exception",
            "accessexception",
            "Access control exception",
        ));
    }
    if is_write(&function) && s.drop_writes_after.is_some_and(|n| s.writes >= n) {
        s.calls.push((format!("{function} (dropped)"), post));
        return None;
    }
    s.calls.push((function.clone(), post.clone()));
    let answer = match function.as_str() {
        "core_webservice_get_site_info" => json!({
            "sitename": "Test", "username": "mbzapply", "userid": 255, "siteurl": "http://localhost/moodle",
            "functions": s.functions.iter().map(|f| json!({"name": f, "version": "2023100900"})).collect::<Vec<_>>(),
            "release": if s.version.is_empty() { "4.3 (Build: 20231009)" } else { "5.0 (Build: 20250414)" },
            "version": if s.version.is_empty() { "2023100900" } else { s.version },
            "userprivateaccesskey": "PRIVATEKEYnever2bShown", "siteid": 1
        }),
        "core_course_get_courses_by_field" => {
            let field = post["field"].as_str().unwrap_or_default();
            let value = post["value"].as_str().unwrap_or_default();
            let hit = match field {
                "shortname" | "idnumber" => value == s.shortname,
                "id" => value == s.course_id.to_string(),
                _ => false,
            };
            let courses: Vec<Value> = if hit {
                vec![
                    json!({"id": s.course_id, "fullname": s.shortname, "shortname": s.shortname,
                    "enrollmentmethods": s.methods, "visible": 1, "groupmode": s.groupmode}),
                ]
            } else {
                Vec::new()
            };
            json!({"courses": courses, "warnings": []})
        }
        "core_group_get_course_groups" => {
            if int(post.get("courseid")) != s.course_id {
                return Some(exception(
                    "dml_missing_record_exception",
                    "invalidrecordunknown",
                    "Can't find data record in database table course.",
                ));
            }
            Value::Array(
                s.groups
                    .iter()
                    .map(|g| {
                        json!({"id": g, "courseid": s.course_id, "name": format!("G{g}"),
                "description": "", "descriptionformat": 1, "enrolmentkey": "", "idnumber": ""})
                    })
                    .collect(),
            )
        }
        "core_enrol_get_enrolled_users" => {
            // validate_parameters(): courseid is required (a probe cut by max_input_vars lacks it).
            if post.get("courseid").is_none() {
                return Some(exception(
                    "invalid_parameter_exception",
                    "invalidparameter",
                    "Invalid parameter value detected",
                ));
            }
            if int(post.get("courseid")) != s.course_id {
                return Some(exception(
                    "dml_missing_record_exception",
                    "invalidrecordunknown",
                    "Can't find data record in database table course.",
                ));
            }
            let mut options = BTreeMap::new();
            if let Some(o) = post.get("options").and_then(Value::as_object) {
                for (_, kv) in o {
                    options.insert(
                        kv["name"].as_str().unwrap().to_owned(),
                        kv["value"].as_str().unwrap().to_owned(),
                    );
                }
            }
            let only_active = options.get("onlyactive").is_some_and(|v| v == "1");
            let fields: Option<Vec<&str>> =
                options.get("userfields").map(|f| f.split(',').collect());
            let wants = |f: &str| fields.as_ref().is_none_or(|l| l.contains(&f));
            let now = s.now;
            Value::Array(
                s.users
                    .iter()
                    .filter(|(_, e)| !only_active || (e.suspend == 0 && e.timestart <= now && (e.timeend == 0 || now < e.timeend)))
                    .map(|(id, e)| {
                        let mut u = json!({"id": id, "fullname": format!("User {id}")});
                        if wants("roles") {
                            u["roles"] = Value::Array(e.roles.iter().map(|r| json!({"roleid": r, "name": "", "shortname": "role", "sortorder": 0})).collect());
                        }
                        if wants("groups") && !e.groups.is_empty() {
                            u["groups"] = Value::Array(e.groups.iter().map(|g| json!({"id": g, "name": format!("G{g}"), "description": "", "descriptionformat": 1})).collect());
                        }
                        u
                    })
                    .collect(),
            )
        }
        "enrol_manual_enrol_users" => {
            if !s.methods.contains(&"manual") {
                return Some(exception(
                    "moodle_exception",
                    "wsnoinstance",
                    "Manual enrolment plugin instance doesn't exist or is disabled for the course (id = {$a->courseid})",
                ));
            }
            // validate_parameters(): an item without a required field refuses the whole call, nothing written.
            let items = post["enrolments"].as_object().unwrap();
            if items.values().any(|e| {
                ["roleid", "userid", "courseid"]
                    .iter()
                    .any(|f| e.get(*f).is_none())
            }) {
                return Some(exception(
                    "invalid_parameter_exception",
                    "invalidparameter",
                    "Invalid parameter value detected",
                ));
            }
            for (_, e) in items {
                assert_eq!(int(e.get("courseid")), s.course_id);
                // enrol_users(): a missing field is 0 (active, no dates), also for an existing enrolment.
                let u = s.users.entry(int(e.get("userid"))).or_default();
                u.roles.insert(int(e.get("roleid")));
                (u.timestart, u.timeend, u.suspend) = (
                    int(e.get("timestart")),
                    int(e.get("timeend")),
                    int(e.get("suspend")),
                );
            }
            s.writes += 1;
            if s.welcome_fails {
                return Some(exception(
                    "core\\exception\\moodle_exception",
                    "Message was not sent.",
                    "error/Message was not sent.",
                ));
            }
            Value::Null
        }
        "core_group_add_group_members" => {
            let members: Vec<(i64, i64)> = post["members"]
                .as_object()
                .unwrap()
                .values()
                .map(|m| (int(m.get("groupid")), int(m.get("userid"))))
                .collect();
            for (g, u) in &members {
                if !s.users.contains_key(u) || !s.groups.contains(g) {
                    return Some(exception(
                        "invalid_parameter_exception",
                        "invalidparameter",
                        "Invalid parameter value detected",
                    ));
                }
            }
            for (g, u) in members {
                s.users.get_mut(&u).unwrap().groups.insert(g);
            }
            s.writes += 1;
            Value::Null
        }
        _ => exception(
            "dml_missing_record_exception",
            "invalidrecord",
            "Can't find data record in database table external_functions.",
        ),
    };
    Some(answer)
}
