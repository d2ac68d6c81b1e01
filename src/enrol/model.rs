//! Moodle's enrolment model as found in a backup: enrol instances with their user enrolments
//! (`course/enrolments.xml`), role assignments (`course/roles.xml`), role definitions (root `roles.xml`) and
//! group members (`groups.xml`). Every value keeps the byte span it came from, so rules can edit in place.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Serialize;

use super::error::EnrolError;
use super::members::{ENROLMENT_FIELDS, ENROLMENTS};
use crate::backup::{column, over};
use crate::xml::{self, Visit, XmlError};

/// The plugin name of Moodle's manual enrolments, the holder of every converted enrolment.
pub const MANUAL: &str = "manual";

/// Status, start and end of one user enrolment: what restore, renew and the merge rule read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Values {
    /// 0 active, 1 suspended.
    pub status: i64,
    /// Start (epoch; 0 = none).
    pub timestart: i64,
    /// End (epoch; 0 = unlimited).
    pub timeend: i64,
}

impl Values {
    /// The values `status`, `timestart`, `timeend`.
    pub const fn new(status: i64, timestart: i64, timeend: i64) -> Self {
        Values {
            status,
            timestart,
            timeend,
        }
    }
}

/// A leaf element's content span and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The content bytes (between the tags) in the document.
    pub content: Range<usize>,
    /// The whole element.
    pub span: Range<usize>,
}

impl Field {
    /// The field of a closed element.
    fn of(c: &xml::Closed<'_>) -> Field {
        Field {
            content: c.content.clone(),
            span: c.span.clone(),
        }
    }
    /// The decoded text.
    pub fn text(&self, xml: &[u8]) -> String {
        xml::text(xml, self.content.clone())
    }
    /// The decoded text, borrowed when the raw bytes are that text ([`xml::text_cow`]).
    pub fn text_cow<'x>(&self, xml: &'x [u8]) -> std::borrow::Cow<'x, str> {
        xml::text_cow(xml, self.content.clone())
    }
    /// The integer value, `None` for `$@NULL@$`, empty or non-numeric text.
    pub fn int(&self, xml: &[u8]) -> Option<i64> {
        xml::int(xml, self.content.clone())
    }
    /// An edit setting the text to `value` (`tag` rebuilds a `<tag/>` element), or `None` if it already
    /// reads as exactly that. The whole content is replaced, so a value written as CDATA or a reference is
    /// replaced whole.
    pub fn set(&self, xml: &[u8], tag: &str, value: &str) -> Option<xml::Edit> {
        // Sized for the usual case, the content replaced (an allocation of its own, never a growth).
        let mut with = Vec::with_capacity(value.len());
        let range = self.set_into(xml, tag, value.as_bytes(), &mut with)?;
        Some(xml::Edit { range, with })
    }
    /// [`Field::set`] of a UTF-8 `value` with the replacement appended to `out` (no allocation of its own): the
    /// bytes it replaces, or `None`, appending nothing, if the field already reads as `value`.
    pub fn set_into(
        &self,
        xml: &[u8],
        tag: &str,
        value: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<Range<usize>> {
        if xml.get(self.content.clone()) == Some(value) || self.text_cow(xml).as_bytes() == value {
            return None;
        }
        if self.content.start == self.span.end {
            for part in [
                b"<",
                tag.as_bytes(),
                b">",
                value,
                b"</",
                tag.as_bytes(),
                b">",
            ] {
                out.extend_from_slice(part);
            }
            return Some(self.span.clone());
        }
        out.extend_from_slice(value);
        Some(self.content.clone())
    }
}

/// One `<enrolment id="">` (a row of `user_enrolments`).
#[derive(Debug, Clone)]
pub struct UserEnrolment {
    /// The length of its start tag's content (between `<` and `>`), from which [`UserEnrolment::id`] reads the
    /// `id` attribute when asked: a conversion never asks, and reading it for every enrolment of a large course
    /// (a string each) was a tenth of the parse.
    tag_len: u32,
    /// The whole element.
    pub span: Range<usize>,
    /// `status`, `userid`, `timestart`, `timeend`, `modifierid`, `timemodified`.
    pub fields: UeFields,
}

impl UserEnrolment {
    /// The `id` attribute, read from `xml` (the document it was parsed from).
    pub fn id(&self, xml: &[u8]) -> Option<String> {
        xml::attr_of(xml, self.span.start, self.tag_len as usize, b"id")
    }
}

