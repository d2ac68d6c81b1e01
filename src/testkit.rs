//! Moodle-XML builders for tests, property tests and the benchmark generator (`examples/genmbz.rs`): the members
//! a conversion reads (`course/enrolments.xml`, `course/roles.xml`, `roles.xml`, `groups.xml`) in Moodle's exact
//! backup layout (2-space indentation, `$@NULL@$` for NULL, no final newline).
//!
//! Always compiled (hidden from the documentation), so that `cargo test` reuses the library that `cargo build`
//! made instead of compiling it again with a feature; the binary never calls it, so the linker drops it.

/// The XML declaration line Moodle writes at the top of every member.
pub const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
/// Moodle's NULL marker.
pub const NUL: &str = "$@NULL@$";
/// The `timemodified`/`timecreated`/`timeadded` the builders write unless told otherwise.
pub const TIME: i64 = 1_700_000_000;

/// Moodle's `enrol` columns in backup order, with the values a retyped instance ends up with (`enrol` and `status`
/// are set by [`inst`]).
pub const FIELDS: &[(&str, &str)] = &[
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
    ("roleid", "5"),
    ("customint1", NUL),
    ("customint2", NUL),
    ("customint3", NUL),
    ("customint4", NUL),
    ("customint5", NUL),
    ("customint6", NUL),
    ("customint7", NUL),
    ("customint8", NUL),
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

/// One `<enrolment>` (a user enrolment).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ue {
    /// `<enrolment id>`.
    pub id: u64,
    /// `<userid>`.
    pub user: i64,
    /// `<status>`.
    pub status: i64,
    /// `<timestart>`.
    pub start: i64,
    /// `<timeend>`.
    pub end: i64,
    /// `<timemodified>`.
    pub modified: i64,
}

/// A user enrolment modified at [`TIME`].
/// A user enrolment's status, start and end.
pub fn v(status: i64, timestart: i64, timeend: i64) -> crate::enrol::Values {
    crate::enrol::Values::new(status, timestart, timeend)
}

pub fn ue(id: u64, user: i64, status: i64, start: i64, end: i64) -> Ue {
    Ue {
        id,
        user,
        status,
        start,
        end,
        modified: TIME,
    }
}

impl Ue {
    /// The same enrolment with other values (what the converter is expected to write).
    pub fn with(self, status: i64, start: i64, end: i64) -> Ue {
        Ue {
            status,
            start,
            end,
            ..self
        }
    }

    /// The same enrolment with another `<timemodified>`.
    pub fn modified(self, modified: i64) -> Ue {
        Ue { modified, ..self }
    }

    /// Appends the element (8-space indentation, final newline) to `s`.
    pub fn render_into(&self, s: &mut String) {
        s.push_str(&format!(
            "        <enrolment id=\"{}\">\n          <status>{}</status>\n          <userid>{}</userid>\n          \
             <timestart>{}</timestart>\n          <timeend>{}</timeend>\n          <modifierid>2</modifierid>\n          \
             <timemodified>{}</timemodified>\n        </enrolment>\n",
            self.id, self.status, self.user, self.start, self.end, self.modified
        ));
    }

    /// The element (8-space indentation, final newline).
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_into(&mut s);
        s
    }
}

/// How an instance writes its `<user_enrolments>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `<user_enrolments>` … `</user_enrolments>` on their own lines (Moodle's writer).
    Lines,
    /// `<user_enrolments/>`.
    EmptyTag,
    /// No `<user_enrolments>` at all (backup without users).
    Missing,
}

/// One `<enrol>` instance.
#[derive(Debug, Clone)]
pub struct Inst {
    /// `<enrol id>`.
    pub id: String,
    /// (tag, whole element text) in document order.
    pub fields: Vec<(String, String)>,
    /// Raw lines (with indentation and newline) between the fields and `<user_enrolments>`.
    pub extra: String,
    /// The user enrolments.
    pub ues: Vec<Ue>,
    /// How `<user_enrolments>` is written.
    pub form: Form,
}

/// An instance with the [`FIELDS`] values, the given plugin and status, and these user enrolments.
pub fn inst(id: impl ToString, plugin: &str, status: i64, ues: &[Ue]) -> Inst {
    let fields = FIELDS
        .iter()
        .map(|&(n, v)| {
            let v = match n {
                "enrol" => plugin.to_owned(),
                "status" => status.to_string(),
                _ => v.to_owned(),
            };
            (n.to_owned(), format!("<{n}>{v}</{n}>"))
        })
        .collect();
    Inst {
        id: id.to_string(),
        fields,
        extra: String::new(),
        ues: ues.to_vec(),
        form: Form::Lines,
    }
}

impl Inst {
    /// Sets an existing field's text.
    pub fn set(self, name: &str, value: &str) -> Inst {
        self.raw(name, &format!("<{name}>{value}</{name}>"))
    }

    /// Sets an existing field's whole element text.
    pub fn raw(mut self, name: &str, element: &str) -> Inst {
        let Some(f) = self.fields.iter_mut().find(|(n, _)| n == name) else {
            panic!("no field {name}");
        };
        f.1 = element.to_owned();
        self
    }

