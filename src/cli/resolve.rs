//! The resolve step: raw arguments to checked options (zone, dates, method and role lists), with the
//! messages every command shares.

use std::io::Write;

use anyhow::{Result, bail};
use mbz_enrol::time::{self, TimeError, ZoneSource};

/// How the report names where the zone came from.
pub(crate) fn zone_source(s: ZoneSource) -> &'static str {
    match s {
        ZoneSource::Flag => "--timezone",
        ZoneSource::ZoneEnv => "MBZ_TIMEZONE environment variable",
        ZoneSource::TzEnv => "TZ environment variable",
        ZoneSource::System => "system configuration",
        ZoneSource::DefaultUtc => "default (UTC)",
    }
}

/// A zone error with the flag that overrides a bad `TZ`.
pub(crate) fn zone_error(e: TimeError) -> anyhow::Error {
    match e {
        TimeError::UnknownEnvZone { variable, value } => anyhow::anyhow!(
            "unknown time zone `{value}` in the {variable} environment variable (expected an IANA name such as \
             Europe/Paris; use --timezone to override)"
        ),
        e => e.into(),
    }
}

/// The warning for a zone nobody chose (taken from the system, or UTC for want of one), naming it.
pub(crate) fn zone_warning(tz: chrono_tz::Tz, source: ZoneSource) -> Option<String> {
    let unset = "no --timezone, MBZ_TIMEZONE or TZ";
    let fix = "check that it is the Moodle site's, or set --timezone or MBZ_TIMEZONE";
    match source {
        ZoneSource::System => Some(format!(
            "{unset}: dates are read in the system's zone, {tz}; {fix}"
        )),
        ZoneSource::DefaultUtc => Some(format!(
            "{unset}, and no system zone configured: dates are read in {tz}; {fix}"
        )),
        _ => None,
    }
}

/// Resolves the zone, with the closest IANA names as a hint when the name is unknown; a zone nobody chose is
/// announced on `err` with a warning that names it.
pub(crate) fn zone(
    flag: Option<&str>,
    err: &mut dyn Write,
) -> Result<(chrono_tz::Tz, &'static str)> {
    match time::resolve_zone(flag) {
        Ok((tz, source)) => {
            if let Some(w) = zone_warning(tz, source) {
                writeln!(err, "warning: {w}")?;
            }
            Ok((tz, zone_source(source)))
        }
        Err(e) => {
            let env = |name| {
                std::env::var(name)
                    .ok()
                    .filter(|v| !v.trim_start_matches(':').is_empty())
            };
            let given = flag
                .map(str::to_owned)
                .or_else(|| env(time::ZONE_ENV))
                .or_else(|| env("TZ"))
                .unwrap_or_default();
            let close = closest_zones(given.trim_start_matches(':'));
            let e = zone_error(e);
            if close.is_empty() {
                Err(e)
            } else {
                Err(anyhow::anyhow!("{e}; did you mean {}?", close.join(", ")))
            }
        }
    }
}

/// Up to three IANA names closest to `name` (case-insensitive edit distance, or containing it).
fn closest_zones(name: &str) -> Vec<&'static str> {
    let want = name.to_lowercase();
    if want.is_empty() {
        return Vec::new();
    }
    let distance = |a: &str, b: &str| {
        let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for i in 1..=a.len() {
            let mut prev = row[0];
            row[0] = i;
            for j in 1..=b.len() {
                let cur = row[j];
                row[j] = (row[j] + 1)
                    .min(row[j - 1] + 1)
                    .min(prev + usize::from(a[i - 1] != b[j - 1]));
                prev = cur;
            }
        }
        row[b.len()]
    };
    let mut scored: Vec<(usize, &'static str)> = chrono_tz::TZ_VARIANTS
        .iter()
        .filter(|tz| tz.name().contains('/'))
        .map(|tz| {
            let n = tz.name();
            let l = n.to_lowercase();
            let last = l.rsplit('/').next().unwrap_or(&l).to_owned();
            let d = if l.contains(&want) || want.contains(&last) {
                0
            } else {
                distance(&want, &l).min(distance(&want, &last) + 2)
            };
            (d, n)
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .filter(|(d, _)| *d <= want.len() / 2 + 1)
        .take(3)
        .map(|(_, n)| n)
        .collect()
}

/// A comma list trimmed, without empty items or repeats.
pub(crate) fn clean_list(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in list {
        let s = s.trim().to_owned();
        if !s.is_empty() && !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// `--from`: the methods to convert; manual is the target, never a source (`explain`: one message for each
/// mistake, as `convert` words them).
pub(crate) fn sources(list: Vec<String>, explain: bool) -> Result<Vec<String>> {
    use mbz_enrol::enrol::convert::{SourceError, check_sources};
    let from = clean_list(list);
    match check_sources(&from) {
        Ok(()) => Ok(from),
        Err(SourceError::Empty) if explain => {
            bail!("--from needs at least one enrolment method, e.g. --from database,cohort")
        }
        Err(SourceError::Manual) if explain => bail!(
            "--from manual: manual enrolments are the conversion's target, not a source (use `renew` to change them)"
        ),
        Err(_) => {
            bail!("--from needs enrolment methods other than manual, e.g. --from database,cohort")
        }
    }
}

/// A date for `flag` (`--until`, `--start`, `--now`), parsed as an end or a start.
/// `--until` (required by clap) in `tz`, its last second of access told on `err`.
pub(crate) fn until(
    text: &str,
    tz: chrono_tz::Tz,
    err: &mut dyn std::io::Write,
) -> Result<time::Resolved> {
    let until = date("--until", text, tz, true)?;
    writeln!(
        err,
        "until: {text}: access through {}",
        super::render::last_second(until.epoch, tz)
    )?;
    Ok(until)
}

pub(crate) fn date(flag: &str, s: &str, tz: chrono_tz::Tz, end: bool) -> Result<time::Resolved> {
    let r = if end {
        time::parse_end(s, tz)
    } else {
        time::parse_start(s, tz)
    };
    anyhow::Context::with_context(r, || flag.to_owned())
}

/// Prints a resolved date to stderr, with its warnings.
pub(crate) fn announce(
    err: &mut impl Write,
    what: &str,
    input: &str,
    r: &time::Resolved,
    tz: chrono_tz::Tz,
) -> Result<()> {
    // In the zone, named, never an epoch: an end as its last second of access.
    if what == "until" {
        writeln!(
            err,
            "{what}: {input}: access through {}",
            super::render::last_second(r.epoch, tz)
        )?;
    } else {
        writeln!(
            err,
            "{what}: {input} = {}",
            super::render::moment(r.epoch, tz)
        )?;
    }
    for w in &r.warnings {
        writeln!(err, "warning: {w}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_source_names() {
        assert_eq!(zone_source(ZoneSource::Flag), "--timezone");
        assert_eq!(zone_source(ZoneSource::DefaultUtc), "default (UTC)");
    }
}
