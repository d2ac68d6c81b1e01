//! Property tests (issue 8): the span editor, and conversion of generated enrolment sets, both on the
//! documents and on whole archives. Public API only; documents are built in Moodle's exact layout (the builders
//! follow `src/enrol/convert_tests.rs`) and read back with a small text reader written here, not the crate's.
//!
//! Failure persistence is off (no `proptest-regressions/` in the source tree): a failure prints its shrunk case,
//! which belongs in a named regression test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use mbz_enrol::enrol::Conversion;
use mbz_enrol::enrol::convert::{Docs, Options, convert};
use mbz_enrol::xml::{Edit, splice};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{Index, select, subsequence};
use proptest::test_runner::TestCaseError;

use crate::util::{self, RawMember, index_for, raw_members, tempdir, write_tgz};

/// A config with `cases` cases and no regression files.
fn config(cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::with_cases(cases);
    c.failure_persistence = None;
    c
}

// ---------------------------------------------------------------------------------------------------------
// Span editor.
// ---------------------------------------------------------------------------------------------------------

/// One step of a walk over the input that yields non-overlapping edits.
#[derive(Debug, Clone)]
enum Step {
    Insert(Vec<u8>),
    /// Replace up to that many bytes (0: an insertion).
    Replace(usize, Vec<u8>),
    Delete(usize),
}

fn step() -> impl Strategy<Value = (usize, Step)> {
    let bytes = || vec(any::<u8>(), 0..4);
    (
        0usize..6,
        prop_oneof![
            bytes().prop_map(Step::Insert),
            (0usize..6, bytes()).prop_map(|(n, w)| Step::Replace(n, w)),
            (1usize..6).prop_map(Step::Delete),
        ],
    )
}

/// The edits of a walk: each step skips `gap` bytes (0 makes edits adjacent, or several insertions at one
/// offset, or an insertion right before or after a replacement), then edits from there.
fn walk(len: usize, steps: Vec<(usize, Step)>) -> Vec<Edit> {
    let mut pos = 0;
    let mut out = Vec::new();
    for (gap, step) in steps {
        pos = (pos + gap).min(len);
        match step {
            Step::Insert(w) => out.push(Edit::insert(pos, w)),
            Step::Replace(n, w) => {
                let end = (pos + n).min(len);
                out.push(Edit::replace(pos..end, w));
                pos = end;
            }
            Step::Delete(n) => {
                let end = (pos + n).min(len);
                out.push(Edit::delete(pos..end));
                pos = end;
            }
        }
    }
    out
}

/// An input and a non-overlapping set of edits, in random order.
fn valid_case() -> impl Strategy<Value = (Vec<u8>, Vec<Edit>)> {
    (vec(any::<u8>(), 0..48), vec(step(), 0..10))
        .prop_map(|(input, steps)| {
            let edits = walk(input.len(), steps);
            (input, edits)
        })
        .prop_flat_map(|(input, edits)| (Just(input), Just(edits).prop_shuffle()))
}

/// An input and edits at arbitrary places: overlapping, out of bounds, inverted (start > end) or fine.
fn arbitrary_case() -> impl Strategy<Value = (Vec<u8>, Vec<Edit>)> {
    vec(any::<u8>(), 0..24).prop_flat_map(|input| {
        let n = input.len();
        let edit = prop_oneof![
            9 => (0..=n + 1, 0usize..4, vec(any::<u8>(), 0..3))
                .prop_map(|(start, len, w)| Edit::replace(start..start + len, w)),
            1 => (1..=n + 1, 1usize..3).prop_map(|(end, back)| Edit {
                range: end..end.saturating_sub(back),
                with: b"~".to_vec(),
            }),
        ];
        (Just(input), vec(edit, 0..5))
    })
}

