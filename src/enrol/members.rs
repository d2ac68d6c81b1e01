//! Where Moodle keeps what the rules read, in one place: the backup's member paths, the members each command
//! asks the archive for, and the field lists of an `<enrol>` record (moodle-format.md §3).

/// The backup's own description (release, original course, root settings).
pub const MOODLE_BACKUP: &str = "moodle_backup.xml";
/// The course's own settings (idnumber).
pub const COURSE: &str = "course/course.xml";
/// The enrolment instances and their user enrolments.
pub const ENROLMENTS: &str = "course/enrolments.xml";
/// The course role assignments.
pub const COURSE_ROLES: &str = "course/roles.xml";
/// The role definitions.
pub const ROLES: &str = "roles.xml";
/// The groups and their members.
pub const GROUPS: &str = "groups.xml";
/// The users (streamed: it can be large).
pub const USERS: &str = "users.xml";

/// The members renew, plan and `--into` read: [`READ`] and [`USERS`] (they need usernames).
pub const READ_WITH_USERS: &[&str] = &[
    MOODLE_BACKUP,
    COURSE,
    ENROLMENTS,
    COURSE_ROLES,
    ROLES,
    GROUPS,
    USERS,
];
/// The members convert and inspect read: [`READ_WITH_USERS`] without its last, [`USERS`].
pub const READ: &[&str] = match READ_WITH_USERS.split_last() {
    Some((_, read)) => read,
    None => &[],
};
/// The members a rule may rewrite, in the order they are written (last in the archive, as Moodle's own
/// backups have them).
pub const REWRITTEN: &[&str] = &[ENROLMENTS, COURSE_ROLES, GROUPS];

/// The members restore stops without: each is read by a restore step whose
/// `restore_structure_step::execute` (`backup/util/plan/restore_structure_step.class.php`) throws
/// `missing_moodle_backup_xml_file` when its file is missing. `users.xml` when the backup includes users
/// (`users` root setting 1), the course's own when it is a course backup (`type`, absent in old backups).
pub fn required(info: Option<&crate::backup::Info>) -> Vec<&'static str> {
    let mut required = vec![
        MOODLE_BACKUP,
        ROLES,
        "questions.xml",
        "files.xml",
        "scales.xml",
        "outcomes.xml",
    ];
    let users = info
        .and_then(|i| i.root_settings.get("users"))
        .is_some_and(|v| v == "1");
    if users {
        required.push(USERS);
    }
    let course = info
        .and_then(|i| i.backup_type.as_deref())
        .is_none_or(|t| t == "course");
    if course {
        required.extend([COURSE, COURSE_ROLES, GROUPS]);
    }
    required
}

/// The plugin settings of an `<enrol>` record (`customint1` … `customtext4`).
pub const CUSTOM_FIELDS: &[&str] = &[
    "customint1",
    "customint2",
    "customint3",
    "customint4",
    "customint5",
    "customint6",
    "customint7",
    "customint8",
    "customchar1",
    "customchar2",
    "customchar3",
    "customdec1",
    "customdec2",
    "customtext1",
    "customtext2",
    "customtext3",
    "customtext4",
];
/// Fields besides [`CUSTOM_FIELDS`] that a retyped instance holds as `$@NULL@$`.
pub const NULLED: &[&str] = &["name", "password"];
/// Fields a retyped instance holds as 0.
pub const ZEROED: &[&str] = &[
    "enrolperiod",
    "expirynotify",
    "notifyall",
    "enrolstartdate",
    "enrolenddate",
];
/// A retyped instance's `expirythreshold` (Moodle's default, one day).
pub const EXPIRY_THRESHOLD: &str = "86400";

/// The leaf fields of a user enrolment (`<enrolment>`) that restore reads.
pub const ENROLMENT_FIELDS: [&str; 6] = [
    "status",
    "userid",
    "timestart",
    "timeend",
    "modifierid",
    "timemodified",
];

/// The XML members the rules read (`None` when the archive lacks one).
#[derive(Debug, Default, Clone, Copy)]
pub struct Docs<'a> {
    /// [`ENROLMENTS`].
    pub enrolments: Option<&'a [u8]>,
    /// [`COURSE_ROLES`].
    pub course_roles: Option<&'a [u8]>,
    /// Root [`ROLES`].
    pub roles: Option<&'a [u8]>,
    /// [`GROUPS`].
    pub groups: Option<&'a [u8]>,
}

impl<'a> Docs<'a> {
    /// The documents found by `doc`, a lookup by member path.
    pub fn from_lookup(doc: impl Fn(&str) -> Option<&'a [u8]>) -> Self {
        Docs {
            enrolments: doc(ENROLMENTS),
            course_roles: doc(COURSE_ROLES),
            roles: doc(ROLES),
            groups: doc(GROUPS),
        }
    }
}
