//! Human renderings of the library's results.

use std::io::{self, Write};
use std::process::ExitCode;

use chrono_tz::Tz;
use mbz_enrol::job::Outcome;
use mbz_enrol::time;
use mbz_enrol::verify::{UserState, Verification};
use mbz_enrol::{ConvertOutcome, Inspection, RenewOutcome};

/// The flag that sets a library setting.
fn flag(setting: mbz_enrol::enrol::Setting) -> String {
    use mbz_enrol::enrol::Setting;
    match setting {
        Setting::StampRoles => "--stamp-roles",
        Setting::Roles => "--role",
        Setting::Groups => "--group",
        Setting::Users => "--user",
    }
    .to_owned()
}

/// Renders, in place, the warnings that name a setting so they name its flag: every later rendering (stderr,
/// `--json`, reports) then shows the command line's words.
pub fn hint_flags(warnings: &mut [mbz_enrol::enrol::Warning]) {
    use mbz_enrol::enrol::Warning;
    for w in warnings {
        if matches!(w, Warning::Missing { .. }) {
            *w = Warning::Note(w.render(flag));
        }
    }
}

/// The zone as a sentence names it: the city of an IANA name (`Europe/Paris` → `Paris`, `America/New_York` →
/// `New York`), or the whole name (`UTC`).
pub fn zone_short(tz: Tz) -> String {
    let name = tz.name();
    name.rsplit('/').next().unwrap_or(name).replace('_', " ")
}

/// An end as an admin reads it: the last second of access, in the zone, with the zone named
/// (`31 Aug 2027 23:59:59 Paris`); Moodle ends access at `end` itself. 0 is "no end".
pub fn last_second(end: i64, tz: Tz) -> String {
    if end == 0 {
        return "no end".into();
    }
    moment(end - 1, tz)
}

/// An instant in the zone, with the zone named (`1 Sep 2026 00:00:00 Paris`).
pub fn moment(epoch: i64, tz: Tz) -> String {
    match chrono::DateTime::from_timestamp(epoch, 0) {
        Some(utc) => format!(
            "{} {}",
            utc.with_timezone(&tz).format("%-d %b %Y %H:%M:%S"),
            zone_short(tz)
        ),
        None => time::format_iso(epoch, tz),
    }
}

/// `n` and the noun, singular for 1 (`1 course`, `2 courses`).
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A method as Moodle's enrolment-methods page names it.
fn method_name(plugin: &str) -> &str {
    match plugin {
        "cohort" => "cohort sync",
        "database" => "external database",
        "meta" => "course meta link",
        "manual" => "manual enrolments",
        "self" => "self enrolment",
        "guest" => "guest access",
        other => other,
    }
}

fn date(epoch: i64, tz: Tz) -> String {
    if epoch == 0 {
        "unlimited".into()
    } else {
        time::format_iso(epoch, tz)
    }
}

/// The first lines of a summary: what was written where (or nothing, for a dry run), and the course.
fn head<R>(w: &mut impl Write, done: &str, o: &Outcome<R>) -> io::Result<()> {
    match &o.output {
        Some(out) => writeln!(
            w,
            "{done} {} -> {} ({})",
            o.archive,
            out,
            o.container.as_str()
        )?,
        None => writeln!(
            w,
            "dry run: {} ({}), nothing written",
            o.archive,
            o.container.as_str()
        )?,
    }
    writeln!(
        w,
        "course: {} {}",
        o.course.shortname.as_deref().unwrap_or("?"),
        o.course.id.map(|i| format!("(id {i})")).unwrap_or_default()
    )
}

