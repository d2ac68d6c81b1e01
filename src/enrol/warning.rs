//! What the rules want the admin to know. A warning about a name the caller asked for (a role, group or
//! user the backup lacks) keeps the setting that asked as a typed value: the library never names a
//! command-line flag, a CLI renders its own with [`Warning::render`].

use std::fmt;

use serde::{Serialize, Serializer};

use super::members::{ROLES, USERS};

/// The option a name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// [`crate::enrol::convert::Options::stamp_roles`].
    StampRoles,
    /// [`crate::enrol::renew::Options::roles`].
    Roles,
    /// [`crate::enrol::renew::Options::groups`].
    Groups,
    /// [`crate::enrol::renew::Options::users`].
    Users,
}

impl Setting {
    /// The option's name in the library's words (`stamp_roles`, …).
    pub fn name(self) -> &'static str {
        match self {
            Setting::StampRoles => "stamp_roles",
            Setting::Roles => "roles",
            Setting::Groups => "groups",
            Setting::Users => "users",
        }
    }
}

/// One thing the admin should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A finding, in words.
    Note(String),
    /// `name`, given in `setting`, is not in the backup (a role it does not define, a group without members,
    /// a user missing from `users.xml`).
    Missing {
        /// The option the name came from.
        setting: Setting,
        /// The name.
        name: String,
    },
}

impl Warning {
    /// The text, naming the setting as `label` says (a CLI passes its flag).
    pub fn render(&self, label: impl Fn(Setting) -> String) -> String {
        match self {
            Warning::Note(text) => text.clone(),
            Warning::Missing { setting, name } => {
                let label = label(*setting);
                match setting {
                    Setting::StampRoles => format!(
                        "role `{name}` ({label}) is not defined in this backup's {ROLES}: nobody holds it"
                    ),
                    Setting::Roles => {
                        format!("role `{name}` ({label}) is not defined in this backup")
                    }
                    Setting::Groups => {
                        format!("group `{name}` ({label}) has no members in this backup")
                    }
                    Setting::Users => {
                        format!("user `{name}` ({label}) is not in this backup's {USERS}")
                    }
                }
            }
        }
    }
}

impl From<String> for Warning {
    fn from(text: String) -> Self {
        Warning::Note(text)
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(|s| s.name().to_owned()))
    }
}

/// Serialised as its text ([`fmt::Display`]); render settings first where they must name a flag.
impl Serialize for Warning {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