/// Two edits touch a common byte, or an insertion falls strictly inside a replaced range.
fn overlaps(a: &std::ops::Range<usize>, b: &std::ops::Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Every edit lies inside the input, none is inverted, no two overlap.
fn valid(len: usize, edits: &[Edit]) -> bool {
    edits
        .iter()
        .all(|e| e.range.start <= e.range.end && e.range.end <= len)
        && edits
            .iter()
            .enumerate()
            .all(|(i, a)| edits[i + 1..].iter().all(|b| !overlaps(&a.range, &b.range)))
}

/// The expected output of a valid set, by walking the input position by position: at each offset, first the
/// insertions there (in the order given), then the replacement starting there (jumping to its end), else the
/// input byte itself.
fn model(input: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut p = 0;
    loop {
        for e in edits
            .iter()
            .filter(|e| e.range.is_empty() && e.range.start == p)
        {
            out.extend_from_slice(&e.with);
        }
        if let Some(e) = edits
            .iter()
            .find(|e| !e.range.is_empty() && e.range.start == p)
        {
            out.extend_from_slice(&e.with);
            p = e.range.end;
        } else if p < input.len() {
            out.push(input[p]);
            p += 1;
        } else {
            break;
        }
    }
    out
}

proptest! {
    #![proptest_config(config(1024))]

    /// A valid set gives the input with exactly those edits applied, whatever the order of the set (insertions
    /// at one offset keep their order and precede a replacement starting there).
    #[test]
    fn splice_keeps_every_byte_outside_the_edits((input, edits) in valid_case()) {
        prop_assert!(valid(input.len(), &edits), "generator made an invalid set");
        let out = splice(&input, edits.clone());
        prop_assert!(out.is_ok(), "refused a valid set: {:?}", out);
        prop_assert_eq!(out.unwrap(), model(&input, &edits));
    }

    /// Any set (overlapping, out of bounds, inverted): splice refuses exactly the invalid ones, never panics,
    /// and applies the valid ones as the model does.
    #[test]
    fn splice_accepts_exactly_the_valid_sets((input, edits) in arbitrary_case()) {
        let ok = valid(input.len(), &edits);
        match splice(&input, edits.clone()) {
            Ok(out) => {
                prop_assert!(ok, "accepted an invalid set");
                prop_assert_eq!(out, model(&input, &edits));
            }
            Err(_) => prop_assert!(!ok, "refused a valid set"),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Span scanner against quick-xml's reader.
// ---------------------------------------------------------------------------------------------------------

/// Pieces of markup, text and near-misses (unclosed tags and quotes, stray `&`, `<`, `>`, `/`, prefixes,
/// whitespace in end tags, declarations, non-breaking spaces, bytes that are not UTF-8) that, put together,
/// make documents both good and bad.
const XML_PIECES: &[&[u8]] = &[
    b"<a>",
    b"</a>",
    b"<b id=\"1\">",
    b"</b>",
    b"<a/>",
    b"<b />",
    b"<x:a>",
    b"</x:a>",
    b"</a >",
    b"</ a>",
    b"<a / >",
    b"<c x='>'>",
    b"</c>",
    b"<c x=\"'\">",
    b"text",
    b" ",
    b"\n",
    b"\t",
    b"&amp;",
    b"&#10;",
    b"&",
    b";",
    b"<",
    b">",
    b"'",
    b"\"",
    b"/",
    b"=",
    b"?",
    b"<>",
    b"</>",
    b"<?xml version=\"1.0\"?>",
    b"<?pi x?>",
    b"<?>",
    b"<??>",
    b"<?xml",
    b"\xc2\xa0",
    b"\xc3\xa9",
    b"\xff",
    b"<enrol id=\"5\">",
    b"</enrol>",
    b"<!-- c -->",
];

proptest! {
    #![proptest_config(config(4096))]

    /// `walk` (the span scanner) and `walk_quick_xml` (quick-xml's reader) see the same elements at the same
    /// offsets and refuse the same documents with the same error.
    #[test]
    fn span_scanner_agrees_with_quick_xml(pieces in vec(select(XML_PIECES), 0..24)) {
        crate::fuzz_replay::harness::scanners_agree(&pieces.concat());
    }
}

proptest! {
    // About a quarter of the valid sets have no replaced byte and are rejected.
    #![proptest_config(ProptestConfig { max_global_rejects: 100_000, ..config(512) })]

    /// Adding one edit that shares a byte with a replaced range makes the set an error naming two overlapping
    /// edits of the set.
    #[test]
    fn splice_refuses_an_edit_overlapping_another(
        (input, edits) in valid_case(),
        pick in any::<Index>(),
        inside in any::<Index>(),
        lo in any::<Index>(),
        hi in any::<Index>(),
        at in any::<Index>(),
    ) {
        let nonempty: Vec<&Edit> = edits.iter().filter(|e| !e.range.is_empty()).collect();
        prop_assume!(!nonempty.is_empty());
        let a = pick.get(&nonempty).range.clone();
        let x = a.start + inside.index(a.len());
        let b = lo.index(x + 1)..x + 1 + hi.index(input.len() - x);
        let mut all = edits.clone();
        all.insert(at.index(all.len() + 1), Edit::replace(b.clone(), b"!".to_vec()));
        match splice(&input, all.clone()) {
            Ok(_) => prop_assert!(false, "accepted {:?}, which overlaps {:?}", b, a),
            Err(e) => {
                prop_assert!(overlaps(&e.first, &e.second), "reported {:?}", e);
                for r in [&e.first, &e.second] {
                    prop_assert!(all.iter().any(|x| x.range == *r), "reported {:?}, not an edit", r);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Generated enrolment sets.
// ---------------------------------------------------------------------------------------------------------

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const NUL: &str = "$@NULL@$";
/// Users of `coh_basic.mbz` (users.xml holds 8..=39): few, so instances share users.
const USERS: [i64; 8] = [8, 9, 10, 11, 12, 13, 14, 15];
/// Plugins whose sync writes `enrol_<plugin>` role assignments and group members.
const SYNCED: [&str; 3] = ["cohort", "database", "meta"];
const OTHERS: [&str; 4] = ["cohort", "database", "meta", "self"];
const ENROLMENTS: &str = "course/enrolments.xml";
const COURSE_ROLES: &str = "course/roles.xml";
const ROLES: &str = "roles.xml";
const GROUPS: &str = "groups.xml";

/// `<enrol>` columns in backup order, with Moodle's usual values (see convert_tests.rs).
const FIELDS: &[(&str, &str)] = &[
    ("enrol", ""),
    ("status", ""),
    ("name", NUL),
    ("enrolperiod", "0"),
    ("enrolstartdate", "0"),
    ("enrolenddate", "0"),
    ("expirynotify", "0"),
    ("expirythreshold", "86400"),
    ("notifyall", "0"),
    ("password", NUL),
    ("cost", NUL),
    ("currency", NUL),
    ("roleid", ""),
    ("customint1", ""),
    ("customint2", ""),
    ("customint3", ""),
    ("customint4", ""),
    ("customint5", ""),
    ("customint6", ""),
    ("customint7", ""),
    ("customint8", ""),
    ("customchar1", NUL),
    ("customchar2", NUL),
    ("customchar3", NUL),
    ("customdec1", NUL),
    ("customdec2", NUL),
    ("customtext1", NUL),
    ("customtext2", NUL),
    ("customtext3", NUL),
    ("customtext4", NUL),
    ("timecreated", "1700000000"),
    ("timemodified", "1700000000"),
];

/// A generated `<enrolment>`.
#[derive(Debug, Clone)]
struct GUe {
    user: i64,
    status: i64,
    start: i64,
    end: i64,
}

/// A generated `<enrol>`.
#[derive(Debug, Clone)]
struct GInst {
    plugin: &'static str,
    status: i64,
    roleid: i64,
    /// customint1..8 (`None`: `$@NULL@$`).
    custom: Vec<Option<i64>>,
    ues: Vec<GUe>,
}

/// A generated enrolment set with its role assignments, group members and conversion options.
#[derive(Debug, Clone)]
struct Case {
    insts: Vec<GInst>,
    /// (roleid, userid, component: `enrol_<plugin>` of the picked synced instance, else '').
    ras: Vec<(i64, i64, Option<Index>)>,
    /// (group id, userid, component as for `ras`).
    members: Vec<(i64, i64, Option<Index>)>,
    from: Vec<&'static str>,
    stamp: Vec<&'static str>,
    until: i64,
}

/// Instants on a coarse grid, so starts, ends and `until` often coincide or interleave.
fn instant() -> impl Strategy<Value = i64> {
    (1i64..=30).prop_map(|k| 1_600_000_000 + k * 10_000_000)
}

/// A start or end: 0 (none / unlimited) or an instant.
fn time() -> BoxedStrategy<i64> {
    prop_oneof![Just(0i64), instant()].boxed()
}

fn status() -> BoxedStrategy<i64> {
    prop_oneof![3 => Just(0i64), 1 => Just(1i64)].boxed()
}

/// User enrolments: distinct users (Moodle's unique key: the first one per user is kept) or, with `unique`
/// off, repeats too. Built without `prop_flat_map` so that failures shrink well.
fn ues(unique: bool) -> impl Strategy<Value = Vec<GUe>> {
    vec((select(&USERS[..]), status(), time(), time()), 0..=5).prop_map(move |v| {
        let mut seen = BTreeSet::new();
        v.into_iter()
            .filter(|(user, ..)| !unique || seen.insert(*user))
            .map(|(user, status, start, end)| GUe {
                user,
                status,
                start,
                end,
            })
            .collect()
    })
}

fn inst(plugin: impl Strategy<Value = &'static str>, unique: bool) -> impl Strategy<Value = GInst> {
    (
        plugin,
        status(),
        select(vec![0i64, 3, 5]),
        vec(option::of(0i64..1000), 8),
        ues(unique),
    )
        .prop_map(|(plugin, status, roleid, custom, ues)| GInst {
            plugin,
            status,
            roleid,
            custom,
            ues,
        })
}

/// One to four cohort/database/meta/self instances and at most one manual instance (Moodle allows one per
/// course) anywhere among them. `unique`: one enrolment per user and instance, as Moodle's unique key.
fn case(unique: bool) -> impl Strategy<Value = Case> {
    let others = vec(inst(select(&OTHERS[..]), unique), 1..=4);
    let manual = option::of((any::<Index>(), inst(Just("manual"), true)));
    let ras = vec(
        (
            select(vec![3i64, 5]),
            select(&USERS[..]),
            option::of(any::<Index>()),
        ),
        0..10,
    );
    let members = vec(
        (1i64..=3, select(&USERS[..]), option::of(any::<Index>())),
        0..8,
    );
    (
        others,
        manual,
        ras,
        members,
        subsequence(OTHERS.to_vec(), 1..=4),
        subsequence(vec!["student", "editingteacher"], 0..=2),
        instant(),
    )
        .prop_map(|(mut insts, manual, ras, members, from, stamp, until)| {
            if let Some((at, m)) = manual {
                let i = at.index(insts.len() + 1);
                insts.insert(i, m);
            }
            Case {
                insts,
                ras,
                members,
                from,
                stamp,
                until,
            }
        })
}

fn enrol_id(k: usize) -> usize {
    300 + k
}

/// The four documents a conversion reads.
#[derive(Debug, Clone)]
struct Texts {
    enrolments: String,
    course_roles: String,
    roles: String,
    groups: String,
}

impl Texts {
    fn docs(&self) -> Docs<'_> {
        Docs {
            enrolments: Some(self.enrolments.as_bytes()),
            course_roles: Some(self.course_roles.as_bytes()),
            roles: Some(self.roles.as_bytes()),
            groups: Some(self.groups.as_bytes()),
        }
    }

    /// The documents after `c` (unchanged members kept).
    fn after(&self, c: &Conversion) -> Texts {
        let pick = |new: &Option<Vec<u8>>, old: &String| match new {
            Some(b) => String::from_utf8(b.clone()).expect("utf-8 output"),
            None => old.clone(),
        };
        Texts {
            enrolments: pick(&c.enrolments, &self.enrolments),
            course_roles: pick(&c.course_roles, &self.course_roles),
            roles: self.roles.clone(),
            groups: pick(&c.groups, &self.groups),
        }
    }
}

impl Case {
    fn options(&self) -> Options {
        Options {
            from: self.from.iter().map(|s| (*s).to_owned()).collect(),
            stamp_roles: self.stamp.iter().map(|s| (*s).to_owned()).collect(),
            until: self.until,
        }
    }

    /// `(component, itemid)` for a picked synced instance, or the manual `('', 0)`.
    fn component(&self, via: Option<Index>) -> (String, usize) {
        let synced: Vec<usize> = (0..self.insts.len())
            .filter(|&k| SYNCED.contains(&self.insts[k].plugin))
            .collect();
        match via {
            Some(ix) if !synced.is_empty() => {
                let k = *ix.get(&synced);
                (format!("enrol_{}", self.insts[k].plugin), enrol_id(k))
            }
            _ => (String::new(), 0),
        }
    }

    fn render(&self) -> Texts {
        let mut e = format!("{HEAD}<enrolments>\n  <enrols>\n");
        let mut ueid = 7000;
        for (k, i) in self.insts.iter().enumerate() {
            e.push_str(&format!("    <enrol id=\"{}\">\n", enrol_id(k)));
            for &(name, default) in FIELDS {
                let v = match name {
                    "enrol" => i.plugin.to_owned(),
                    "status" => i.status.to_string(),
                    "roleid" => i.roleid.to_string(),
                    _ => match name.strip_prefix("customint") {
                        Some(n) => {
                            let n: usize = n.parse().expect("customint number");
                            i.custom[n - 1].map_or(NUL.to_owned(), |v| v.to_string())
                        }
                        None => default.to_owned(),
                    },
                };
                e.push_str(&format!("      <{name}>{v}</{name}>\n"));
            }
            e.push_str("      <user_enrolments>\n");
            for u in &i.ues {
                ueid += 1;
                e.push_str(&format!(
                    "        <enrolment id=\"{ueid}\">\n          <status>{}</status>\n          \
                     <userid>{}</userid>\n          <timestart>{}</timestart>\n          \
                     <timeend>{}</timeend>\n          <modifierid>2</modifierid>\n          \
                     <timemodified>1700000000</timemodified>\n        </enrolment>\n",
                    u.status, u.user, u.start, u.end
                ));
            }
            e.push_str("      </user_enrolments>\n    </enrol>\n");
        }
        e.push_str("  </enrols>\n</enrolments>");

        // Moodle's unique key on role assignments: (role, context, user, component, itemid).
        let mut seen = BTreeSet::new();
        let mut ras = String::new();
        for (n, &(roleid, userid, via)) in self.ras.iter().enumerate() {
            let (component, itemid) = self.component(via);
            if !seen.insert((roleid, userid, component.clone(), itemid)) {
                continue;
            }
            ras.push_str(&format!(
                "    <assignment id=\"{}\">\n      <roleid>{roleid}</roleid>\n      <userid>{userid}</userid>\n      \
                 <timemodified>1700000000</timemodified>\n      <modifierid>2</modifierid>\n      \
                 <component>{component}</component>\n      <itemid>{itemid}</itemid>\n      \
                 <sortorder>0</sortorder>\n    </assignment>\n",
                9000 + n
            ));
        }
        let course_roles = format!(
            "{HEAD}<roles>\n  <role_overrides>\n  </role_overrides>\n  <role_assignments>\n{ras}  \
             </role_assignments>\n</roles>"
        );

        // One membership per group and user.
        let mut g = format!("{HEAD}<groups>\n");
        for gid in 1..=3 {
            let mut seen = BTreeSet::new();
            let mut members = String::new();
            for (n, &(group, userid, via)) in self.members.iter().enumerate() {
                if group != gid || !seen.insert(userid) {
                    continue;
                }
                let (component, itemid) = self.component(via);
                members.push_str(&format!(
                    "      <group_member id=\"{}\">\n        <userid>{userid}</userid>\n        \
                     <timeadded>1700000000</timeadded>\n        <component>{component}</component>\n        \
                     <itemid>{itemid}</itemid>\n      </group_member>\n",
                    8000 + n
                ));
            }
            g.push_str(&format!(
                "  <group id=\"{gid}\">\n    <name>Group {gid}</name>\n    <idnumber></idnumber>\n    \
                 <description>$@NULL@$</description>\n    <descriptionformat>0</descriptionformat>\n    \
                 <enrolmentkey>$@NULL@$</enrolmentkey>\n    <picture>0</picture>\n    <visibility>0</visibility>\n    \
                 <participation>1</participation>\n    <timecreated>1700000000</timecreated>\n    \
                 <timemodified>1700000000</timemodified>\n    <group_members>\n{members}    </group_members>\n  \
                 </group>\n"
            ));
        }
        g.push_str(
            "  <groupcustomfields>\n  </groupcustomfields>\n  <groupings>\n    <groupingcustomfields>\n    \
             </groupingcustomfields>\n  </groupings>\n</groups>",
        );

        Texts {
            enrolments: e,
            course_roles,
            roles: fixture_roles().to_owned(),
            groups: g,
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reading documents back (plain text search over the known layout, independent of the crate's parser).
// ---------------------------------------------------------------------------------------------------------

/// The text of the first `<tag>…</tag>` in `s`.
fn leaf<'a>(s: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let a = s.find(&open)? + open.len();
    let b = s[a..].find(&close)? + a;
    Some(&s[a..b])
}

fn int(s: &str, tag: &str) -> i64 {
    leaf(s, tag)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no integer <{tag}> in {s}"))
}

/// Each record opened by `open`, up to its `close` (inclusive).
fn records<'a>(s: &'a str, open: &str, close: &str) -> Vec<&'a str> {
    s.match_indices(open)
        .map(|(at, _)| {
            let end = s[at..]
                .find(close)
                .unwrap_or_else(|| panic!("{open} not closed"));
            &s[at..at + end + close.len()]
        })
        .collect()
}

#[derive(Debug, Clone)]
struct PUe {
    user: i64,
    status: i64,
    start: i64,
    end: i64,
}

#[derive(Debug, Clone)]
struct PInst {
    id: String,
    plugin: String,
    status: i64,
    ues: Vec<PUe>,
    /// The whole record.
    text: String,
}

fn parse_enrolments(x: &str) -> Vec<PInst> {
    const OPEN: &str = "<enrol id=\"";
    let starts: Vec<usize> = x.match_indices(OPEN).map(|(i, _)| i).collect();
    let stop = x.rfind("</enrols>").expect("</enrols>");
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let block = x[s..starts.get(k + 1).copied().unwrap_or(stop)].trim_end();
            let id = &block[OPEN.len()..];
            let id = &id[..id.find('"').expect("id")];
            let head = &block[..block.find("<user_enrolments").unwrap_or(block.len())];
            PInst {
                id: id.to_owned(),
                plugin: leaf(head, "enrol").expect("<enrol>").to_owned(),
                status: int(head, "status"),
                ues: records(block, "<enrolment id=\"", "</enrolment>")
                    .into_iter()
                    .map(|r| PUe {
                        user: int(r, "userid"),
                        status: int(r, "status"),
                        start: int(r, "timestart"),
                        end: int(r, "timeend"),
                    })
                    .collect(),
                text: block.to_owned(),
            }
        })
        .collect()
}

/// (roleid, userid, component) of every assignment.
fn parse_assignments(x: &str) -> Vec<(i64, i64, String)> {
    records(x, "<assignment id=\"", "</assignment>")
        .into_iter()
        .map(|r| {
            (
                int(r, "roleid"),
                int(r, "userid"),
                leaf(r, "component").unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// (group id, userid, component) of every member.
fn parse_members(x: &str) -> Vec<(i64, i64, String)> {
    let mut out = Vec::new();
    for g in records(x, "<group id=\"", "</group>") {
        let id = &g["<group id=\"".len()..];
        let gid: i64 = id[..id.find('"').expect("id")].parse().expect("group id");
        for m in records(g, "<group_member id=\"", "</group_member>") {
            out.push((
                gid,
                int(m, "userid"),
                leaf(m, "component").unwrap_or_default().to_owned(),
            ));
        }
    }
    out
}

/// role id → shortname from the root roles.xml.
fn parse_role_names(x: &str) -> BTreeMap<i64, String> {
    records(x, "<role id=\"", "</role>")
        .into_iter()
        .map(|r| {
            let id = &r["<role id=\"".len()..];
            (
                id[..id.find('"').expect("id")].parse().expect("role id"),
                leaf(r, "shortname").expect("shortname").to_owned(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Access never grows.
// ---------------------------------------------------------------------------------------------------------

/// An end as an upper bound: 0 is unlimited.
fn end_key(end: i64) -> i64 {
    if end == 0 { i64::MAX } else { end }
}

/// One user's enrolments before and after, in the instances that take part in the conversion (manual and
/// converted ones).
#[derive(Debug, Default)]
struct UserView {
    /// (effective: own status 0 and instance status 0, from a converted instance, the enrolment).
    before: Vec<(bool, bool, PUe)>,
    /// (effective, the enrolment).
    after: Vec<(bool, PUe)>,
}

/// The per-user views, the users holding a stamped role, and the structural checks every conversion must pass:
/// untouched instances stay byte-identical, converted ones become manual, ids keep their order.
fn views(
    before: &Texts,
    after: &Texts,
    o: &Options,
) -> Result<(BTreeMap<i64, UserView>, BTreeSet<i64>), TestCaseError> {
    let b = parse_enrolments(&before.enrolments);
    let a = parse_enrolments(&after.enrolments);
    let ids = |v: &[PInst]| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    prop_assert_eq!(ids(&b), ids(&a), "every <enrol id> kept, in order");
    let converted = |p: &str| p != "manual" && o.from.iter().any(|f| f == p);
    let mut users: BTreeMap<i64, UserView> = BTreeMap::new();
    for (ib, ia) in b.iter().zip(&a) {
        let conv = converted(&ib.plugin);
        if ib.plugin != "manual" && !conv {
            prop_assert_eq!(&ib.text, &ia.text, "an instance not converted is untouched");
            continue;
        }
        prop_assert_eq!(
            &ia.plugin,
            "manual",
            "<enrol id=\"{}\"> is manual afterwards",
            ia.id
        );
        for u in &ib.ues {
            let eff = u.status == 0 && ib.status == 0;
            users
                .entry(u.user)
                .or_default()
                .before
                .push((eff, conv, u.clone()));
        }
        for u in &ia.ues {
            let eff = u.status == 0 && ia.status == 0;
            users
                .entry(u.user)
                .or_default()
                .after
                .push((eff, u.clone()));
        }
    }
    let names = parse_role_names(&before.roles);
    let stamp_ids: BTreeSet<i64> = names
        .iter()
        .filter(|(_, s)| o.stamp_roles.contains(s))
        .map(|(id, _)| *id)
        .collect();
    let stamped = parse_assignments(&before.course_roles)
        .into_iter()
        .filter(|(r, _, _)| stamp_ids.contains(r))
        .map(|(_, u, _)| u)
        .collect();
    Ok((users, stamped))
}

/// Roles and groups per user are the same before and after (by role id, by group id), and no converted
/// component is left.
fn roles_and_groups_kept(before: &Texts, after: &Texts, o: &Options) -> Result<(), TestCaseError> {
    let gone: Vec<String> = o
        .from
        .iter()
        .filter(|p| *p != "manual")
        .map(|p| format!("enrol_{p}"))
        .collect();
    let present = |x: &str| {
        parse_enrolments(x)
            .into_iter()
            .map(|i| i.plugin)
            .collect::<BTreeSet<_>>()
    };
    let had = present(&before.enrolments);
    for (what, b, a) in [
        (
            "roles",
            parse_assignments(&before.course_roles),
            parse_assignments(&after.course_roles),
        ),
        (
            "groups",
            parse_members(&before.groups),
            parse_members(&after.groups),
        ),
    ] {
        let per_user = |v: &[(i64, i64, String)]| {
            let mut m: BTreeMap<i64, BTreeSet<i64>> = BTreeMap::new();
            for (item, user, _) in v {
                m.entry(*user).or_default().insert(*item);
            }
            m
        };
        let (pb, pa) = (per_user(&b), per_user(&a));
        for (user, items) in &pa {
            let was = pb.get(user).cloned().unwrap_or_default();
            prop_assert!(
                items.is_subset(&was),
                "user {} has {} {:?} after, only {:?} before",
                user,
                what,
                items,
                was
            );
        }
        prop_assert_eq!(&pb, &pa, "{} per user unchanged", what);
        for (_, user, comp) in &a {
            let plugin = comp.strip_prefix("enrol_").unwrap_or_default();
            prop_assert!(
                !(gone.contains(comp) && had.contains(plugin)),
                "user {}: {} still has component {}",
                user,
                what,
                comp
            );
        }
    }
    Ok(())
}

/// The windows that may justify `v`'s access: the effective ones (own status 0 and instance status 0), the
/// existing manual enrolment included when it is effective itself.
fn sources(v: &UserView) -> Vec<&PUe> {
    v.before
        .iter()
        .filter(|(e, _, _)| *e)
        .map(|s| &s.2)
        .collect()
}

/// Access never grows, as a bound: per user, over the manual and converted instances,
/// (the bound is the envelope of the sources, from the earliest start to the latest end: one `<enrolment>` per
/// user and instance cannot hold a gap, so two disjoint sources merge into the window that spans them, as the
/// rules of issue 2 say: earliest start, latest end)
/// - nobody is dropped and nobody is added: a user with an enrolment before has exactly one after (merged),
///   a user with none has none;
/// - a user with no effective source before has no effective (own and instance status 0) enrolment after;
/// - an effective result starts no earlier than the earliest source, and ends no later than the latest
///   (0 = unlimited), unless it carries the stamped end (`until`, user holding a stamped role).
fn access_bounded(before: &Texts, after: &Texts, o: &Options) -> Result<(), TestCaseError> {
    let (users, stamped) = views(before, after, o)?;
    for (user, v) in &users {
        if v.before.is_empty() {
            prop_assert!(v.after.is_empty(), "user {} gained an enrolment", user);
            continue;
        }
        prop_assert_eq!(v.after.len(), 1, "user {}: one merged enrolment", user);
        let (eff, r) = &v.after[0];
        if !eff {
            continue;
        }
        let pool = sources(v);
        prop_assert!(
            !pool.is_empty(),
            "user {} is active after conversion with no effective source: {:?}",
            user,
            v
        );
        let min_start = pool.iter().map(|s| s.start).min().unwrap_or(0);
        prop_assert!(
            r.start >= min_start,
            "user {} starts at {}, before every source ({}): {:?}",
            user,
            r.start,
            min_start,
            v
        );
        let max_end = pool.iter().map(|s| end_key(s.end)).max().unwrap_or(0);
        let stamp = stamped.contains(user) && r.end == o.until;
        prop_assert!(
            stamp || end_key(r.end) <= max_end,
            "user {} ends at {}, after every source: {:?}",
            user,
            r.end,
            v
        );
    }
    Ok(())
}

/// Converts `case`'s documents and returns them with the documents after.
fn converted(case: &Case) -> Result<(Texts, Texts, Options), TestCaseError> {
    let before = case.render();
    let o = case.options();
    let c = convert(&before.docs(), &o);
    prop_assert!(c.is_ok(), "convert failed: {:?}", c.err());
    let after = before.after(&c.unwrap());
    Ok((before, after, o))
}

proptest! {
    #![proptest_config(config(512))]

    /// On generated documents (repeated users inside one synced instance allowed): access is bounded by the
    /// effective sources (an existing manual enrolment counting only when effective itself), roles and groups are kept, and converting the
    /// output again changes nothing.
    #[test]
    fn conversion_never_grants_more_access(case in case(false)) {
        let (before, after, o) = converted(&case)?;
        access_bounded(&before, &after, &o)?;
        roles_and_groups_kept(&before, &after, &o)?;
        let again = convert(&after.docs(), &o);
        prop_assert!(again.is_ok(), "second convert failed: {:?}", again.err());
        prop_assert!(again.unwrap().is_noop(), "converting the output again changed it");
    }
}

// ---------------------------------------------------------------------------------------------------------
// Generated archives.
// ---------------------------------------------------------------------------------------------------------

fn fixture(name: &str) -> PathBuf {
    util::root().join("fixtures").join(name)
}

/// The members of `coh_basic.mbz`, read once.
fn base_members() -> &'static [RawMember] {
    static MEMBERS: OnceLock<Vec<RawMember>> = OnceLock::new();
    MEMBERS.get_or_init(|| raw_members(&fixture("coh_basic.mbz")))
}

/// The fixture's root roles.xml (editingteacher 3, student 5), which every generated assignment uses.
fn fixture_roles() -> &'static str {
    let m = base_members()
        .iter()
        .find(|m| m.0 == ROLES)
        .expect("roles.xml");
    std::str::from_utf8(&m.2).expect("utf-8")
}

/// `coh_basic.mbz` with the generated documents and a fresh index.
fn write_archive(path: &Path, t: &Texts) {
    let mut members = base_members().to_vec();
    for (member, text) in [
        (ENROLMENTS, &t.enrolments),
        (COURSE_ROLES, &t.course_roles),
        (GROUPS, &t.groups),
    ] {
        members
            .iter_mut()
            .find(|m| m.0 == member)
            .unwrap_or_else(|| panic!("{member}"))
            .2 = text.as_bytes().to_vec();
    }
    let index = index_for(&members);
    members
        .iter_mut()
        .find(|m| m.0 == ".ARCHIVE_INDEX")
        .expect("index")
        .2 = index;
    write_tgz(path, &members);
}

/// The four documents of an archive.
fn read_texts(path: &Path) -> Texts {
    let entries = util::entries(path);
    let get = |p: &str| {
        let e = entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("{p}"));
        String::from_utf8(e.data.clone()).expect("utf-8")
    };
    Texts {
        enrolments: get(ENROLMENTS),
        course_roles: get(COURSE_ROLES),
        roles: get(ROLES),
        groups: get(GROUPS),
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Converting a generated archive: the same input gives the same bytes, converting the output again gives
    /// the output's bytes, the output verifies against its input, and access stays bounded.
    #[test]
    fn archive_conversion_is_deterministic_idempotent_and_verified(case in case(true)) {
        let dir = tempdir();
        let input = dir.path().join("in.mbz");
        let before = case.render();
        write_archive(&input, &before);
        let o = case.options();
        let (out1, out2, out3) = (
            dir.path().join("out1.mbz"),
            dir.path().join("out2.mbz"),
            dir.path().join("out3.mbz"),
        );
        for (from, to) in [(&input, &out1), (&input, &out2), (&out1, &out3)] {
            let r = mbz_enrol::convert_file(from, Some(to), &o);
            prop_assert!(r.is_ok(), "convert {} failed: {:?}", from.display(), r.err());
        }
        let read = |p: &Path| std::fs::read(p).expect("read output");
        let first = read(&out1);
        prop_assert!(first == read(&out2), "two conversions of one input differ");
        prop_assert!(first == read(&out3), "converting the output again changed it");
        let v = mbz_enrol::verify::verify_file(&out1, Some(&input));
        prop_assert!(v.is_ok(), "verify failed to run: {:?}", v.err());
        let v = v.unwrap();
        prop_assert!(v.passed, "verify failed: {:?}", v.failed().collect::<Vec<_>>());
        let after = read_texts(&out1);
        prop_assert_eq!(&read_texts(&input).enrolments, &before.enrolments);
        access_bounded(&before, &after, &o)?;
        roles_and_groups_kept(&before, &after, &o)?;
    }
}