/// The convert summary (stderr).
pub fn convert_summary(w: &mut impl Write, o: &ConvertOutcome, tz: Tz) -> io::Result<()> {
    let r = &o.report;
    head(w, "converted", o)?;
    if let Some(t) = &r.target {
        let into = if t.was == "manual" {
            "the course's manual enrolments method (already in the backup)".to_owned()
        } else {
            format!(
                "the {} method, turned into manual enrolments",
                method_name(&t.was)
            )
        };
        writeln!(
            w,
            "converted into: {into}{}",
            if t.enabled {
                " (it was disabled: now enabled)"
            } else {
                ""
            }
        )?;
    }
    let ending = |n: usize| {
        format!(
            "{} ending {}",
            count(n, "user", "users"),
            last_second(r.until, tz)
        )
    };
    for m in &r.methods {
        writeln!(
            w,
            "  {} ({}): {} converted ({}), {} suspended, {} already enrolled manually",
            method_name(&m.plugin),
            count(m.instances.len(), "instance", "instances"),
            count(m.users_converted, "user", "users"),
            ending(m.stamped),
            m.suspended,
            m.merged_with_manual
        )?;
    }
    if !r.methods.is_empty() {
        writeln!(
            w,
            "  total: {} converted ({}, the --until end), {} suspended, {} already enrolled manually",
            count(r.totals.users_converted, "user", "users"),
            ending(r.totals.stamped),
            r.totals.suspended,
            r.totals.merged_with_manual
        )?;
        writeln!(
            w,
            "role assignments: {} made manual, {} removed; group memberships: {} made manual",
            r.role_assignments_rewritten,
            count(r.role_assignments_removed, "duplicate", "duplicates"),
            r.group_members_rewritten
        )?;
        if r.manual_enrolments_suspended > 0 {
            writeln!(
                w,
                "existing manual enrolments suspended (their method was disabled): {}",
                r.manual_enrolments_suspended
            )?;
        }
        merge_notes(w, r)?;
    }
    if o.rewritten.is_empty() {
        writeln!(w, "rewritten members: none (every member copied unchanged)")?;
    } else {
        writeln!(w, "rewritten members: {}", o.rewritten.join(", "))?;
    }
    for warning in &r.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    if !r.methods.is_empty() {
        next_step(w, o, r.restore_target)?;
    }
    Ok(())
}

/// What to do with a written archive: the two restores, the chosen one (`--target`) first, with the setting.
fn next_step<R>(
    w: &mut impl Write,
    o: &Outcome<R>,
    target: mbz_enrol::enrol::restore::Target,
) -> io::Result<()> {
    use mbz_enrol::enrol::restore::Target;
    let Some(out) = &o.output else {
        return Ok(());
    };
    let new = "as a new course: Course > Restore > this file > \"Restore as a new course\"";
    let live = "merged into the live course: in that course, Restore > this file > \"Restore into this course\" > \
                \"Merge the backup course into this course\"";
    let (first, second) = match target {
        Target::Live => (live, new),
        Target::New | Target::Existing => (new, live),
    };
    writeln!(w, "next: restore {out} in Moodle,")?;
    writeln!(w, "  {first} (the values above), or")?;
    writeln!(w, "  {second};")?;
    writeln!(
        w,
        "  keep \"Include enrolled users\", \"Include role assignments\" and \"Include groups and groupings\" on, and \
         \"Include enrolment methods\" at its default \"Yes, but only if users are included\""
    )
}

/// How many users a list shows before "… more".
const LISTED: usize = 12;

/// How an archive is restored into `target`, in the admin's words.
fn restored_as(target: mbz_enrol::enrol::restore::Target) -> &'static str {
    use mbz_enrol::enrol::restore::Target;
    match target {
        Target::Live => "merged into the live course the backup came from",
        Target::New => "restored as a new course",
        Target::Existing => "restored into a course that does not enrol these users",
    }
}

