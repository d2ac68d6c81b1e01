//! The backup's own description, read from `moodle_backup.xml` (release, original course, root settings), the
//! course's idnumber (`course/course.xml`) and its users (`users.xml`).

use std::collections::BTreeMap;
use std::io::BufRead;

use quick_xml::events::Event;
use serde::Serialize;

pub use crate::enrol::members::{MOODLE_BACKUP, USERS};
use crate::xml::{self, Visit, XmlError};

/// Fields of `<information>` and the root-level settings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Info {
    /// Leaf children of `<information>` (`moodle_release`, `original_course_id`, …).
    pub information: BTreeMap<String, String>,
    /// Root settings (`users`, `role_assignments`, `groups`, …) by name.
    pub root_settings: BTreeMap<String, String>,
    /// `details/detail/type`: `course`, `section` or `activity`.
    pub backup_type: Option<String>,
}

impl Info {
    /// A field of `<information>`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.information.get(name).map(String::as_str)
    }
}

/// A Moodle release, as `X.Y` (major and minor branch: `3.10`, `4.3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Release {
    /// `4` in 4.3.
    pub major: u32,
    /// `3` in 4.3.
    pub minor: u32,
}

impl Release {
    /// Reads `X.Y` at the start of `text`: a release as `moodle_release` writes it (`4.3 (Build: 20231009)`,
    /// `3.10.2+ (Build: …)`) or as typed (`3.9`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let end = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let mut parts = text[..end].split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Self { major, minor })
    }
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The `$version` of each major release's first build (`version.php`), oldest first: a backup whose
/// `moodle_release` is missing or unreadable is placed by its `moodle_version` (3.10 starts at 2020110900, the
/// boundary the Upload users plan needs; versions before 3.5 are not placed).
const FIRST_VERSIONS: [(i64, u32, u32); 15] = [
    (2018051700, 3, 5),
    (2018120300, 3, 6),
    (2019052000, 3, 7),
    (2019111800, 3, 8),
    (2020061500, 3, 9),
    (2020110900, 3, 10),
    (2021051700, 3, 11),
    (2022041900, 4, 0),
    (2022112800, 4, 1),
    (2023042400, 4, 2),
    (2023100900, 4, 3),
    (2024042200, 4, 4),
    (2024100700, 4, 5),
    (2025041400, 5, 0),
    (2025100600, 5, 1),
];

impl Release {
    /// The major release a `moodle_version` (`2023100900`) belongs to (`FIRST_VERSIONS`).
    pub fn of_version(version: &str) -> Option<Self> {
        let v: i64 = version.trim().parse().ok()?;
        FIRST_VERSIONS
            .iter()
            .rev()
            .find(|(first, _, _)| v >= *first)
            .map(|&(_, major, minor)| Self { major, minor })
    }
}

impl Info {
    /// The release of the site that made the backup: `moodle_release` when it reads as `X.Y`, else the major
    /// release of `moodle_version`.
    pub fn release(&self) -> Option<Release> {
        self.get("moodle_release")
            .and_then(Release::parse)
            .or_else(|| self.get("moodle_version").and_then(Release::of_version))
    }
}

/// Parses `moodle_backup.xml`.
///
/// # Errors
/// [`XmlError`] when it is malformed, or holds no `<moodle_backup><information>`: restore reads the backup's
/// description from there (`backup_general_helper::get_backup_information`, a parser on that path, throws
/// `problem_parsing_moodle_backup_xml_file` unless it finds exactly one).
pub fn parse(x: &[u8]) -> Result<Info, XmlError> {
    let mut info = Info::default();
    let mut setting: BTreeMap<String, String> = BTreeMap::new();
    let (mut root, mut information) = (false, 0usize);
    xml::walk(x, |v| {
        if let Visit::Open(o) = &v {
            match o.depth {
                1 => root = o.name == b"moodle_backup",
                2 if root && o.name == b"information" => information += 1,
                _ => {}
            }
        }
        if let Visit::Close(c) = v {
            match (c.depth, c.name) {
                (3, name) if c.leaf => {
                    info.information
                        .entry(String::from_utf8_lossy(name).into_owned())
                        .or_insert_with(|| xml::text(x, c.content));
                }
                (5, name) if c.leaf => {
                    setting.insert(
                        String::from_utf8_lossy(name).into_owned(),
                        xml::text(x, c.content),
                    );
                }
                (4, b"setting") => {
                    if setting.get("level").map(String::as_str) == Some("root")
                        && let (Some(n), Some(v)) = (setting.get("name"), setting.get("value"))
                    {
                        info.root_settings.insert(n.clone(), v.clone());
                    }
                    setting.clear();
                }
                (4, b"detail") => {
                    if info.backup_type.is_none() {
                        info.backup_type = setting.get("type").cloned();
                    }
                    setting.clear();
                }
                (4, _) => setting.clear(),
                _ => {}
            }
        }
        Ok(())
    })?;
    if information != 1 {
        return Err(XmlError::Content(format!(
            "{} <moodle_backup><information>, where restore reads the backup's description (it stops with \
             problem_parsing_moodle_backup_xml_file otherwise)",
            if information == 0 {
                "no"
            } else {
                "more than one"
            }
        )));
    }
    Ok(info)
}

