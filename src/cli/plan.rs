//! `plan`: convert each archive in memory, turn the result into actions, and write them in the chosen format.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mbz_enrol::ConvertOptions;
use mbz_enrol::archive::output::Atomic;
use mbz_enrol::plan::{self, CourseKey, CoursePlan, UserKey, into};
use mbz_enrol::time;

use super::args::{CourseKeyArg, PlanArgs, PlanFormat, UserKeyArg};
use super::clean_list;

/// Runs `plan`.
pub fn run(a: PlanArgs, globals: super::Globals) -> Result<ExitCode> {
    let (tz, source) = super::zone(a.timezone.as_deref())?;
    let mut err = globals.err();
    writeln!(
        err,
        "time zone: {tz} (from {source}); plan times are written in it"
    )?;
    let from = clean_list(a.from);
    if from.is_empty() || from.iter().any(|m| m == "manual") {
        bail!("--from needs enrolment methods other than manual, e.g. --from database,cohort");
    }
    let until = time::parse_end(&a.until, tz).with_context(|| "--until")?;
    writeln!(
        err,
        "until: {} = {} ({})",
        a.until,
        until.epoch,
        time::format_iso(until.epoch, tz)
    )?;
    let user_key = match a.user_key {
        UserKeyArg::Username => UserKey::Username,
        UserKeyArg::Idnumber => UserKey::Idnumber,
        UserKeyArg::Email => UserKey::Email,
        UserKeyArg::Id => UserKey::Id,
    };
    let course_key = match a.course_key {
        CourseKeyArg::Shortname => CourseKey::Shortname,
        CourseKeyArg::Idnumber => CourseKey::Idnumber,
        CourseKeyArg::Id => CourseKey::Id,
    };
    if a.format == PlanFormat::Ws && !a.same_site {
        bail!(
            "--format ws sends the backup's numeric user, course and role ids: they are valid only on the site that \
             made the backup; add --same-site if that is the site the plan is for"
        );
    }
    if !a.same_site && (user_key == UserKey::Id || course_key == CourseKey::Id) {
        writeln!(
            err,
            "warning: id keys are the backup's source-site ids; they are valid only on that site (--same-site)"
        )?;
    }
    if a.format == PlanFormat::Uploaduser
        && (user_key != UserKey::Username || course_key != CourseKey::Shortname)
    {
        writeln!(
            err,
            "note: Upload users matches users by username and courses by shortname; --user-key/--course-key apply to \
             toolsync and json"
        )?;
    }
    let opts = ConvertOptions {
        from,
        stamp_roles: clean_list(a.stamp_roles),
        until: until.epoch,
    };
    let found = mbz_enrol::batch::find(&a.inputs)?;
    for s in &found.skipped {
        writeln!(err, "skipped {}: {}", s.path.display(), s.reason)?;
    }
    if found.jobs.is_empty() {
        bail!("no backup found in the given archives or folders");
    }
    super::refuse_existing(&a.output, a.force)?;
    // The plan file must not replace an input archive or land inside an input folder.
    for job in &found.jobs {
        mbz_enrol::archive::output::check(&job.input, &a.output)?;
    }
    let out_dir = std::fs::canonicalize(
        a.output
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new(".")),
    )
    .unwrap_or_default();
    for input in &a.inputs {
        if input.is_dir()
            && let Ok(root) = std::fs::canonicalize(input)
            && out_dir.starts_with(&root)
        {
            bail!(
                "-o {} is inside input folder {}: write the plan outside the backups",
                a.output.display(),
                input.display()
            );
        }
    }
    let mut plans: Vec<CoursePlan> = Vec::new();
    let mut failed = 0;
    for job in &found.jobs {
        match mbz_enrol::run::plan_file_limited(&job.input, &opts, &globals.limits) {
            Ok(p) => plans.push(p),
            Err(e) => {
                failed += 1;
                writeln!(err, "FAILED {}: {}", job.relative, super::hint::chain(&e))?;
            }
        }
    }
    if failed > 0 && !a.allow_partial {
        bail!(
            "{failed} archive(s) failed: no plan written (a plan missing courses is easy to apply by mistake; \
             fix or remove them, or pass --allow-partial)"
        );
    }
    // One plan row per (user, course): two backups of one course would contradict each other.
    let mut seen: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    for p in &plans {
        let key = p
            .course
            .id
            .map(|i| format!("id {i}"))
            .unwrap_or_else(|| format!("shortname {}", p.course.shortname));
        if let Some(first) = seen.insert(key.clone(), &p.archive) {
            bail!(
                "course {} ({key}) is in both {first} and {}: give one backup per course",
                p.course.shortname,
                p.archive
            );
        }
    }
    if let Some(target) = &a.into {
        apply_into(&mut plans, target, tz, &mut err, &globals.limits)?;
    }
    let mut buf = Vec::new();
    let warnings = match a.format {
        PlanFormat::Uploaduser => plan::write_uploaduser(&plans, tz, &mut buf)?,
        PlanFormat::Toolsync => plan::write_toolsync(&plans, tz, user_key, course_key, &mut buf)?,
        PlanFormat::Json => {
            plan::write_json(&plans, tz, user_key, course_key, &mut buf)?;
            Vec::new()
        }
        PlanFormat::Ws => plan::write_ws(&plans, &mut buf)?,
    };
    let input = a
        .inputs
        .first()
        .map(std::path::PathBuf::as_path)
        .unwrap_or(std::path::Path::new(""));
    mbz_enrol::archive::output::check(input, &a.output)?;
    let mut out = Atomic::new(&a.output)?;
    out.file().write_all(&buf).map_err(|e| out.write_error(e))?;
    out.commit()?;
    let actions: usize = plans.iter().map(|p| p.actions.len()).sum();
    writeln!(
        err,
        "plan: {} actions for {} courses written to {} ({:?})",
        actions,
        plans.len(),
        a.output.display(),
        a.format
    )?;
    for p in &plans {
        for w in &p.warnings {
            writeln!(err, "warning: {}: {w}", p.course.shortname)?;
        }
    }
    for w in &warnings {
        writeln!(err, "warning: {w}")?;
    }
    let (user_key, course_key) = (
        format!("{user_key:?}").to_lowercase(),
        format!("{course_key:?}").to_lowercase(),
    );
    match a.format {
        PlanFormat::Uploaduser => writeln!(
            err,
            "Upload users settings: upload type \"Update existing users only\" (or \"Add new and update existing \
             users\"), CSV delimiter \"comma\", encoding \"UTF-8\"; the site's time zone must be {tz}; the courses need \
             an enabled manual enrolment method"
        )?,
        PlanFormat::Toolsync => writeln!(
            err,
            "tool_sync settings: separator \";\", encoding UTF-8, user identifier = {user_key}, course identifier = \
             {course_key} (tool_sync/enrols_useridentifier and enrols_courseidentifier); server time zone {tz}; try \
             it first with \"Simulate result without altering data\""
        )?,
        PlanFormat::Ws => writeln!(
            err,
            "web service: POST each line as the body of enrol_manual_enrol_users (wsfunction=enrol_manual_enrol_users, \
             Content-Type application/x-www-form-urlencoded); each line is one all-or-nothing transaction"
        )?,
        PlanFormat::Json => {}
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn apply_into(
    plans: &mut [CoursePlan],
    target: &std::path::Path,
    tz: chrono_tz::Tz,
    err: &mut impl Write,
    limits: &mbz_enrol::archive::Limits,
) -> Result<()> {
    let (course, current) = mbz_enrol::run::manual_enrolments(target, limits)?;
    let matches = |p: &CoursePlan| {
        (course.id.is_some() && course.id == p.course.id)
            || course.shortname.as_deref() == Some(p.course.shortname.as_str())
    };
    if !plans.iter().any(&matches) {
        bail!(
            "--into {}: its course ({}) is none of the planned courses",
            target.display(),
            course.shortname.as_deref().unwrap_or("?")
        );
    }
    let fmt = |v: &into::Values| {
        let end = if v.timeend == 0 {
            "unlimited".to_owned()
        } else {
            time::format_iso(v.timeend, tz)
        };
        format!(
            "{} {} .. {end}",
            if v.status == 0 { "active" } else { "suspended" },
            if v.timestart == 0 {
                "-".to_owned()
            } else {
                time::format_iso(v.timestart, tz)
            }
        )
    };
    writeln!(
        err,
        "compared with {} (manual enrolments of the target course):",
        target.display()
    )?;
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    for p in plans.iter_mut().filter(|p| matches(p)) {
        let mut kept = Vec::new();
        for mut action in std::mem::take(&mut p.actions) {
            let planned = into::Values {
                status: action.status,
                timestart: action.timestart,
                timeend: action.timeend,
            };
            let (values, outcome) =
                into::compare(current.get(&action.user.user.username).copied(), planned);
            *counts.entry(outcome.kind).or_default() += 1;
            writeln!(
                err,
                "  {:<12} {:<20} plan {}; target {}; merge restore would give {} ({})",
                outcome.kind,
                action.user.user.username,
                fmt(&values),
                outcome.target.as_ref().map_or("none".to_owned(), fmt),
                fmt(&outcome.merge_restore),
                outcome.why
            )?;
            action.status = values.status;
            action.timestart = values.timestart;
            action.timeend = values.timeend;
            let send = outcome.kind != "kept";
            action.into = Some(outcome);
            if send {
                kept.push(action);
            }
        }
        p.actions = kept;
    }
    writeln!(
        err,
        "  totals: {}",
        counts
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    Ok(())
}