/// What the chosen restore target stores, what the live merge cannot do (per user), and what the restore does
/// besides (the model is the library's `enrol::restore`).
fn merge_notes(w: &mut impl Write, r: &mbz_enrol::enrol::Report) -> io::Result<()> {
    let target = restored_as(r.restore_target);
    writeln!(
        w,
        "per-user values: as Moodle stores them when this archive is {target} (--target; --json has all three)"
    )?;
    if r.shaped > 0 {
        writeln!(
            w,
            "merge: {} user(s) already have an active manual enrolment that ends earlier: their archive start is one \
             second after the live start, so that Moodle's merge applies the later end (it keeps the live start; a \
             new course gets that start)",
            r.shaped
        )?;
    }
    use mbz_enrol::enrol::Limit;
    let is_group = |c: &&Limit| matches!(c, Limit::GroupOwnedBySync { .. });
    let cannot: Vec<_> = r
        .users
        .iter()
        .filter(|u| u.cannot.iter().any(|c| !is_group(&c)))
        .collect();
    if !cannot.is_empty() {
        writeln!(
            w,
            "what no archive can make a merge into the live course do ({} user(s)):",
            cannot.len()
        )?;
        for u in cannot.iter().take(LISTED) {
            for c in u.cannot.iter().filter(|c| !is_group(c)) {
                writeln!(w, "  user {}: {}", u.userid, c.words())?;
            }
        }
        if cannot.len() > LISTED {
            writeln!(
                w,
                "  … {} more (--json lists every user)",
                cannot.len() - LISTED
            )?;
        }
        writeln!(
            w,
            "  (the plan that does it: mbz-enrol plan ARCHIVE --into FRESH-BACKUP.mbz --format uploaduser -o fix.csv)"
        )?;
    }
    let mut groups: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for c in r.users.iter().flat_map(|u| u.cannot) {
        if let Limit::GroupOwnedBySync { group, component } = c {
            *groups.entry((group, component)).or_default() += 1;
        }
    }
    for ((group, component), n) in groups {
        writeln!(
            w,
            "groups: {n} membership(s) of group `{group}` are owned by {component} in the live course: a merge skips \
             them and the cutoff sync removes them; merge this archive again after the cutoff sync has run (or use \
             the ws plan)"
        )?;
    }
    if let Some(option @ 1..=3) = r.manual_welcome {
        writeln!(
            w,
            "warning: the course's manual method sends the course welcome message (setting {option}): Moodle 4.4 and \
             later mail it on every enrolment a restore writes, so merging this archive mails {} user(s). Before the \
             merge set Course > Participants > Enrolment methods > Manual enrolments > Send course welcome message \
             to No, and back afterwards. {}",
            r.live_enrol_calls,
            if r.welcome_switched_off {
                "The archive's manual instance is written with the message off (--welcome-off): a new course mails nobody"
            } else {
                "A new course restored from this archive mails everyone it enrols (--welcome-off writes it off)"
            }
        )?;
    }
    if r.methods.iter().any(|m| m.plugin == "database") {
        writeln!(
            w,
            "note: a restore into an existing course runs the database method's course sync (when enrol_database is \
             enabled), which may add an empty database instance; the manual enrolments are not affected"
        )?;
    }
    Ok(())
}

/// The inspect report (stdout).
pub fn inspection(w: &mut impl Write, i: &Inspection) -> io::Result<()> {
    writeln!(w, "archive: {} ({})", i.archive, i.container.as_str())?;
    writeln!(
        w,
        "moodle: {} (backup {})",
        i.moodle_release.as_deref().unwrap_or("?"),
        i.backup_release.as_deref().unwrap_or("?")
    )?;
    writeln!(
        w,
        "course: {} \"{}\" {}",
        i.course.shortname.as_deref().unwrap_or("?"),
        i.course.fullname.as_deref().unwrap_or("?"),
        i.course
            .id
            .map(|id| format!("(id {id})"))
            .unwrap_or_default()
    )?;
    let on: Vec<&str> = i
        .root_settings
        .iter()
        .filter(|(_, v)| v.as_str() == "1")
        .map(|(k, _)| k.as_str())
        .collect();
    writeln!(w, "settings on: {}", on.join(", "))?;
    writeln!(
        w,
        "members: {}{}",
        i.members,
        if i.archive_index {
            " (with .ARCHIVE_INDEX)"
        } else {
            ""
        }
    )?;
    writeln!(w, "enrolment methods:")?;
    for e in &i.summary.enrol_instances {
        writeln!(
            w,
            "  {:>6}  {:<10} {:<8} role {:<4} {} users ({} suspended)",
            e.id.map(|x| x.to_string()).unwrap_or_else(|| "?".into()),
            e.plugin,
            if e.status == 0 { "enabled" } else { "disabled" },
            e.roleid
                .map(|r| r.to_string())
                .unwrap_or_else(|| "-".into()),
            e.users,
            e.users_suspended
        )?;
    }
    writeln!(w, "role assignments by component:")?;
    for (c, n) in &i.summary.role_assignments_by_component {
        writeln!(w, "  {:<16} {n}", if c.is_empty() { "(manual)" } else { c })?;
    }
    if !i.summary.group_members_by_component.is_empty() {
        writeln!(w, "group members by component:")?;
        for (c, n) in &i.summary.group_members_by_component {
            writeln!(w, "  {:<16} {n}", if c.is_empty() { "(manual)" } else { c })?;
        }
    }
    for warning in &i.summary.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    Ok(())
}