/// `<course><idnumber>` of `course/course.xml`, when non-empty.
pub fn course_idnumber(x: &[u8]) -> Option<String> {
    let mut out = None;
    let _ = xml::walk(x, |v| {
        if let Visit::Close(c) = v
            && c.depth == 2
            && c.name == b"idnumber"
            && out.is_none()
        {
            out = Some(xml::text(x, c.content));
        }
        Ok(())
    });
    out.filter(|s| !s.is_empty() && s != xml::NULL)
}

/// A user as described in `users.xml` (the fields a merge plan needs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct User {
    /// `username`.
    pub username: String,
    /// `idnumber`.
    pub idnumber: String,
    /// `email`.
    pub email: String,
    /// `firstname`.
    pub firstname: String,
    /// `lastname`.
    pub lastname: String,
}

/// Reads `users.xml` as a stream (it can be large): user id to [`User`]. One element or text run may span at
/// most `max_event` bytes.
///
/// # Errors
/// [`XmlError`] when it is malformed or cannot be read.
pub fn users(reader: impl BufRead, max_event: u64) -> Result<BTreeMap<i64, User>, XmlError> {
    let mut xr = quick_xml::reader::Reader::from_reader(xml::Bounded::new(reader, max_event));
    xr.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut out = BTreeMap::new();
    let mut current: Option<(i64, User)> = None;
    let mut field: Option<String> = None;
    loop {
        buf.clear();
        let event = xr
            .read_event_into(&mut buf)
            .map_err(|source| XmlError::Syntax {
                position: xr.error_position(),
                source,
            })?;
        xr.get_mut().reset();
        match event {
            Event::Start(t) => {
                depth += 1;
                if depth == 2 && t.local_name().as_ref() == "user" {
                    current = xml::attr(&t, b"id")
                        .and_then(|s| s.trim().parse().ok())
                        .map(|id| (id, User::default()));
                }
                field = (depth == 3).then(|| t.local_name().as_ref().to_owned());
            }
            Event::End(_) => {
                if depth == 2
                    && let Some((id, user)) = current.take()
                {
                    out.entry(id).or_insert(user);
                }
                depth = depth.saturating_sub(1);
                field = None;
            }
            Event::Text(t) => {
                if let Some(slot) = slot(&mut current, field.as_deref()) {
                    let s: &str = &t;
                    slot.push(&xml::unescape(s))?;
                }
            }
            Event::GeneralRef(r) => {
                let s: &str = &r;
                // As `xml::walk`: only what Moodle's parser reads.
                let Some(value) = xml::reference(s.as_bytes()) else {
                    return Err(XmlError::Structure(format!(
                        "undefined entity or invalid character reference `&{s};` (Moodle's parser refuses it)"
                    )));
                };
                if let Some(slot) = slot(&mut current, field.as_deref()) {
                    slot.push(&value)?;
                }
            }
            Event::CData(t) => {
                if let Some(slot) = slot(&mut current, field.as_deref()) {
                    slot.push(AsRef::<str>::as_ref(&t))?;
                }
            }
            Event::DocType(_) => {
                // As `xml::walk`: Moodle never writes one, and entity declarations are refused.
                return Err(XmlError::Structure(
                    "DOCTYPE declaration (Moodle backups have none; entities are refused)".into(),
                ));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// Moodle's column sizes (`lib/db/install.xml`), in characters, of the values a backup carries that reports and
/// checks copy for every user, enrolment or assignment: no Moodle backup holds a longer one, so a longer value is
/// refused rather than kept (a hostile document would otherwise be copied many times over).
pub mod column {
    /// `enrol.enrol`, an enrolment method's plugin.
    pub const ENROL_PLUGIN: usize = 20;
    /// `role.shortname`.
    pub const ROLE_SHORTNAME: usize = 100;
    /// `user.username`, `user.email`, `user.firstname`, `user.lastname`.
    pub const USER_NAME: usize = 100;
    /// `user.idnumber`.
    pub const USER_IDNUMBER: usize = 255;
}

/// The number of characters of `value` when it is longer than a column of `size` characters, else `None` (its
/// bytes are compared first: no character takes less than one).
pub fn over(value: &str, size: usize) -> Option<usize> {
    (value.len() > size)
        .then(|| value.chars().count())
        .filter(|&n| n > size)
}

/// A field of the user being read, one a plan needs: its text so far and its column.
struct Slot<'a> {
    id: i64,
    name: &'static str,
    size: usize,
    value: &'a mut String,
}

impl Slot<'_> {
    /// Adds a run of the field's text (a field can hold many: text, references, CDATA), refusing it past its
    /// column.
    fn push(self, text: &str) -> Result<(), XmlError> {
        self.value.push_str(text);
        match over(self.value, self.size) {
            Some(n) => Err(XmlError::Content(format!(
                "<user id=\"{}\">: a <{}> of {n} characters, longer than Moodle's {}",
                self.id, self.name, self.size
            ))),
            None => Ok(()),
        }
    }
}

/// The field of the user being read that `field` names, if it is one a plan needs.
fn slot<'a>(current: &'a mut Option<(i64, User)>, field: Option<&str>) -> Option<Slot<'a>> {
    let (id, user) = current.as_mut()?;
    let (name, size, value) = match field? {
        "username" => ("username", column::USER_NAME, &mut user.username),
        "idnumber" => ("idnumber", column::USER_IDNUMBER, &mut user.idnumber),
        "email" => ("email", column::USER_NAME, &mut user.email),
        "firstname" => ("firstname", column::USER_NAME, &mut user.firstname),
        "lastname" => ("lastname", column::USER_NAME, &mut user.lastname),
        _ => return None,
    };
    Some(Slot {
        id: *id,
        name,
        size,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::Release;

    /// A `moodle_backup.xml` without exactly one `<moodle_backup><information>` is refused, as restore refuses it.
    #[test]
    fn the_description_is_one_information_under_moodle_backup() {
        let info = "<information><name>x.mbz</name></information>";
        let ok = format!("<moodle_backup>{info}</moodle_backup>");
        assert_eq!(
            super::parse(ok.as_bytes()).unwrap().get("name"),
            Some("x.mbz")
        );
        for (doc, says) in [
            ("<x/>".to_owned(), "no <moodle_backup><information>"),
            (format!("<backup>{info}</backup>"), "no <moodle_backup>"),
            (
                "<moodle_backup><detail/></moodle_backup>".to_owned(),
                "no <moodle_backup>",
            ),
            (
                format!("<moodle_backup>{info}{info}</moodle_backup>"),
                "more than one",
            ),
        ] {
            let err = super::parse(doc.as_bytes()).unwrap_err().to_string();
            assert!(err.contains(says), "{doc}: {err}");
        }
    }

    /// A user field of Moodle's column length is read (accented: twice the bytes); one more character, given in
    /// one run or in several (CDATA, references), is refused naming the user.
    #[test]
    fn user_fields_are_at_most_moodle_s_columns() {
        let doc = |username: &str| {
            format!(
                "<users><user id=\"7\"><username>{username}</username><email>a@b</email></user></users>"
            )
        };
        let ok = "é".repeat(100);
        let users = super::users(doc(&ok).as_bytes(), 1 << 20).unwrap();
        assert_eq!(users[&7].username, ok);
        for long in [
            format!("{ok}x"),
            format!("{ok}<![CDATA[x]]>"),
            format!("{}&amp;", "e".repeat(100)),
        ] {
            let err = super::users(doc(&long).as_bytes(), 1 << 20)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("<user id=\"7\">") && err.contains("<username> of 101 characters"),
                "{err}"
            );
        }
    }

    #[test]
    fn releases_read_as_major_and_minor() {
        let r = |major, minor| Some(Release { major, minor });
        assert_eq!(Release::parse("4.3 (Build: 20231009)"), r(4, 3));
        assert_eq!(Release::parse("3.10.2+ (Build: 20210311)"), r(3, 10));
        assert_eq!(Release::parse(" 3.9 "), r(3, 9));
        assert_eq!(Release::parse("4"), None);
        assert_eq!(Release::parse("four.three"), None);
        assert!(Release::parse("3.9") < Release::parse("3.10"));
        assert_eq!(Release::parse("3.10").unwrap().to_string(), "3.10");
        assert_eq!(Release::of_version("2023100900"), r(4, 3));
        assert_eq!(Release::of_version("2020110900"), r(3, 10));
        assert_eq!(Release::of_version("2020110899"), r(3, 9));
        assert_eq!(Release::of_version(" 2025041400 "), r(5, 0));
        assert_eq!(Release::of_version("2017111300"), None);
        assert_eq!(Release::of_version("four"), None);
    }
}
