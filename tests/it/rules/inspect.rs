//! `inspect --json` against the fixtures' truth.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::mbz_files;
use crate::util::run;
use crate::util::shared;
use crate::util::truth_of;

use super::*;

pub(crate) fn counts_by_component<'a>(
    comps: impl Iterator<Item = &'a str>,
) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for c in comps {
        *out.entry(c.to_string()).or_insert(0) += 1;
    }
    out
}

pub(crate) fn json_counts(v: &Value) -> Option<BTreeMap<String, i64>> {
    let obj = v.as_object()?;
    Some(
        obj.iter()
            .map(|(k, v)| (k.clone(), jint(v)))
            .filter(|(_, n)| *n != 0)
            .collect(),
    )
}

#[test]
fn rules_inspect_json_matches_truth() {
    let Some(dir) = shared("moodle43") else {
        return;
    };
    let mut fails = Fails::default();
    for input in mbz_files(&dir) {
        let label = input.strip_prefix(&dir).unwrap().display().to_string();
        let out = run(&["inspect", input.to_str().unwrap(), "--json"]);
        if !out.status.success() {
            fails.add(format!(
                "{label}: inspect --json exited with {:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
            continue;
        }
        let j: Value = match serde_json::from_slice(&out.stdout) {
            Ok(j) => j,
            Err(e) => {
                fails.add(format!("{label}: inspect --json stdout is not JSON: {e}"));
                continue;
            }
        };
        let t = match read_truth(&truth_of(&input)) {
            Ok(t) => t,
            Err(e) => {
                fails.add(format!("{label}: {e}"));
                continue;
            }
        };
        let bytes = std::fs::read(&input).unwrap();
        let container = if bytes.starts_with(&[0x1f, 0x8b]) {
            "tgz"
        } else {
            "zip"
        };
        if j["container"] != container {
            fails.add(format!(
                "{label}: inspect container: expected {container:?}, got {}",
                j["container"]
            ));
        }
        // moodle_release as written in moodle_backup.xml (and in the truth's moodle.release).
        let release = read_archive(&input)
            .ok()
            .and_then(|a| {
                a.text("moodle_backup.xml")
                    .ok()
                    .and_then(|s| parse_xml(s).ok())
            })
            .and_then(|r| {
                r.kid("information")
                    .and_then(|i| i.leaf("moodle_release"))
                    .map(str::to_string)
            });
        match release {
            Some(r) => {
                if j["moodle_release"].as_str() != Some(r.as_str()) {
                    fails.add(format!(
                        "{label}: inspect moodle_release: expected {r:?}, got {}",
                        j["moodle_release"]
                    ));
                }
                if t["moodle"]["release"].as_str() != Some(r.as_str()) {
                    fails.add(format!(
                        "{label}: moodle_backup.xml release {r:?} differs from truth"
                    ));
                }
            }
            None => fails.add(format!(
                "{label}: cannot read moodle_release from moodle_backup.xml"
            )),
        }
        let course = &j["course"];
        if jint(&course["id"]) != jint(&t["course"]["id"]) {
            fails.add(format!(
                "{label}: inspect course.id: expected {}, got {}",
                t["course"]["id"], course["id"]
            ));
        }
        for k in ["shortname", "fullname"] {
            if course[k] != t["course"][k] {
                fails.add(format!(
                    "{label}: inspect course.{k}: expected {}, got {}",
                    t["course"][k], course[k]
                ));
            }
        }
        // Instances by id.
        let got: BTreeMap<i64, &Value> = arr(&j, "enrol_instances")
            .iter()
            .map(|i| (jint(&i["id"]), i))
            .collect();
        if j["enrol_instances"].as_array().is_none() {
            fails.add(format!(
                "{label}: inspect enrol_instances is not an array: {}",
                j["enrol_instances"]
            ));
        }
        let ues = arr(&t, "user_enrolments");
        for ti in arr(&t, "enrol_instances") {
            let id = jint(&ti["id"]);
            let Some(gi) = got.get(&id) else {
                fails.add(format!(
                    "{label}: inspect: instance {id} ({}) missing",
                    ti["enrol"]
                ));
                continue;
            };
            let users = ues.iter().filter(|u| jint(&u["enrolid"]) == id).count() as i64;
            let susp = ues
                .iter()
                .filter(|u| jint(&u["enrolid"]) == id && jint(&u["status"]) == 1)
                .count() as i64;
            if gi["plugin"] != ti["enrol"] {
                fails.add(format!(
                    "{label}: inspect instance {id} plugin: expected {}, got {}",
                    ti["enrol"], gi["plugin"]
                ));
            }
            for (k, want) in [
                ("status", jint(&ti["status"])),
                ("roleid", jint(&ti["roleid"])),
                ("users", users),
                ("users_suspended", susp),
            ] {
                if jint(&gi[k]) != want {
                    fails.add(format!(
                        "{label}: inspect instance {id} {k}: expected {want}, got {}",
                        gi[k]
                    ));
                }
            }
        }
        let tids: BTreeSet<i64> = arr(&t, "enrol_instances")
            .iter()
            .map(|i| jint(&i["id"]))
            .collect();
        for id in got.keys().filter(|id| !tids.contains(id)) {
            fails.add(format!("{label}: inspect: unexpected instance {id}"));
        }
        let want_ra = counts_by_component(
            arr(&t, "role_assignments")
                .iter()
                .map(|r| r["component"].as_str().unwrap_or("")),
        );
        let want_gm = counts_by_component(
            arr(&t, "group_memberships")
                .iter()
                .map(|r| r["component"].as_str().unwrap_or("")),
        );
        for (key, want) in [
            ("role_assignments_by_component", want_ra),
            ("group_members_by_component", want_gm),
        ] {
            match json_counts(&j[key]) {
                Some(got) if got == want => {}
                Some(got) => fails.add(format!(
                    "{label}: inspect {key}: expected {want:?}, got {got:?}"
                )),
                None => fails.add(format!(
                    "{label}: inspect {key} is not an object: {}",
                    j[key]
                )),
            }
        }
        if !j["warnings"].is_array() {
            fails.add(format!(
                "{label}: inspect warnings is not an array: {}",
                j["warnings"]
            ));
        }
    }
    fails.finish("inspect --json against the truth files");
}