fn state(s: &UserState, tz: Tz) -> String {
    let mut parts: Vec<String> = s
        .enrolments
        .iter()
        .map(|e| {
            let status = match e.status {
                Some(0) => "active",
                Some(_) => "suspended",
                None => "status?",
            };
            format!(
                "{} #{} {status} {} .. {}",
                e.method,
                e.instance,
                e.timestart
                    .map(|t| if t == 0 {
                        "-".to_owned()
                    } else {
                        time::format_iso(t, tz)
                    })
                    .unwrap_or_else(|| "?".into()),
                e.timeend.map(|t| date(t, tz)).unwrap_or_else(|| "?".into())
            )
        })
        .collect();
    if parts.is_empty() {
        parts.push("not enrolled".into());
    }
    let mut line = parts.join("; ");
    if !s.roles.is_empty() {
        line.push_str(&format!(" | roles: {}", s.roles.join(", ")));
    }
    if !s.groups.is_empty() {
        line.push_str(&format!(" | groups: {}", s.groups.join(", ")));
    }
    line
}

/// The verify report; `details` adds the per-user table.
pub fn verification(w: &mut impl Write, v: &Verification, tz: Tz, details: bool) -> io::Result<()> {
    let failed = v.failed().count();
    let warned = v.warned().count();
    writeln!(
        w,
        "verify {}{}: {} ({} checks, {} failed{})",
        v.archive,
        v.against
            .as_ref()
            .map(|a| format!(" against {a}"))
            .unwrap_or_default(),
        if v.passed { "PASS" } else { "FAIL" },
        v.checks.len(),
        failed,
        if warned > 0 {
            format!(", {warned} with warnings or pre-existing problems")
        } else {
            String::new()
        }
    )?;
    for c in &v.checks {
        let old = |f: &String| {
            if c.pre_existing.contains(f) {
                " (pre-existing)"
            } else {
                ""
            }
        };
        let mark = match (c.passed, c.failures.is_empty()) {
            (false, _) => "FAIL",
            (true, true) => " ok ",
            (true, false) if c.severity == mbz_enrol::verify::Severity::Error => "pre ",
            (true, false) => "warn",
        };
        let suffix = c.failures.first().map(old).unwrap_or_default();
        writeln!(w, "  [{mark}] {:<24} {}{suffix}", c.name, c.finding)?;
        if !c.failures.is_empty() {
            for f in c.failures.iter().skip(1).take(20) {
                writeln!(w, "         {:<24} {f}{}", "", old(f))?;
            }
            if c.failures.len() > 21 {
                writeln!(w, "         {:<24} ... {} more", "", c.failures.len() - 21)?;
            }
        }
    }
    let Some(ch) = &v.changes else {
        return Ok(());
    };
    writeln!(
        w,
        "changes: {} members rewritten ({}), {} instances changed, {} users changed, {} unchanged",
        ch.members_rewritten.len(),
        ch.members_rewritten.join(", "),
        ch.instances.len(),
        ch.users.len(),
        ch.users_unchanged
    )?;
    if !details {
        return Ok(());
    }
    for i in &ch.instances {
        writeln!(
            w,
            "  <enrol id=\"{}\"> {} -> {}, enrolments {} -> {}",
            i.id, i.before, i.after, i.enrolments.0, i.enrolments.1
        )?;
        for (name, b, a) in &i.fields {
            writeln!(w, "      {name}: {b} -> {a}")?;
        }
    }
    if !ch.users.is_empty() {
        writeln!(w, "users (dates in {tz}):")?;
    }
    for u in &ch.users {
        writeln!(w, "  {} {}", u.userid, u.username.as_deref().unwrap_or(""))?;
        writeln!(w, "      before: {}", state(&u.before, tz))?;
        writeln!(w, "      after:  {}", state(&u.after, tz))?;
    }
    Ok(())
}