/// The leaf fields of an `<enrolment>`, in fixed compact slots (a backup can hold hundreds of thousands of
/// them, so no map per enrolment, and 32-bit offsets: XML members are capped far below 4 GiB). Other children
/// are ignored: restore reads only these.
#[derive(Debug, Clone)]
pub struct UeFields {
    slots: [Slot; 6],
}

impl Default for UeFields {
    fn default() -> Self {
        UeFields {
            slots: [Slot::EMPTY; 6],
        }
    }
}

/// A field's content and element spans as 32-bit offsets; [`Slot::EMPTY`] when absent (an element never
/// starts at `u32::MAX`: offsets that do not fit are not recorded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    content: (u32, u32),
    span: (u32, u32),
}

impl Slot {
    const EMPTY: Slot = Slot {
        content: (0, 0),
        span: (u32::MAX, u32::MAX),
    };
}

impl UeFields {
    /// The field named `name`, if present.
    pub fn get(&self, name: &str) -> Option<Field> {
        let i = ENROLMENT_FIELDS.iter().position(|n| *n == name)?;
        let s = self.slots[i];
        (s != Slot::EMPTY).then_some(Field {
            content: s.content.0 as usize..s.content.1 as usize,
            span: s.span.0 as usize..s.span.1 as usize,
        })
    }

    /// Records `field` under `name` unless already set (the first occurrence wins, as in [`Instance`]).
    fn set(&mut self, name: &[u8], field: Field) {
        let Some(i) = ENROLMENT_FIELDS.iter().position(|n| n.as_bytes() == name) else {
            return;
        };
        let small = |r: &Range<usize>| {
            Some((u32::try_from(r.start).ok()?, u32::try_from(r.end).ok()?))
                .filter(|&(start, _)| start != u32::MAX)
        };
        if self.slots[i] == Slot::EMPTY
            && let (Some(content), Some(span)) = (small(&field.content), small(&field.span))
        {
            self.slots[i] = Slot { content, span };
        }
    }
}

/// The most fields (leaf children) an `<enrol>` may hold: Moodle's `enrol` table has about forty columns, and a
/// hostile instance of many tiny fields would make the model many times the document.
pub const MAX_INSTANCE_FIELDS: usize = 200;

