//! Human renderings of the library's results.

use std::io::{self, Write};

use chrono_tz::Tz;
use mbz_enrol::time;
use mbz_enrol::{ConvertOutcome, Inspection};

fn date(epoch: i64, tz: Tz) -> String {
    if epoch == 0 {
        "unlimited".into()
    } else {
        time::format_iso(epoch, tz)
    }
}

/// The convert summary (stderr).
pub fn convert_summary(
    w: &mut impl Write,
    o: &ConvertOutcome,
    tz: Tz,
    dry_run: bool,
) -> io::Result<()> {
    let r = &o.report;
    match (&o.output, dry_run) {
        (Some(out), _) => writeln!(
            w,
            "converted {} -> {} ({})",
            o.archive,
            out,
            o.container.as_str()
        )?,
        (None, _) => writeln!(
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
    )?;
    if let Some(t) = &r.target {
        let origin = if t.was == "manual" {
            "existing manual instance".to_owned()
        } else {
            format!("{} instance retyped to manual", t.was)
        };
        writeln!(
            w,
            "target: <enrol id=\"{}\"> ({origin}{})",
            t.instance_id,
            if t.enabled {
                ", was disabled: enabled"
            } else {
                ""
            }
        )?;
    }
    for m in &r.methods {
        writeln!(
            w,
            "  {:<10} instances {}: {} users converted, {} stamped, {} suspended, {} merged with existing manual",
            m.plugin,
            m.instances.join(","),
            m.users_converted,
            m.stamped,
            m.suspended,
            m.merged_with_manual
        )?;
    }
    if !r.methods.is_empty() {
        writeln!(
            w,
            "  {:<10} {} users converted, {} stamped (end {}), {} suspended, {} merged with existing manual",
            "total",
            r.totals.users_converted,
            r.totals.stamped,
            date(r.until, tz),
            r.totals.suspended,
            r.totals.merged_with_manual
        )?;
        writeln!(
            w,
            "role assignments: {} made manual, {} duplicates removed; group members: {} made manual",
            r.role_assignments_rewritten, r.role_assignments_removed, r.group_members_rewritten
        )?;
        if r.manual_enrolments_suspended > 0 {
            writeln!(
                w,
                "existing manual enrolments suspended (their instance was disabled): {}",
                r.manual_enrolments_suspended
            )?;
        }
    }
    if o.rewritten.is_empty() {
        writeln!(w, "rewritten members: none (every member copied unchanged)")?;
    } else {
        writeln!(w, "rewritten members: {}", o.rewritten.join(", "))?;
    }
    for warning in &r.warnings {
        writeln!(w, "warning: {warning}")?;
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