    /// Whether the instance has this field.
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }

    /// The instance without these fields.
    pub fn without(mut self, names: &[&str]) -> Inst {
        self.fields.retain(|(n, _)| !names.contains(&n.as_str()));
        self
    }

    /// Raw lines between the fields and `<user_enrolments>`.
    pub fn extra(mut self, lines: &str) -> Inst {
        self.extra = lines.to_owned();
        self
    }

    /// How `<user_enrolments>` is written.
    pub fn form(mut self, form: Form) -> Inst {
        self.form = form;
        self
    }

    /// Other user enrolments.
    pub fn ues(mut self, ues: &[Ue]) -> Inst {
        self.ues = ues.to_vec();
        self
    }

    /// Appends the element (4-space indentation, final newline) to `s`.
    pub fn render_into(&self, s: &mut String) {
        s.push_str(&format!("    <enrol id=\"{}\">\n", self.id));
        for (_, el) in &self.fields {
            s.push_str("      ");
            s.push_str(el);
            s.push('\n');
        }
        s.push_str(&self.extra);
        match self.form {
            Form::Lines => {
                s.push_str("      <user_enrolments>\n");
                for u in &self.ues {
                    u.render_into(s);
                }
                s.push_str("      </user_enrolments>\n");
            }
            Form::EmptyTag => {
                assert!(self.ues.is_empty(), "<user_enrolments/> with enrolments");
                s.push_str("      <user_enrolments/>\n");
            }
            Form::Missing => assert!(self.ues.is_empty(), "no <user_enrolments> with enrolments"),
        }
        s.push_str("    </enrol>\n");
    }

    /// The element (4-space indentation, final newline).
    pub fn render(&self) -> String {
        let mut s = String::new();
        self.render_into(&mut s);
        s
    }
}

/// `course/enrolments.xml` (no final newline).
pub fn enrolments(insts: &[Inst]) -> String {
    let mut s = format!("{HEAD}<enrolments>\n  <enrols>\n");
    for i in insts {
        i.render_into(&mut s);
    }
    s.push_str("  </enrols>\n</enrolments>");
    s
}

/// Root `roles.xml` defining these (id, shortname) roles (no final newline).
pub fn roles_def(roles: &[(i64, &str)]) -> String {
    let mut s = format!("{HEAD}<roles_definition>\n");
    for (id, short) in roles {
        s.push_str(&format!(
            "  <role id=\"{id}\">\n    <name></name>\n    <shortname>{short}</shortname>\n    \
             <nameincourse>$@NULL@$</nameincourse>\n    <description></description>\n    \
             <sortorder>{id}</sortorder>\n    <archetype>{short}</archetype>\n  </role>\n"
        ));
    }
    s.push_str("</roles_definition>");
    s
}

/// One `<assignment>` given whole `component` and `itemid` elements (which may be malformed on purpose).
pub fn assignment_raw(
    id: u64,
    roleid: i64,
    userid: i64,
    component: &str,
    itemid: &str,
    modified: i64,
) -> String {
    format!(
        "    <assignment id=\"{id}\">\n      <roleid>{roleid}</roleid>\n      <userid>{userid}</userid>\n      \
         <timemodified>{modified}</timemodified>\n      <modifierid>2</modifierid>\n      {component}\n      \
         {itemid}\n      <sortorder>0</sortorder>\n    </assignment>\n"
    )
}

/// One `<assignment>` (role assignment) modified at `modified`.
pub fn assignment(
    id: u64,
    roleid: i64,
    userid: i64,
    component: &str,
    itemid: i64,
    modified: i64,
) -> String {
    assignment_raw(
        id,
        roleid,
        userid,
        &format!("<component>{component}</component>"),
        &format!("<itemid>{itemid}</itemid>"),
        modified,
    )
}

/// `course/roles.xml` holding these `<assignment>` elements (Moodle writes no final newline).
pub fn course_roles(assignments: &str) -> String {
    format!(
        "{HEAD}<roles>\n  <role_overrides>\n  </role_overrides>\n  <role_assignments>\n{assignments}  \
         </role_assignments>\n</roles>"
    )
}

/// One `<group_member>` added at [`TIME`].
pub fn member(id: u64, userid: i64, component: &str, itemid: i64) -> String {
    format!(
        "      <group_member id=\"{id}\">\n        <userid>{userid}</userid>\n        \
         <timeadded>1700000000</timeadded>\n        <component>{component}</component>\n        \
         <itemid>{itemid}</itemid>\n      </group_member>\n"
    )
}

/// One `<group>` holding these `<group_member>` elements.
pub fn group(gid: i64, members: &str) -> String {
    format!(
        "  <group id=\"{gid}\">\n    <name>Group {gid}</name>\n    <idnumber></idnumber>\n    \
         <description>$@NULL@$</description>\n    <descriptionformat>0</descriptionformat>\n    \
         <enrolmentkey>$@NULL@$</enrolmentkey>\n    <picture>0</picture>\n    <visibility>0</visibility>\n    \
         <participation>1</participation>\n    <timecreated>1700000000</timecreated>\n    \
         <timemodified>1700000000</timemodified>\n    <group_members>\n{members}    </group_members>\n  </group>\n"
    )
}

/// `groups.xml` holding these `<group>` elements (no final newline).
pub fn groups(groups: &str) -> String {
    format!(
        "{HEAD}<groups>\n{groups}  <groupcustomfields>\n  </groupcustomfields>\n  <groupings>\n    \
         <groupingcustomfields>\n    </groupingcustomfields>\n  </groupings>\n</groups>"
    )
}

/// A small deterministic generator (xorshift), for randomised tests that need no seed and no dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next value below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}
