//! `apply`: the token and the site checked once, then each archive's plan put into its live course through the
//! batch driver (at most --jobs courses at once), with per-user lines for a dry run, a JSON report and the
//! journals beside it. The token is read here and handed to the library's client; it is never printed.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};
use mbz_enrol::ConvertOptions;
use mbz_enrol::apply::{self, ApplyError, Client, ClientOptions, State, Token};
use mbz_enrol::error::Error;
use mbz_enrol::plan::CourseKey;
use mbz_enrol::report::{self, apply::ApplyRow};

use super::args::{ApplyArgs, CourseKeyArg};
use super::render;
use super::resolve::{self, clean_list};

/// The environment variable holding the token.
const TOKEN_ENV: &str = "MBZ_MOODLE_TOKEN";

/// The token: --token-file, else $MBZ_MOODLE_TOKEN.
fn token(a: &ApplyArgs) -> Result<Token> {
    if let Some(path) = &a.token_file {
        return Token::from_file(path).context("--token-file");
    }
    match std::env::var(TOKEN_ENV) {
        Ok(t) => Token::new(&t).with_context(|| format!("${TOKEN_ENV}")),
        Err(_) => bail!(
            "no token: set ${TOKEN_ENV} or give --token-file FILE (mode 600); never on the command line. The \
             README's \"apply\" section says how to create one"
        ),
    }
}

/// One enrolment as a dry run shows it: role id, start, last second of access, status (the values sent).
fn describe(e: &mbz_enrol::plan::Enrolment, tz: chrono_tz::Tz) -> String {
    let start = match e.timestart {
        0 => "no start".to_owned(),
        t => format!("from {}", render::moment(t, tz)),
    };
    let end = match e.timeend {
        0 => "unlimited".to_owned(),
        t => format!("access through {}", render::last_second(t, tz)),
    };
    let status = if e.suspend == 0 {
        "active"
    } else {
        "suspended"
    };
    format!("role id {}, {start}, {end}, {status}", e.roleid)
}