/// The first `n` characters of `s`, for a message about a value that may be huge.
fn head(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Counts one more `<tag>` element (at byte `at`), each taking at least `least` bytes as Moodle writes it (with
/// the children restore reads): an error when there are more than a document of `len` bytes can hold, a hostile
/// document of tiny elements refused before its model (about a hundred bytes per element) takes many times the
/// document. `what` names them in the message.
fn one_more(
    count: &mut usize,
    len: usize,
    least: usize,
    (tag, at): (&str, usize),
    what: &str,
) -> Result<(), XmlError> {
    *count += 1;
    if *count > len / least + 1_000 {
        return Err(XmlError::Content(format!(
            "<{tag}> at byte {at}: more {what} than a document of {len} bytes holds as Moodle writes them; \
             refused rather than read"
        )));
    }
    Ok(())
}

/// One `<enrol id="">` (a row of `enrol`).
#[derive(Debug, Clone)]
pub struct Instance {
    /// The `id` attribute.
    pub id: String,
    /// The whole element.
    pub span: Range<usize>,
    /// Leaf children (`enrol`, `status`, `roleid`, `customint1`, …) by tag name; the first wins if repeated.
    pub fields: BTreeMap<String, Field>,
    /// Children holding elements other than `<user_enrolments>`: plugin data such as enrol_lti's `<tool>`.
    pub plugin_children: Vec<Range<usize>>,
    /// The `<user_enrolments>` element, if present.
    pub user_enrolments: Option<Container>,
    /// Its `<enrolment>` children, in document order.
    pub enrolments: Vec<UserEnrolment>,
}

/// A container element and where its children go.
#[derive(Debug, Clone)]
pub struct Container {
    /// The whole element.
    pub span: Range<usize>,
    /// Between the tags.
    pub content: Range<usize>,
    /// True for the `<x/>` form.
    pub empty_tag: bool,
}

impl Instance {
    /// The plugin name (`<enrol>` text), trimmed.
    pub fn plugin(&self, xml: &[u8]) -> String {
        self.fields
            .get("enrol")
            .map(|f| f.text(xml).trim().to_owned())
            .unwrap_or_default()
    }
    /// Whether it is a manual instance.
    pub fn is_manual(&self, xml: &[u8]) -> bool {
        self.plugin(xml) == MANUAL
    }
    /// The instance status (0 enabled); a missing or non-numeric status counts as enabled, as restore does.
    pub fn status(&self, xml: &[u8]) -> i64 {
        self.int(xml, "status").unwrap_or(0)
    }
    /// An integer field.
    pub fn int(&self, xml: &[u8], name: &str) -> Option<i64> {
        self.fields.get(name).and_then(|f| f.int(xml))
    }
}

impl UserEnrolment {
    /// An integer field.
    pub fn int(&self, xml: &[u8], name: &str) -> Option<i64> {
        self.fields.get(name).and_then(|f| f.int(xml))
    }
    /// An integer field the rules need; `inst` is the instance holding this enrolment (for the message).
    ///
    /// # Errors
    /// [`EnrolError::Invalid`] when the field is missing or not an integer.
    pub fn required(&self, xml: &[u8], inst: &Instance, name: &str) -> Result<i64, EnrolError> {
        self.int(xml, name).ok_or_else(|| EnrolError::Invalid {
            member: ENROLMENTS,
            what: format!(
                "{} in <enrol id=\"{}\"> has no integer <{name}>",
                self.label(xml),
                inst.id
            ),
        })
    }
    /// Its status, start and end, each required (checked in that order).
    ///
    /// # Errors
    /// As [`UserEnrolment::required`].
    pub fn values(&self, xml: &[u8], inst: &Instance) -> Result<Values, EnrolError> {
        Ok(Values {
            status: self.required(xml, inst, "status")?,
            timestart: self.required(xml, inst, "timestart")?,
            timeend: self.required(xml, inst, "timeend")?,
        })
    }
    /// Its status, start and end, `None` when one is missing or not an integer.
    pub fn values_if_present(&self, xml: &[u8]) -> Option<Values> {
        Some(Values {
            status: self.int(xml, "status")?,
            timestart: self.int(xml, "timestart")?,
            timeend: self.int(xml, "timeend")?,
        })
    }
    /// A display name for messages: `enrolment id=N`, its id read from `xml`.
    pub fn label(&self, xml: &[u8]) -> String {
        match &self.id(xml) {
            Some(id) => format!("<enrolment id=\"{id}\">"),
            None => format!("<enrolment> at byte {}", self.span.start),
        }
    }
}

/// The first manual instance and its position: the one restore keeps and Upload users enrols into (Moodle
/// allows one per course).
pub fn first_manual<'a>(instances: &'a [Instance], xml: &[u8]) -> Option<(usize, &'a Instance)> {
    instances.iter().enumerate().find(|(_, i)| i.is_manual(xml))
}

/// Parses `course/enrolments.xml`: `enrolments/enrols/enrol/user_enrolments/enrolment`.
///
/// # Errors
/// [`XmlError`] when the document is malformed, or an `<enrol>` has no `id`, or one that is not an integer, or the
/// id of an `<enrol>` before it.
pub fn parse_enrolments(xml: &[u8]) -> Result<Vec<Instance>, XmlError> {
    let mut out: Vec<Instance> = Vec::new();
    // The ids met, as restore reads them (an integer column).
    let mut ids: crate::fast_hash::IdSet<i64> = crate::fast_hash::IdSet::default();
    let mut current: Option<Instance> = None;
    let mut ue: Option<UserEnrolment> = None;
    let mut in_ues = false;
    let mut enrolments = 0usize;
    let (mut instances, mut fields) = (0usize, 0usize);
    // depth: 1 enrolments, 2 enrols, 3 enrol, 4 field | user_enrolments | plugin, 5 enrolment, 6 field
    xml::walk(xml, |v| {
        match v {
            Visit::Open(o) => match (o.depth, o.name) {
                (3, b"enrol") => {
                    let id = xml::attr(o.tag, b"id").ok_or_else(|| {
                        XmlError::Content(format!(
                            "<enrol> at byte {} has no id attribute",
                            o.start
                        ))
                    })?;
                    // Moodle writes ids as they are (a 64-bit integer, 20 characters at most): one padded with zeros
                    // or spaces is no backup's, and is copied for every enrolment a report or check names.
                    let Some(n) = id.trim().parse::<i64>().ok().filter(|_| id.len() <= 20) else {
                        return Err(XmlError::Content(format!(
                            "<enrol id=\"{}\"> at byte {}: the id is not an integer (restore maps instances by id)",
                            head(&id, 40),
                            o.start
                        )));
                    };
                    // An id is the `enrol` table's primary key: no backup Moodle writes holds one twice, and the
                    // tool, like restore's mapping of the instances' members, tells instances apart by it.
                    if !ids.insert(n) {
                        return Err(XmlError::Content(format!(
                            "<enrol id=\"{}\"> at byte {}: a second enrolment method with this id (each id is \
                             one instance's; the archive is damaged)",
                            head(&id, 40),
                            o.start
                        )));
                    }
                    // Moodle writes some 25 fields per `<enrol>`: 650 bytes and more.
                    one_more(
                        &mut instances,
                        xml.len(),
                        512,
                        ("enrol", o.start),
                        "enrolment methods",
                    )?;
                    current = Some(Instance {
                        id,
                        span: o.start..o.start,
                        fields: BTreeMap::new(),
                        plugin_children: Vec::new(),
                        user_enrolments: None,
                        enrolments: Vec::new(),
                    });
                }
                (4, b"user_enrolments") => in_ues = current.is_some(),
                (5, b"enrolment") if in_ues => {
                    // `<enrolment id=""><status/><userid/><timestart/><timeend/></enrolment>`: 90 bytes and more.
                    let at = ("enrolment", o.start);
                    one_more(&mut enrolments, xml.len(), 64, at, "user enrolments")?;
                    ue = Some(UserEnrolment {
                        tag_len: tag_len(o.tag),
                        span: o.start..o.start,
                        fields: UeFields::default(),
                    });
                }
                _ => {}
            },
            Visit::Close(c) => match c.depth {
                3 if c.name == b"enrol" => {
                    if let Some(mut inst) = current.take() {
                        // The plugin name is read for every enrolment a report or check names: no longer than its
                        // column, nor padded past eight bytes a character as written (spaces, comments).
                        if let Some(f) = inst.fields.get("enrol") {
                            let (name, raw) = (f.text(xml), f.content.len());
                            let size = column::ENROL_PLUGIN;
                            if over(name.trim(), size).is_some() || raw > 8 * size {
                                return Err(XmlError::Content(format!(
                                    "<enrol id=\"{}\">: a plugin name of {} characters ({raw} bytes as written), \
                                     longer than Moodle's {size}",
                                    inst.id,
                                    name.trim().chars().count()
                                )));
                            }
                        }
                        inst.span = c.span;
                        // Held through a conversion: no room left over from growing.
                        inst.enrolments.shrink_to_fit();
                        out.push(inst);
                    }
                }
                4 => {
                    in_ues = false;
                    if let Some(inst) = current.as_mut() {
                        let name = String::from_utf8_lossy(c.name).into_owned();
                        if name == "user_enrolments" {
                            if inst.user_enrolments.is_none() {
                                inst.user_enrolments = Some(Container {
                                    span: c.span,
                                    content: c.content,
                                    empty_tag: c.empty_tag,
                                });
                            }
                        } else if c.leaf {
                            // CDATA, references and comments in a field are decoded as restore reads them.
                            if name == "status" && xml::int(xml, c.content.clone()).is_none() {
                                return Err(XmlError::Content(format!(
                                    "<enrol id=\"{}\"> <status> is not an integer: `{}`",
                                    inst.id,
                                    head(&xml::text(xml, c.content.clone()), 40)
                                )));
                            }
                            let held = inst.fields.len();
                            if let std::collections::btree_map::Entry::Vacant(slot) =
                                inst.fields.entry(name)
                            {
                                // A field as Moodle writes it (`<customint1>0</customint1>` and its line): 24
                                // bytes and more.
                                let at = ("enrol", c.span.start);
                                one_more(
                                    &mut fields,
                                    xml.len(),
                                    24,
                                    at,
                                    "enrolment method fields",
                                )?;
                                if held >= MAX_INSTANCE_FIELDS {
                                    return Err(XmlError::Content(format!(
                                        "<enrol id=\"{}\">: more than {MAX_INSTANCE_FIELDS} fields (Moodle's enrol \
                                         table has about forty)",
                                        inst.id
                                    )));
                                }
                                slot.insert(Field {
                                    content: c.content,
                                    span: c.span,
                                });
                            }
                        } else {
                            inst.plugin_children.push(c.span);
                        }
                    }
                }
                5 if c.name == b"enrolment" => {
                    if let (Some(inst), Some(mut e)) = (current.as_mut(), ue.take()) {
                        e.span = c.span;
                        inst.enrolments.push(e);
                    }
                }
                6 => {
                    if let Some(e) = ue.as_mut()
                        && c.leaf
                    {
                        e.fields.set(
                            c.name,
                            Field {
                                content: c.content,
                                span: c.span,
                            },
                        );
                    }
                }
                _ => {}
            },
        }
        Ok(())
    })?;
    Ok(out)
}

/// Reads a field that role assignments and group members share: `userid`, `component` and `itemid` (the first
/// of each counts); any other name is left alone.
fn owner_field(
    name: &[u8],
    f: Field,
    xml: &[u8],
    userid: &mut Option<i64>,
    component: &mut Option<Field>,
    itemid: &mut Option<Field>,
) {
    match name {
        b"userid" => *userid = userid.or(f.int(xml)),
        b"component" => {
            component.get_or_insert(f);
        }
        b"itemid" => {
            itemid.get_or_insert(f);
        }
        _ => {}
    }
}

/// One `<assignment>` of `course/roles.xml`.
#[derive(Debug, Clone, Default)]
pub struct Assignment {
    /// The length of its start tag's content, for [`Assignment::id`] (read when asked, as
    /// [`UserEnrolment::id`]).
    tag_len: u32,
    /// The whole element.
    pub span: Range<usize>,
    /// `roleid` value.
    pub roleid: Option<i64>,
    /// `userid` value.
    pub userid: Option<i64>,
    /// `component`, if present.
    pub component: Option<Field>,
    /// `itemid`, if present.
    pub itemid: Option<Field>,
}

impl Assignment {
    /// The `id` attribute, read from `xml` (the document it was parsed from).
    pub fn id(&self, xml: &[u8]) -> Option<String> {
        xml::attr_of(xml, self.span.start, self.tag_len as usize, b"id")
    }
}

/// The length of a start tag's content, kept for [`xml::attr_of`]. A tag is far shorter than 4 GiB: XML members
/// are refused long before (the size limits); past it, the length is capped and the `id` read from a prefix of
/// the tag.
fn tag_len(tag: &quick_xml::events::BytesStart<'_>) -> u32 {
    u32::try_from(tag.len()).unwrap_or(u32::MAX)
}

/// Parses `course/roles.xml`: `roles/role_assignments/assignment`.
///
/// # Errors
/// [`XmlError`] when the document is malformed.
pub fn parse_assignments(xml: &[u8]) -> Result<Vec<Assignment>, XmlError> {
    let mut out = Vec::new();
    let mut cur: Option<Assignment> = None;
    let mut in_ras = false;
    let mut count = 0usize;
    xml::walk(xml, |v| {
        match v {
            Visit::Open(o) => match (o.depth, o.name) {
                (2, b"role_assignments") => in_ras = true,
                (3, b"assignment") if in_ras => {
                    // `<assignment id=""><roleid/><userid/></assignment>`: 60 bytes and more.
                    let at = ("assignment", o.start);
                    one_more(&mut count, xml.len(), 48, at, "role assignments")?;
                    cur = Some(Assignment {
                        tag_len: tag_len(o.tag),
                        span: o.start..o.start,
                        ..Assignment::default()
                    });
                }
                _ => {}
            },
            Visit::Close(c) => match (c.depth, c.name) {
                (2, b"role_assignments") => in_ras = false,
                (3, b"assignment") => {
                    out.extend(cur.take().map(|a| Assignment { span: c.span, ..a }))
                }
                (4, b"roleid") => {
                    if let Some(a) = cur.as_mut() {
                        a.roleid = a.roleid.or(Field::of(&c).int(xml));
                    }
                }
                (4, name) => {
                    if let Some(a) = cur.as_mut() {
                        let f = Field::of(&c);
                        owner_field(name, f, xml, &mut a.userid, &mut a.component, &mut a.itemid);
                    }
                }
                _ => {}
            },
        }
        Ok(())
    })?;
    // Held through a conversion: no room left over from growing.
    out.shrink_to_fit();
    Ok(out)
}

/// Parses the root `roles.xml`: role id to shortname.
///
/// # Errors
/// [`XmlError`] when the document is malformed.
pub fn parse_role_names(xml: &[u8]) -> Result<BTreeMap<i64, String>, XmlError> {
    let mut out = BTreeMap::new();
    let mut id: Option<i64> = None;
    xml::walk(xml, |v| {
        match v {
            Visit::Open(o) if o.depth == 2 && o.name == b"role" => {
                id = xml::attr(o.tag, b"id").and_then(|s| s.trim().parse().ok());
            }
            Visit::Close(c) if c.depth == 3 && c.name == b"shortname" => {
                if let Some(id) = id
                    && !out.contains_key(&id)
                {
                    let name = xml::text(xml, c.content).trim().to_owned();
                    // Copied for every assignment a report names it in.
                    if let Some(n) = over(&name, column::ROLE_SHORTNAME) {
                        return Err(XmlError::Content(format!(
                            "<role id=\"{id}\"> at byte {}: a shortname of {n} characters, longer than Moodle's {}",
                            c.span.start,
                            column::ROLE_SHORTNAME
                        )));
                    }
                    out.insert(id, name);
                }
            }
            Visit::Close(c) if c.depth == 2 && c.name == b"role" => id = None,
            _ => {}
        }
        Ok(())
    })?;
    Ok(out)
}

/// One `<group_member>` of `groups.xml`.
#[derive(Debug, Clone, Default)]
pub struct GroupMember {
    /// The `id` attribute.
    pub id: Option<String>,
    /// The whole element.
    pub span: Range<usize>,
    /// The `<group id>` it belongs to.
    pub groupid: Option<i64>,
    /// The group's name.
    pub group: String,
    /// `userid` value.
    pub userid: Option<i64>,
    /// `component`, if present.
    pub component: Option<Field>,
    /// `itemid`, if present.
    pub itemid: Option<Field>,
}

/// Parses `groups.xml`: `groups/group/group_members/group_member`.
///
/// # Errors
/// [`XmlError`] when the document is malformed.
pub fn parse_group_members(xml: &[u8]) -> Result<Vec<GroupMember>, XmlError> {
    let mut out = Vec::new();
    let mut group: Option<(Option<i64>, String)> = None;
    let mut cur: Option<GroupMember> = None;
    // Each member carries its group's name (reports and checks name the group): bounded, with the members
    // themselves, by what a document of this size holds as Moodle writes it (a long name repeated for many tiny
    // members of a hostile document would take many times the document).
    let (mut members, mut names) = (0usize, 0usize);
    xml::walk(xml, |v| {
        match v {
            Visit::Open(o) => match (o.depth, o.name) {
                (2, b"group") => {
                    let id = xml::attr(o.tag, b"id").and_then(|s| s.trim().parse().ok());
                    group = Some((id, String::new()));
                }
                (4, b"group_member") => {
                    if let Some((gid, name)) = &group {
                        // `<group_member id=""><userid/></group_member>`: 50 bytes and more; a name is at most
                        // 254 characters (Moodle's column: 1,016 bytes of UTF-8 at most, 508 for accented
                        // letters), repeated for members of 150 bytes each as Moodle writes them, 80 at least.
                        let at = ("group_member", o.start);
                        one_more(&mut members, xml.len(), 48, at, "group members")?;
                        names = names.saturating_add(name.len());
                        if names > xml.len().saturating_mul(8).saturating_add(1 << 20) {
                            return Err(XmlError::Content(format!(
                                "<group_member> at byte {}: longer group names repeated for more members than a \
                                 document of {} bytes holds as Moodle writes them; refused rather than read",
                                o.start,
                                xml.len()
                            )));
                        }
                        cur = Some(GroupMember {
                            id: xml::attr(o.tag, b"id"),
                            span: o.start..o.start,
                            groupid: *gid,
                            group: name.clone(),
                            ..GroupMember::default()
                        });
                    }
                }
                _ => {}
            },
            Visit::Close(c) => match (c.depth, c.name) {
                (2, b"group") => group = None,
                (3, b"name") => {
                    if let Some((_, name)) = group.as_mut() {
                        *name = xml::text(xml, c.content);
                    }
                }
                (4, b"group_member") => {
                    out.extend(cur.take().map(|m| GroupMember { span: c.span, ..m }))
                }
                (5, name) => {
                    if let Some(m) = cur.as_mut() {
                        let f = Field::of(&c);
                        owner_field(name, f, xml, &mut m.userid, &mut m.component, &mut m.itemid);
                    }
                }
                _ => {}
            },
        }
        Ok(())
    })?;
    Ok(out)
}

/// A role assignment or group member: owned by an enrolment method (`component`, `itemid`) or by nobody.
pub trait Owned {
    /// `component` and `itemid`, if present.
    fn owner(&self) -> [Option<&Field>; 2];
}

impl Owned for Assignment {
    fn owner(&self) -> [Option<&Field>; 2] {
        [self.component.as_ref(), self.itemid.as_ref()]
    }
}

impl Owned for GroupMember {
    fn owner(&self) -> [Option<&Field>; 2] {
        [self.component.as_ref(), self.itemid.as_ref()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document of tiny elements (a model many times its size) is refused; Moodle's own sizes pass.
    #[test]
    fn documents_of_tiny_elements_are_refused() {
        let ues = |n| {
            format!(
                "<enrolments><enrols><enrol id=\"1\"><user_enrolments>{}</user_enrolments></enrol></enrols></enrolments>",
                "<enrolment/>".repeat(n)
            )
        };
        let err = parse_enrolments(ues(20_000).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("more user enrolments than a document"),
            "{err}"
        );
        assert!(parse_enrolments(ues(500).as_bytes()).is_ok());
        let minimal = "<enrolment id=\"1\"><status>0</status><userid>2</userid><timestart>0</timestart><timeend>0</timeend></enrolment>";
        let doc = format!(
            "<enrolments><enrols><enrol id=\"1\"><user_enrolments>{}</user_enrolments></enrol></enrols></enrolments>",
            minimal.repeat(20_000)
        );
        assert_eq!(
            parse_enrolments(doc.as_bytes()).unwrap()[0]
                .enrolments
                .len(),
            20_000
        );
        let ras = |inner: &str, n| {
            format!(
                "<roles><role_assignments>{}</role_assignments></roles>",
                inner.repeat(n)
            )
        };
        let err = parse_assignments(ras("<assignment/>", 20_000).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("more role assignments than a document"),
            "{err}"
        );
        let minimal = "<assignment id=\"1\"><roleid>5</roleid><userid>2</userid></assignment>";
        assert_eq!(
            parse_assignments(ras(minimal, 20_000).as_bytes())
                .unwrap()
                .len(),
            20_000
        );
    }

    /// Group members: tiny members, or a long name repeated for many members, are refused; Moodle's shapes pass.
    #[test]
    fn groups_of_tiny_members_or_long_repeated_names_are_refused() {
        let doc = |name: &str, member: &str, n: usize| {
            format!(
                "<groups><group id=\"1\"><name>{name}</name><group_members>{}</group_members></group></groups>",
                member.repeat(n)
            )
        };
        let err = parse_group_members(doc("G", "<group_member/>", 20_000).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("more group members"), "{err}");
        let member =
            "<group_member id=\"1\"><userid>2</userid><timeadded>0</timeadded></group_member>";
        let long = "n".repeat(200_000);
        let err = parse_group_members(doc(&long, member, 20_000).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("longer group names"), "{err}");
        let name = "é".repeat(254);
        let read = parse_group_members(doc(&name, member, 20_000).as_bytes()).unwrap();
        assert_eq!(read.len(), 20_000);
        assert_eq!(read[0].group, name);
    }

    /// A role shortname of Moodle's 100 characters is read (accented: 200 bytes); one more is refused.
    #[test]
    fn role_shortnames_are_at_most_moodle_s_length() {
        let doc = |name: &str| {
            format!(
                "<roles_definition><role id=\"5\"><shortname>{name}</shortname></role></roles_definition>"
            )
        };
        let ok = "é".repeat(column::ROLE_SHORTNAME);
        assert_eq!(parse_role_names(doc(&ok).as_bytes()).unwrap()[&5], ok);
        let err = parse_role_names(doc(&format!("{ok}x")).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("<role id=\"5\">") && err.contains("101 characters"),
            "{err}"
        );
    }

    /// An instance id padded with zeros past 20 characters, or a plugin name longer than Moodle's 20, is refused.
    #[test]
    fn instance_ids_and_plugin_names_are_moodle_s_sizes() {
        let doc = |id: &str, plugin: &str| {
            format!(
                "<enrolments><enrols><enrol id=\"{id}\"><enrol>{plugin}</enrol></enrol></enrols></enrolments>"
            )
        };
        assert!(parse_enrolments(doc("9223372036854775807", &"x".repeat(20)).as_bytes()).is_ok());
        let padded = format!("{}1", "0".repeat(20));
        let err = parse_enrolments(doc(&padded, "cohort").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("the id is not an integer"), "{err}");
        let err = parse_enrolments(doc("1", &"x".repeat(21)).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("a plugin name of 21 characters"), "{err}");
    }

    /// Two `<enrol>` elements with one id (as integers: ` 7` is `7`) are refused, naming the second.
    #[test]
    fn an_instance_id_twice_is_refused() {
        let enrol =
            |id: &str, plugin: &str| format!("<enrol id=\"{id}\"><enrol>{plugin}</enrol></enrol>");
        let doc = |a: &str, b: &str| format!("<enrolments><enrols>{a}{b}</enrols></enrolments>");
        let fine = doc(&enrol("7", "manual"), &enrol("8", "cohort"));
        assert_eq!(parse_enrolments(fine.as_bytes()).unwrap().len(), 2);
        for second in ["7", " 7", "07"] {
            let twice = doc(&enrol("7", "manual"), &enrol(second, "cohort"));
            let err = parse_enrolments(twice.as_bytes()).unwrap_err().to_string();
            let at = twice.rfind("<enrol id").unwrap();
            assert!(
                err.contains(&format!("<enrol id=\"{second}\"> at byte {at}"))
                    && err.contains("a second enrolment method with this id"),
                "{err}"
            );
        }
    }

    /// Enrolment methods as Moodle writes them are read however many; a document of tiny `<enrol/>` elements,
    /// an id padded with spaces, a padded plugin name or too many fields are refused.
    #[test]
    fn enrolment_methods_are_bounded_by_moodle_s_shapes() {
        let doc = |inner: String| format!("<enrolments><enrols>{inner}</enrols></enrolments>");
        let fields: String = (0..25)
            .map(|i| format!("\n      <customint{i}>0</customint{i}>"))
            .collect();
        let real: String = (0..20_000)
            .map(|i| format!("\n    <enrol id=\"{i}\"><enrol>meta</enrol>{fields}\n    </enrol>"))
            .collect();
        assert_eq!(
            parse_enrolments(doc(real).as_bytes()).unwrap().len(),
            20_000
        );
        let tiny: String = (0..20_000)
            .map(|i| format!("<enrol id=\"{i}\"/>"))
            .collect();
        let err = parse_enrolments(doc(tiny).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("more enrolment methods than a document"),
            "{err}"
        );
        let spaced = format!("<enrol id=\"1{}\"/>", " ".repeat(30));
        let err = parse_enrolments(doc(spaced).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("the id is not an integer"), "{err}");
        let padded = format!(
            "<enrol id=\"1\"><enrol>manual{}</enrol></enrol>",
            " ".repeat(500)
        );
        let err = parse_enrolments(doc(padded).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bytes as written"), "{err}");
        let many: String = (0..300)
            .map(|i| format!("\n      <f{i}>0</f{i}>"))
            .collect();
        let err = parse_enrolments(doc(format!("<enrol id=\"1\">{many}</enrol>")).as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 200 fields"), "{err}");
    }

    const ENROLMENTS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<enrolments>
  <enrols>
    <enrol id="10">
      <enrol>cohort</enrol>
      <status>0</status>
      <customint1>7</customint1>
      <tool id="1"><enrolid>10</enrolid></tool>
      <user_enrolments>
        <enrolment id="100">
          <status>0</status>
          <userid>5</userid>
          <timestart>0</timestart>
          <timeend>0</timeend>
        </enrolment>
      </user_enrolments>
    </enrol>
    <enrol id="11">
      <enrol>manual</enrol>
      <status>1</status>
      <user_enrolments/>
    </enrol>
  </enrols>
</enrolments>
"#;

    #[test]
    fn enrolments_parse_with_spans() {
        let x = ENROLMENTS.as_bytes();
        let inst = parse_enrolments(x).unwrap();
        assert_eq!(inst.len(), 2);
        assert_eq!(inst[0].id, "10");
        assert_eq!(inst[0].plugin(x), "cohort");
        assert_eq!(inst[0].int(x, "customint1"), Some(7));
        assert_eq!(inst[0].plugin_children.len(), 1);
        assert!(x[inst[0].plugin_children[0].clone()].starts_with(b"<tool"));
        assert_eq!(inst[0].enrolments.len(), 1);
        assert_eq!(inst[0].enrolments[0].int(x, "userid"), Some(5));
        assert!(x[inst[0].enrolments[0].span.clone()].starts_with(b"<enrolment id=\"100\">"));
        assert_eq!(inst[1].status(x), 1);
        assert!(inst[1].user_enrolments.as_ref().unwrap().empty_tag);
    }
}
