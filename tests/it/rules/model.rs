//! The course model, from the XML or from the truth file.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::*;

// ---------------------------------------------------------------------------------------------
// Course model (from the XML or from the truth file)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Vals {
    pub(crate) status: i64,
    pub(crate) ts: i64,
    pub(crate) te: i64,
}

impl std::fmt::Display for Vals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "status={} timestart={} timeend={}",
            self.status, self.ts, self.te
        )
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Ue {
    pub(crate) id: i64,
    pub(crate) userid: i64,
    pub(crate) vals: Vals,
}

#[derive(Clone, Debug)]
pub(crate) struct Inst {
    pub(crate) id: i64,
    pub(crate) plugin: String,
    pub(crate) status: i64,
    pub(crate) roleid: i64,
    pub(crate) ues: Vec<Ue>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Ra {
    pub(crate) roleid: i64,
    pub(crate) userid: i64,
    pub(crate) component: String,
    pub(crate) itemid: i64,
    pub(crate) id: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Gm {
    pub(crate) groupid: i64,
    pub(crate) id: i64,
    pub(crate) userid: i64,
    pub(crate) component: String,
    pub(crate) itemid: i64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Model {
    pub(crate) insts: Vec<Inst>,
    pub(crate) ras: Vec<Ra>,
    pub(crate) gms: Vec<Gm>,
    pub(crate) role_short: BTreeMap<i64, String>,
    pub(crate) usernames: BTreeMap<i64, String>,
}

impl Model {
    pub(crate) fn user(&self, id: i64) -> String {
        match self.usernames.get(&id) {
            Some(n) => format!("user {id} ({n})"),
            None => format!("user {id}"),
        }
    }
}

pub(crate) fn need<T>(v: Option<T>, what: impl FnOnce() -> String) -> Result<T, String> {
    v.ok_or_else(what)
}

pub(crate) fn ue_from_xml(e: &El) -> Result<Ue, String> {
    let f = |k: &str| {
        need(e.int(k), || {
            format!("<enrolment id={:?}> has no integer <{k}>", e.attr("id"))
        })
    };
    Ok(Ue {
        id: need(e.id(), || "<enrolment> without integer id".into())?,
        userid: f("userid")?,
        vals: Vals {
            status: f("status")?,
            ts: f("timestart")?,
            te: f("timeend")?,
        },
    })
}

pub(crate) fn enrols_of(root: &El) -> Vec<&El> {
    root.kid("enrols")
        .map(|e| e.kids("enrol").collect())
        .unwrap_or_default()
}

pub(crate) fn enrolments_of(enrol: &El) -> Vec<&El> {
    enrol
        .kid("user_enrolments")
        .map(|u| u.kids("enrolment").collect())
        .unwrap_or_default()
}

pub(crate) fn assignments_of(root: &El) -> Vec<&El> {
    root.kid("role_assignments")
        .map(|r| r.kids("assignment").collect())
        .unwrap_or_default()
}

/// (group id, member element) in document order.
pub(crate) fn members_of(root: &El) -> Vec<(i64, &El)> {
    let mut out = Vec::new();
    for g in root.kids("group") {
        let gid = g.id().unwrap_or(-1);
        if let Some(gm) = g.kid("group_members") {
            out.extend(gm.kids("group_member").map(|m| (gid, m)));
        }
    }
    out
}

pub(crate) fn model_from_archive(a: &Archive) -> Result<Model, String> {
    let mut m = Model::default();
    let enrol_root = parse_xml(a.text(ENROLMENTS)?).map_err(|e| format!("{ENROLMENTS}: {e}"))?;
    for e in enrols_of(&enrol_root) {
        let id = need(e.id(), || "<enrol> without integer id".into())?;
        let mut ues = Vec::new();
        for ue in enrolments_of(e) {
            ues.push(ue_from_xml(ue)?);
        }
        m.insts.push(Inst {
            id,
            plugin: need(e.leaf("enrol"), || format!("enrol {id}: no <enrol>"))?.to_string(),
            status: need(e.int("status"), || format!("enrol {id}: no <status>"))?,
            roleid: need(e.int("roleid"), || format!("enrol {id}: no <roleid>"))?,
            ues,
        });
    }
    let roles_root =
        parse_xml(a.text(COURSE_ROLES)?).map_err(|e| format!("{COURSE_ROLES}: {e}"))?;
    for r in assignments_of(&roles_root) {
        let f = |k: &str| {
            need(r.int(k), || {
                format!("assignment {:?}: no integer <{k}>", r.attr("id"))
            })
        };
        m.ras.push(Ra {
            id: need(r.id(), || "assignment without id".into())?,
            roleid: f("roleid")?,
            userid: f("userid")?,
            component: r.leaf("component").unwrap_or_default().to_string(),
            itemid: f("itemid")?,
        });
    }
    if a.get(GROUPS).is_some() {
        let groups_root = parse_xml(a.text(GROUPS)?).map_err(|e| format!("{GROUPS}: {e}"))?;
        for (gid, g) in members_of(&groups_root) {
            let f = |k: &str| {
                need(g.int(k), || {
                    format!("group_member {:?}: no integer <{k}>", g.attr("id"))
                })
            };
            m.gms.push(Gm {
                groupid: gid,
                id: need(g.id(), || "group_member without id".into())?,
                userid: f("userid")?,
                component: g.leaf("component").unwrap_or_default().to_string(),
                itemid: f("itemid")?,
            });
        }
    }
    let defs = parse_xml(a.text(ROOT_ROLES)?).map_err(|e| format!("{ROOT_ROLES}: {e}"))?;
    for r in defs.kids("role") {
        if let (Some(id), Some(s)) = (r.id(), r.leaf("shortname")) {
            m.role_short.insert(id, s.to_string());
        }
    }
    Ok(m)
}

pub(crate) fn jint(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(i64::MIN),
        Value::String(s) => int(s).unwrap_or(i64::MIN),
        _ => i64::MIN,
    }
}

pub(crate) fn jstr(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

pub(crate) fn arr<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v[k].as_array().map(Vec::as_slice).unwrap_or_default()
}

pub(crate) fn read_truth(path: &Path) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parse {}: {e}", path.display()))
}

pub(crate) fn model_from_truth(t: &Value) -> Model {
    let mut m = Model::default();
    let mut insts: Vec<(i64, Inst)> = arr(t, "enrol_instances")
        .iter()
        .map(|i| {
            (
                jint(&i["sortorder"]),
                Inst {
                    id: jint(&i["id"]),
                    plugin: jstr(&i["enrol"]),
                    status: jint(&i["status"]),
                    roleid: jint(&i["roleid"]),
                    ues: Vec::new(),
                },
            )
        })
        .collect();
    insts.sort_by_key(|(s, _)| *s);
    m.insts = insts.into_iter().map(|(_, i)| i).collect();
    for ue in arr(t, "user_enrolments") {
        let enrolid = jint(&ue["enrolid"]);
        let u = Ue {
            id: jint(&ue["id"]),
            userid: jint(&ue["userid"]),
            vals: Vals {
                status: jint(&ue["status"]),
                ts: jint(&ue["timestart"]),
                te: jint(&ue["timeend"]),
            },
        };
        m.usernames.insert(u.userid, jstr(&ue["username"]));
        if let Some(i) = m.insts.iter_mut().find(|i| i.id == enrolid) {
            i.ues.push(u);
        }
    }
    for ra in arr(t, "role_assignments") {
        let r = Ra {
            id: jint(&ra["id"]),
            roleid: jint(&ra["roleid"]),
            userid: jint(&ra["userid"]),
            component: jstr(&ra["component"]),
            itemid: jint(&ra["itemid"]),
        };
        m.usernames.insert(r.userid, jstr(&ra["username"]));
        m.role_short.insert(r.roleid, jstr(&ra["role"]));
        m.ras.push(r);
    }
    for i in arr(t, "enrol_instances") {
        if let Some(role) = i["role"].as_str() {
            m.role_short.insert(jint(&i["roleid"]), role.to_string());
        }
    }
    for gm in arr(t, "group_memberships") {
        m.usernames
            .insert(jint(&gm["userid"]), jstr(&gm["username"]));
        m.gms.push(Gm {
            groupid: jint(&gm["groupid"]),
            id: jint(&gm["id"]),
            userid: jint(&gm["userid"]),
            component: jstr(&gm["component"]),
            itemid: jint(&gm["itemid"]),
        });
    }
    m
}