/// Runs `apply`.
pub fn run(a: ApplyArgs, globals: super::Globals) -> Result<ExitCode> {
    let started = mbz_enrol::time::now_epoch();
    let mut err = globals.err();
    if let Some(path) = &a.report {
        super::batch::report_kind(path)?;
    }
    let (tz, source) = resolve::zone(a.conversion.zone.timezone.as_deref(), &mut err)?;
    let until_text = a.conversion.until.as_deref().unwrap_or_default();
    writeln!(err, "time zone: {tz} (from {source})")?;
    let from = resolve::sources(a.conversion.from.clone(), false)?;
    let until = resolve::until(until_text, tz, &mut err)?;
    let course_key = match a.course_key {
        CourseKeyArg::Shortname => CourseKey::Shortname,
        CourseKeyArg::Idnumber => CourseKey::Idnumber,
        CourseKeyArg::Id => CourseKey::Id,
    };
    let options = ClientOptions {
        allow_http: a.allow_http,
        ..ClientOptions::default()
    };
    // The address first: a plain-http one is refused before the token is even read.
    apply::client::endpoint(&a.url, a.allow_http).map_err(|e| match e {
        ApplyError::PlainHttp { .. } => anyhow::anyhow!("{e} (--allow-http)"),
        e => anyhow::anyhow!("--url: {e}"),
    })?;
    let client = Client::new(&a.url, token(&a)?, options)?;
    let site = apply::live::site_info(&client).map_err(|e| anyhow::anyhow!("site check: {e}"))?;
    writeln!(
        err,
        "site: {} (Moodle {}), token of user {}; the service allows every function needed",
        client.endpoint(),
        site.release,
        site.username
    )?;
    let opts = ConvertOptions {
        from,
        stamp_roles: clean_list(a.conversion.stamp_roles.clone()),
        until: until.epoch,
        ..Default::default()
    };
    let found = super::find_backups(&a.inputs, &mut err)?;
    if a.into.is_some() && found.jobs.len() > 1 {
        bail!("--into compares one course: give one ARCHIVE with it");
    }
    let journal_dir = match &a.report {
        Some(r) => r
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| ".".into(), Into::into),
        None => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&journal_dir)
        .with_context(|| format!("cannot create {}", journal_dir.display()))?;
    let apply_opts = apply::Options {
        course_key,
        dry_run: a.dry_run,
        journal_dir,
        now: mbz_enrol::time::now_epoch(),
    };
    let lines = Mutex::new(());
    let total = found.jobs.len();
    let bar = super::progress::courses(total, std::io::stderr().is_terminal(), globals.quiet);
    let done = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    // Every line goes through here: above the bar when there is one, one write per line otherwise.
    let say = |text: &str| {
        if globals.quiet || text.is_empty() {
            return;
        }
        let _guard = lines.lock();
        match &bar {
            Some(b) => b.suspend(|| {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }),
            None => {
                let _ = std::io::stderr().write_all(text.as_bytes());
            }
        }
    };
    let cancel = mbz_enrol::archive::Cancel::never();
    let results = mbz_enrol::batch::run(
        &found.jobs,
        a.jobs as usize,
        false,
        &cancel,
        |job| {
            let mbz_enrol::job::ForApply {
                mut plan,
                welcome,
                sync_groups,
            } = mbz_enrol::job::plan_for_apply(&job.input, &opts, &globals.limits)?;
            if let Some(target) = &a.into {
                let mut told = Vec::new();
                let mut plans = vec![plan];
                super::plan::apply_into(&mut plans, target, tz, &mut told, &globals.limits)
                    .map_err(|e| Error::Usage(super::hint::chain_any(&e)))?;
                say(&String::from_utf8_lossy(&told));
                plan = plans.remove(0);
            }
            let note = |w: &str| say(&format!("warning: {}: {w}\n", plan.course.shortname));
            apply::apply(
                &client,
                &site,
                &plan,
                welcome,
                &sync_groups,
                &apply_opts,
                &note,
            )
            .map_err(|source| Error::Apply {
                course: plan.course.shortname.clone(),
                source: Box::new(source),
            })
        },
        |job, result, _| {
            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
            if result.is_err() {
                failed.fetch_add(1, Ordering::SeqCst);
            }
            say(&outcome_lines(&job.relative, result, a.dry_run, tz));
            if let Some(b) = &bar {
                b.inc(1);
                b.set_message(format!(
                    "{n}/{total} courses, {} failed",
                    failed.load(Ordering::SeqCst)
                ));
            }
        },
    );
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // A file named *.mbz that is no archive, or a file or folder that cannot be read, is a course possibly not
    // applied, as one that fails.
    let failed = results.iter().filter(|(r, _)| r.is_err()).count()
        + super::failed_unreadable(&mut err, &found.unreadable, "FAILED ")?;
    if let Some(path) = &a.report {
        let run = report::Run {
            started,
            finished: mbz_enrol::time::now_epoch(),
            tz,
            version: format!("mbz-enrol {}", super::args::VERSION),
            inputs: a.inputs.iter().map(|p| p.display().to_string()).collect(),
            output: apply_opts.journal_dir.display().to_string(),
            options: options_given(&a, client.endpoint(), &opts),
        };
        let jobs: Vec<&str> = found.jobs.iter().map(|j| j.relative.as_str()).collect();
        let outcomes = Outcomes {
            jobs: &jobs,
            results: &results,
            unreadable: &found.unreadable,
        };
        write_report(path, &outcomes, a.dry_run, client.endpoint(), &run)?;
        writeln!(err, "report: {}", path.display())?;
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// What the terminal says of one finished course: per user on a dry run, the counts, the warnings not told
/// before sending; or why it failed.
fn outcome_lines(
    archive: &str,
    result: &mbz_enrol::Result<apply::Applied>,
    dry_run: bool,
    tz: chrono_tz::Tz,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let r = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(s, "FAILED  {archive}: {}", super::hint::chain(e));
            return s;
        }
    };
    let count = |st: State| r.users.iter().filter(|u| u.state == st).count();
    if dry_run {
        for u in r.users.iter().filter(|u| u.state == State::WouldSend) {
            let enrol: Vec<String> = u.enrolments.iter().map(|e| describe(e, tz)).collect();
            let _ = writeln!(
                s,
                "would send {} ({}): {}{}",
                u.username,
                u.userid,
                if enrol.is_empty() {
                    "enrolment already done".into()
                } else {
                    format!("enrol {}", enrol.join(", "))
                },
                if u.groups.is_empty() {
                    String::new()
                } else {
                    format!("; add to group ids {:?}", u.groups)
                }
            );
        }
        let _ = writeln!(
            s,
            "dry run {archive} ({}): {} would be sent, {} already done, {} left out; nothing sent",
            r.shortname,
            render::count(count(State::WouldSend), "user", "users"),
            count(State::AlreadyDone),
            count(State::LeftOut)
        );
    } else {
        let _ = writeln!(
            s,
            "ok  {archive} ({}): {} sent in {} and read back, {} already done (nothing sent for them), {} left \
             out; journal {}",
            r.shortname,
            render::count(count(State::Sent), "user", "users"),
            render::count(r.calls, "call", "calls"),
            count(State::AlreadyDone),
            count(State::LeftOut),
            r.journal.display()
        );
    }
    for w in r.warnings.iter().skip(r.told_before) {
        let _ = writeln!(s, "warning: {}: {w}", r.shortname);
    }
    s
}

