//! `apply`: the token and the site checked once, then each archive's plan put into its live course through the
//! batch driver (at most --jobs courses at once), with per-user lines for a dry run, a JSON report and the
//! journals beside it. The token is read here and handed to the library's client; it is never printed.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{Context, Result, bail};
use mbz_enrol::ConvertOptions;
use mbz_enrol::apply::{self, ApplyError, Client, ClientOptions, State, Token};
use mbz_enrol::error::Error;
use mbz_enrol::plan::CourseKey;

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
    let mut err = globals.err();
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
                if !globals.quiet {
                    let _guard = lines.lock();
                    eprint!("{}", String::from_utf8_lossy(&told));
                }
                plan = plans.remove(0);
            }
            let note = |w: &str| {
                if !globals.quiet {
                    let _guard = lines.lock();
                    eprintln!("warning: {}: {w}", plan.course.shortname);
                }
            };
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
            if globals.quiet {
                return;
            }
            let _guard = lines.lock();
            match result {
                Ok(r) => {
                    let count = |s: State| r.users.iter().filter(|u| u.state == s).count();
                    if a.dry_run {
                        for u in r.users.iter().filter(|u| u.state == State::WouldSend) {
                            let enrol: Vec<String> =
                                u.enrolments.iter().map(|e| describe(e, tz)).collect();
                            eprintln!(
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
                        eprintln!(
                            "dry run {} ({}): {} would be sent, {} already done, {} left out; nothing sent",
                            job.relative,
                            r.shortname,
                            render::count(count(State::WouldSend), "user", "users"),
                            count(State::AlreadyDone),
                            count(State::LeftOut)
                        );
                    } else {
                        eprintln!(
                            "ok  {} ({}): {} sent in {} and read back, {} already done (nothing sent \
                             for them), {} left out; journal {}",
                            job.relative,
                            r.shortname,
                            render::count(count(State::Sent), "user", "users"),
                            render::count(r.calls, "call", "calls"),
                            count(State::AlreadyDone),
                            count(State::LeftOut),
                            r.journal.display()
                        );
                    }
                    for w in r.warnings.iter().skip(r.told_before) {
                        eprintln!("warning: {}: {w}", r.shortname);
                    }
                }
                Err(e) => eprintln!("FAILED  {}: {}", job.relative, super::hint::chain(e)),
            }
        },
    );
    let failed = results.iter().filter(|(r, _)| r.is_err()).count();
    if let Some(path) = &a.report {
        #[derive(serde::Serialize)]
        struct Row<'a> {
            archive: &'a str,
            status: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            course: Option<&'a apply::Applied>,
        }
        let rows: Vec<Row<'_>> = found
            .jobs
            .iter()
            .zip(&results)
            .map(|(job, (r, _))| Row {
                archive: &job.relative,
                status: match r {
                    Ok(_) if a.dry_run => "dry-run",
                    Ok(_) => "done",
                    Err(_) => "failed",
                },
                error: r.as_ref().err().map(|e| super::hint::chain(e)),
                course: r.as_ref().ok(),
            })
            .collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({
            "schema": "mbz-enrol/apply/1",
            "site": client.endpoint(),
            "dry_run": a.dry_run,
            "courses": rows,
        }))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(err, "report: {}", path.display())?;
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
