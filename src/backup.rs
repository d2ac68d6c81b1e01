//! The backup's own description, read from `moodle_backup.xml`: release, original course, root settings.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::xml::{self, Visit, XmlError};

/// Member path of the backup description.
pub const MOODLE_BACKUP: &str = "moodle_backup.xml";

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

/// Parses `moodle_backup.xml`.
///
/// # Errors
/// [`XmlError`] when it is malformed.
pub fn parse(x: &[u8]) -> Result<Info, XmlError> {
    let mut info = Info::default();
    let mut setting: BTreeMap<String, String> = BTreeMap::new();
    xml::walk(x, |v| {
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
    Ok(info)
}