/// The options that shaped the run, as an admin types them (the site by its endpoint; never the token).
fn options_given(a: &ApplyArgs, site: &str, opts: &ConvertOptions) -> Vec<String> {
    let mut v = vec![format!("--url {site}")];
    if let Some(until) = &a.conversion.until {
        v.push(format!("--until {until}"));
    }
    v.push(format!("--from {}", opts.from.join(",")));
    v.push(format!("--stamp-roles {}", opts.stamp_roles.join(",")));
    v.push(format!(
        "--course-key {}",
        match a.course_key {
            CourseKeyArg::Shortname => "shortname",
            CourseKeyArg::Idnumber => "idnumber",
            CourseKeyArg::Id => "id",
        }
    ));
    if let Some(into) = &a.into {
        v.push(format!("--into {}", into.display()));
    }
    for (on, flag) in [(a.dry_run, "--dry-run"), (a.allow_http, "--allow-http")] {
        if on {
            v.push(flag.to_owned());
        }
    }
    v
}

/// The report in the format its name chooses: JSON with every user (schema `mbz-enrol/apply/1`), or batch's
/// CSV and HTML with one row per course; failures first in each.
/// What a report lists: each archive applied (or failed), and the inputs that could not be read, as failures.
struct Outcomes<'a> {
    jobs: &'a [&'a str],
    results: &'a [(mbz_enrol::Result<apply::Applied>, std::time::Duration)],
    unreadable: &'a [mbz_enrol::batch::Skipped],
}

fn write_report(
    path: &Path,
    outcomes: &Outcomes<'_>,
    dry_run: bool,
    site: &str,
    run: &report::Run,
) -> Result<()> {
    let mut buf = Vec::new();
    let kind = super::batch::report_kind(path)?;
    if kind == "json" {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            archive: &'a str,
            status: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            course: Option<&'a apply::Applied>,
        }
        let mut rows: Vec<Row<'_>> = outcomes
            .jobs
            .iter()
            .zip(outcomes.results)
            .map(|(job, (r, _))| Row {
                archive: job,
                status: match r {
                    Ok(_) if dry_run => "dry-run",
                    Ok(_) => "done",
                    Err(_) => "failed",
                },
                error: r
                    .as_ref()
                    .err()
                    .map(|e| report::plain(&super::hint::chain(e))),
                course: r.as_ref().ok(),
            })
            .chain(outcomes.unreadable.iter().map(|s| Row {
                archive: &s.relative,
                status: "failed",
                error: Some(report::plain(&s.reason.to_string())),
                course: None,
            }))
            .collect();
        rows.sort_by_key(|r| (report::rank(r.status), r.archive));
        buf = serde_json::to_vec_pretty(&serde_json::json!({
            "schema": "mbz-enrol/apply/1",
            "site": site,
            "dry_run": dry_run,
            "courses": rows,
        }))?;
        buf.push(b'\n');
    } else {
        let rows: Vec<ApplyRow> = outcomes
            .jobs
            .iter()
            .zip(outcomes.results)
            .map(|(job, (r, took))| match r {
                Ok(done) => ApplyRow::applied(job, done, dry_run, took.as_secs_f64()),
                Err(e) => {
                    let course = match e {
                        Error::Apply { course, .. } => course.as_str(),
                        _ => "",
                    };
                    ApplyRow::failed(job, course, &super::hint::chain(e), took.as_secs_f64())
                }
            })
            .chain(
                outcomes
                    .unreadable
                    .iter()
                    .map(|s| ApplyRow::failed(&s.relative, "", &s.reason.to_string(), 0.0)),
            )
            .collect();
        if kind == "csv" {
            report::apply::write_csv(&rows, &mut buf)?;
        } else {
            report::apply::write_html(&rows, run, "mbz-enrol apply report", &mut buf)?;
        }
    }
    std::fs::write(path, buf)
        .with_context(|| format!("cannot write report `{}`", path.display()))?;
    Ok(())
}
