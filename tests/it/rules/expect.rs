//! The rules: what the output should be, and the semantic view it is compared in.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::*;

// ---------------------------------------------------------------------------------------------
// The rules: what the output should be
// ---------------------------------------------------------------------------------------------

pub(crate) fn converted_plugin(p: &str) -> bool {
    FROM.contains(&p)
}

pub(crate) fn converted_component(c: &str) -> bool {
    c.strip_prefix("enrol_").is_some_and(converted_plugin)
}

/// Later end, 0 (unlimited) winning.
pub(crate) fn later_end(a: i64, b: i64) -> i64 {
    if a == 0 || b == 0 { 0 } else { a.max(b) }
}

/// Merge of one user's converted enrolments: (enrolment, its instance's status).
pub(crate) fn merge(sources: &[(Ue, i64)]) -> Vals {
    let active: Vec<&Ue> = sources
        .iter()
        .filter(|(u, st)| u.vals.status == 0 && *st == 0)
        .map(|(u, _)| u)
        .collect();
    let pool: Vec<&Ue> = if active.is_empty() {
        sources.iter().map(|(u, _)| u).collect()
    } else {
        active.clone()
    };
    let ts = pool.iter().map(|u| u.vals.ts).min().unwrap_or(0);
    let te = pool
        .iter()
        .map(|u| u.vals.te)
        .reduce(later_end)
        .unwrap_or(0);
    Vals {
        status: if active.is_empty() { 1 } else { 0 },
        ts,
        te,
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Want {
    /// The original `<enrolment>` element, byte for byte.
    Original(Ue),
    /// The original element with `<status>` 1 (its disabled instance became enabled).
    Suspended(Ue),
    /// A merged enrolment with these values; its id is one of `ids` (the user's source enrolments).
    Merged { vals: Vals, ids: Vec<i64> },
}

impl Want {
    pub(crate) fn vals(&self) -> Vals {
        match self {
            Want::Original(u) => u.vals,
            Want::Suspended(u) => Vals {
                status: 1,
                ..u.vals
            },
            Want::Merged { vals, .. } => *vals,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InstWant {
    /// Not converted: byte-identical, enrolments included.
    Unchanged,
    /// Converted: retyped to manual; `target` when it holds the merged enrolments.
    Retyped { target: bool },
    /// The backup's existing manual instance, holding the merged enrolments.
    ManualTarget,
}

#[derive(Clone, Debug)]
pub(crate) struct Expect {
    pub(crate) insts: Vec<(i64, InstWant)>,
    pub(crate) target: Option<i64>,
    /// Users of the target instance after conversion.
    pub(crate) users: BTreeMap<i64, Want>,
}

impl Expect {
    pub(crate) fn any_converted(&self) -> bool {
        self.target.is_some()
    }
}

pub(crate) fn expect(m: &Model) -> Expect {
    let conv: Vec<&Inst> = m
        .insts
        .iter()
        .filter(|i| converted_plugin(&i.plugin))
        .collect();
    if conv.is_empty() {
        return Expect {
            insts: m
                .insts
                .iter()
                .map(|i| (i.id, InstWant::Unchanged))
                .collect(),
            target: None,
            users: BTreeMap::new(),
        };
    }
    let manual = m.insts.iter().find(|i| i.plugin == "manual");
    let target = manual.map_or(conv[0].id, |i| i.id);
    let stamped: BTreeSet<i64> = m
        .ras
        .iter()
        .filter(|r| {
            m.role_short
                .get(&r.roleid)
                .is_some_and(|s| STAMP_ROLES.contains(&s.as_str()))
        })
        .map(|r| r.userid)
        .collect();
    let stamp = |u: i64, v: Vals| {
        if stamped.contains(&u) {
            Vals { te: UNTIL, ..v }
        } else {
            v
        }
    };
    let mut sources: BTreeMap<i64, Vec<(Ue, i64)>> = BTreeMap::new();
    for i in &conv {
        for ue in &i.ues {
            sources
                .entry(ue.userid)
                .or_default()
                .push((ue.clone(), i.status));
        }
    }
    let mut users = BTreeMap::new();
    if let Some(mi) = manual {
        for ue in &mi.ues {
            let keep = if mi.status == 1 && ue.vals.status == 0 {
                Want::Suspended(ue.clone())
            } else {
                Want::Original(ue.clone())
            };
            let want = match sources.get(&ue.userid) {
                None => keep,
                Some(src) => {
                    let r = merge(src);
                    if r.status == 1 {
                        keep
                    } else {
                        // The manual enrolment is one more source: its times count only when it is
                        // effectively active (own status 0, instance enabled); otherwise it widens nothing.
                        let combined = if ue.vals.status == 0 && mi.status == 0 {
                            Vals {
                                status: 0,
                                ts: ue.vals.ts.min(r.ts),
                                te: later_end(ue.vals.te, r.te),
                            }
                        } else {
                            Vals { status: 0, ..r }
                        };
                        let mut ids = vec![ue.id];
                        ids.extend(src.iter().map(|(s, _)| s.id));
                        Want::Merged {
                            vals: stamp(ue.userid, combined),
                            ids,
                        }
                    }
                }
            };
            users.insert(ue.userid, want);
        }
    }
    for (u, src) in &sources {
        users.entry(*u).or_insert_with(|| Want::Merged {
            vals: stamp(*u, merge(src)),
            ids: src.iter().map(|(s, _)| s.id).collect(),
        });
    }
    let insts = m
        .insts
        .iter()
        .map(|i| {
            let w = if converted_plugin(&i.plugin) {
                InstWant::Retyped {
                    target: i.id == target,
                }
            } else if i.id == target {
                InstWant::ManualTarget
            } else {
                InstWant::Unchanged
            };
            (i.id, w)
        })
        .collect();
    Expect {
        insts,
        target: Some(target),
        users,
    }
}

/// Role assignments after conversion: converted components blanked, then (roleid, userid) with an
/// empty component deduplicated. Returned sorted, without ids.
pub(crate) fn expected_ras(ras: &[Ra]) -> Vec<(i64, i64, String, i64)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in ras {
        let (c, item) = if converted_component(&r.component) {
            (String::new(), 0)
        } else {
            (r.component.clone(), r.itemid)
        };
        if c.is_empty() && !seen.insert((r.roleid, r.userid)) {
            continue;
        }
        out.push((r.roleid, r.userid, c, item));
    }
    out.sort();
    out
}

pub(crate) fn expected_gms(gms: &[Gm]) -> Vec<Gm> {
    let mut out: Vec<Gm> = gms
        .iter()
        .map(|g| {
            let mut g = g.clone();
            if converted_component(&g.component) {
                g.component.clear();
                g.itemid = 0;
            }
            g
        })
        .collect();
    out.sort();
    out
}

/// Semantic view of `course/enrolments.xml`: instance id -> (plugin, status, user -> values).
pub(crate) type Semantic = BTreeMap<i64, (String, i64, BTreeMap<i64, Vec<Vals>>)>;

pub(crate) fn semantic_of(root: &El) -> Result<Semantic, String> {
    let mut out = Semantic::new();
    for e in enrols_of(root) {
        let id = need(e.id(), || "<enrol> without integer id".into())?;
        let mut users: BTreeMap<i64, Vec<Vals>> = BTreeMap::new();
        for ue in enrolments_of(e) {
            let u = ue_from_xml(ue)?;
            users.entry(u.userid).or_default().push(u.vals);
        }
        out.insert(
            id,
            (
                e.leaf("enrol").unwrap_or_default().to_string(),
                e.int("status").unwrap_or(-1),
                users,
            ),
        );
    }
    Ok(out)
}

pub(crate) fn semantic_expected(m: &Model, x: &Expect) -> Semantic {
    let mut out = Semantic::new();
    for (i, (id, w)) in m.insts.iter().zip(&x.insts) {
        debug_assert_eq!(i.id, *id);
        let (plugin, status, users) = match w {
            InstWant::Unchanged => {
                let mut users: BTreeMap<i64, Vec<Vals>> = BTreeMap::new();
                for ue in &i.ues {
                    users.entry(ue.userid).or_default().push(ue.vals);
                }
                (i.plugin.clone(), i.status, users)
            }
            InstWant::Retyped { target: false } => ("manual".into(), 0, BTreeMap::new()),
            InstWant::Retyped { target: true } | InstWant::ManualTarget => (
                "manual".into(),
                0,
                x.users.iter().map(|(u, w)| (*u, vec![w.vals()])).collect(),
            ),
        };
        out.insert(i.id, (plugin, status, users));
    }
    out
}

pub(crate) fn compare_semantic(
    label: &str,
    tag: &str,
    m: &Model,
    want: &Semantic,
    got: &Semantic,
    fails: &mut Fails,
) {
    let wids: Vec<i64> = want.keys().copied().collect();
    let gids: Vec<i64> = got.keys().copied().collect();
    if wids != gids {
        fails.add(format!(
            "{label}: {tag} enrol instance ids: expected {wids:?}, got {gids:?}"
        ));
    }
    for (id, (wp, ws, wu)) in want {
        let Some((gp, gs, gu)) = got.get(id) else {
            continue;
        };
        if wp != gp {
            fails.add(format!(
                "{label}: {tag} instance {id} <enrol>: expected {wp:?}, got {gp:?}"
            ));
        }
        if ws != gs {
            fails.add(format!(
                "{label}: {tag} instance {id} <status>: expected {ws}, got {gs}"
            ));
        }
        for (u, wv) in wu {
            match gu.get(u) {
                None => fails.add(format!(
                    "{label}: {tag} instance {id} {}: missing enrolment (expected {})",
                    m.user(*u),
                    wv[0]
                )),
                Some(gv) if gv.len() != 1 => fails.add(format!(
                    "{label}: {tag} instance {id} {}: {} enrolments, expected exactly one ({})",
                    m.user(*u),
                    gv.len(),
                    wv[0]
                )),
                Some(gv) => {
                    let (w, g) = (wv[0], gv[0]);
                    for (field, a, b) in [
                        ("status", w.status, g.status),
                        ("timestart", w.ts, g.ts),
                        ("timeend", w.te, g.te),
                    ] {
                        if a != b {
                            fails.add(format!(
                                "{label}: {tag} instance {id} {} {field}: expected {a}, got {b}",
                                m.user(*u)
                            ));
                        }
                    }
                }
            }
        }
        for u in gu.keys().filter(|u| !wu.contains_key(u)) {
            fails.add(format!(
                "{label}: {tag} instance {id} {}: unexpected enrolment {:?}",
                m.user(*u),
                gu[u]
            ));
        }
    }
}