/// Status, start and end on one line (`active 2026-09-01T00:00:00+02:00 .. unlimited`).
pub(super) fn values(v: &mbz_enrol::enrol::Values, tz: Tz) -> String {
    format!(
        "{} {} .. {}",
        if v.status == 0 { "active" } else { "suspended" },
        if v.timestart == 0 {
            "-".to_owned()
        } else {
            moment(v.timestart, tz)
        },
        if v.timeend == 0 {
            "unlimited".to_owned()
        } else {
            last_second(v.timeend, tz)
        }
    )
}

/// The renew summary (stderr).
pub fn renew_summary(w: &mut impl Write, o: &RenewOutcome, tz: Tz) -> io::Result<()> {
    let r = &o.report;
    head(w, "renewed", o)?;
    writeln!(
        w,
        "matched: {}, {} changed, {} already as asked",
        count(r.matched.len(), "enrolment", "enrolments"),
        r.changed,
        r.matched.len() - r.changed
    )?;
    for row in &r.matched {
        writeln!(
            w,
            "  {:<20} {:>8}  {} #{}: {}  ->  {}",
            row.username.as_deref().unwrap_or("(not in users.xml)"),
            format!("#{}", row.userid),
            row.method,
            row.instance,
            values(&row.before, tz),
            values(&row.after, tz)
        )?;
        for c in &row.cannot {
            writeln!(w, "      {}", c.words())?;
        }
    }
    let target = restored_as(r.restore_target);
    writeln!(
        w,
        "values after `->`: as Moodle stores them when this archive is {target} (--target; --json has all three)"
    )?;
    if r.shaped > 0 {
        writeln!(
            w,
            "merge: {} manual enrolment(s) start one second after their live start in the archive, so that Moodle's \
             merge applies the later end (it keeps the live start)",
            r.shaped
        )?;
    }
    for warning in &r.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    if r.changed > 0 {
        next_step(w, o, r.restore_target)?;
    }
    Ok(())
}

/// Every converted user's resulting enrolment (--verbose): username (from `users.xml`; the id when the user is
/// not there) and id, methods, roles, status, start and the last second of access, in the zone.
pub fn convert_users(w: &mut impl Write, o: &ConvertOutcome, tz: Tz) -> io::Result<()> {
    let names = &o.usernames;
    writeln!(
        w,
        "users (username, id, converted from, roles, status, start .. last second of access, manual enrolment):"
    )?;
    for u in &o.report.users {
        writeln!(
            w,
            "  {:<20} {:>8}  {:<10} {:<22} {:<9} {} .. {}{}  ({})",
            names
                .get(&u.userid)
                .map_or("(not in users.xml)", String::as_str),
            format!("#{}", u.userid),
            u.methods.join(","),
            u.roles.join(","),
            if u.status == 0 { "active" } else { "suspended" },
            if u.timestart == 0 {
                "-".to_owned()
            } else {
                moment(u.timestart, tz)
            },
            last_second(u.timeend, tz),
            if u.stamped { " (the --until end)" } else { "" },
            u.manual
        )?;
    }
    Ok(())
}

/// Standard output for a command's result, buffered; flush it when done. serde_json writes a token at a time and
/// the renderers a piece of a line at a time, and a locked stdout writes each line as it ends: `convert --json`
/// of a 30,000-user course was 1.2 million write calls.
pub fn stdout() -> io::BufWriter<io::StdoutLock<'static>> {
    io::BufWriter::with_capacity(64 << 10, io::stdout().lock())
}

/// The outcome as pretty JSON on stdout.
pub fn json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = stdout();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// `--verify` after a write: the summary on stderr, exit 1 when a check failed (the output is kept).
pub fn verify_result(
    err: &mut impl Write,
    v: Option<&Verification>,
    output: Option<&std::path::Path>,
    tz: Tz,
) -> io::Result<ExitCode> {
    let (Some(v), Some(out)) = (v, output) else {
        return Ok(ExitCode::SUCCESS);
    };
    verification(err, v, tz, false)?;
    if v.passed {
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        err,
        "verify: the output FAILED verification (kept at {})",
        out.display()
    )?;
    Ok(ExitCode::from(1))
}
