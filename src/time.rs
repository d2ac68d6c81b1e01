//! Dates and time zones for `--until` / `--start`.
//!
//! Moodle stores enrolment bounds (`timestart`, `timeend`) as Unix epoch seconds in 32-bit signed
//! integer columns, so every date given on the command line is resolved here to one instant in
//! `1..=2147483647` (Moodle's `ENROL_MAX_TIMESTAMP`).
//!
//! # Accepted forms
//!
//! * `YYYY-MM-DD`: a bare day, interpreted in the resolved time zone. As an END date (`--until`)
//!   it means "access through that whole day", i.e. the first instant of the *following* local day;
//!   as a START date (`--start`) it means the first instant of *that* local day.
//! * `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (a space may replace the `T`): a wall-clock time
//!   in the resolved time zone.
//! * the same followed by an offset `Z`, `+HH:MM`, `-HH:MM` or `+HHMM`: that exact instant; the
//!   time zone is then not used.
//! * `@EPOCH`: non-negative integer seconds since 1970-01-01T00:00:00Z.
//!
//! # Time zones
//!
//! Zones are IANA names (`Europe/Paris`), looked up in the `chrono-tz` database compiled into the
//! binary, so results do not depend on the host's tzdata. The zone comes from `--timezone`, else
//! the `TZ` environment variable, else the system configuration (`/etc/localtime`,
//! `/etc/timezone`), else UTC; see [`resolve_zone`].
//!
//! # Daylight saving time
//!
//! Local times are resolved with the zone's real rules for that date, never with a fixed offset:
//!
//! * a local time that does not exist (skipped by a DST change, e.g. 02:30 on the spring-forward
//!   night in `Europe/Paris`) is an error when given explicitly;
//! * a local time that exists twice (the fall-back hour) resolves to the earlier instant, with a
//!   warning naming the later alternative;
//! * for bare days, "the first instant of the day" is always well defined: if local midnight is
//!   skipped (zones whose DST starts at 00:00, such as `America/Havana` or, historically,
//!   `America/Sao_Paulo`), the day starts at the end of the gap (01:00 local); if midnight occurs
//!   twice, the earlier one is the start of the day.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Utc,
};
use chrono_tz::Tz;

/// Largest timestamp Moodle accepts in its enrolment fields (`ENROL_MAX_TIMESTAMP`, 2038-01-19T03:14:07Z).
pub const MAX_TIMESTAMP: i64 = 2_147_483_647;

/// Errors from zone resolution and date parsing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The zone asked for (or the system's configured zone) is not an IANA zone name.
    #[error("unknown time zone `{name}` (expected an IANA name such as Europe/Paris)")]
    UnknownZone {
        /// The offending name, as given.
        name: String,
    },
    /// The `TZ` environment variable is set but is not an IANA zone name (an explicit zone overrides it: the
    /// binary says how).
    #[error(
        "unknown time zone `{value}` in the {variable} environment variable (expected an IANA name such as Europe/Paris)"
    )]
    UnknownEnvZone {
        /// The variable: [`ZONE_ENV`] or `TZ`.
        variable: &'static str,
        /// Its value, as found.
        value: String,
    },
    /// The date is not in one of the accepted forms, or a field is out of range.
    #[error("invalid date `{input}`: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][offset] or @EPOCH")]
    InvalidDate {
        /// The offending input, as given.
        input: String,
    },
    /// The local time was skipped by a DST change in the zone.
    #[error("local time {local} does not exist in {zone} (skipped by a DST change)")]
    NonexistentLocalTime {
        /// The local time, formatted `YYYY-MM-DDTHH:MM:SS`.
        local: String,
        /// The zone it was interpreted in.
        zone: Tz,
    },
    /// The date resolves to an instant Moodle cannot store.
    #[error(
        "date `{input}` is out of range: the instant must be after 1970-01-01T00:00:00Z and at most 2147483647 (2038-01-19T03:14:07Z, Moodle's ENROL_MAX_TIMESTAMP)"
    )]
    OutOfRange {
        /// The offending input, as given.
        input: String,
    },
}

/// Where the zone came from, for the report (the binary names each source in its own words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// Given explicitly by the caller (`flag` of [`resolve_zone`]).
    Flag,
    /// The [`ZONE_ENV`] environment variable (this tool's own default).
    ZoneEnv,
    /// The `TZ` environment variable.
    TzEnv,
    /// The system configuration (`/etc/localtime` or `/etc/timezone`).
    System,
    /// Nothing configured: UTC.
    DefaultUtc,
}

/// The environment variable that sets the default zone before `TZ`.
pub const ZONE_ENV: &str = "MBZ_TIMEZONE";

/// Resolves the time zone: `flag` (the zone asked for explicitly) if given; else the [`ZONE_ENV`] environment
/// variable; else the `TZ` environment variable
/// (a leading `:` is stripped; if either is set but not a valid IANA name, error); else the system
/// zone (the target of the `/etc/localtime` symlink after `zoneinfo/`, else the first line of
/// `/etc/timezone`); else UTC with [`ZoneSource::DefaultUtc`].
///
/// An empty variable (or just `:`) counts as unset. One that is not valid Unicode is an error.
///
/// # Errors
///
/// [`TimeError::UnknownZone`] if `flag` is not a zone name, [`TimeError::UnknownEnvZone`] if it is
/// absent and the variable used is set to something that is not one. An unusable system configuration is not
/// an error (UTC is used).
pub fn resolve_zone(flag: Option<&str>) -> Result<(Tz, ZoneSource), TimeError> {
    let var = |name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned());
    resolve_zone_from(flag, var(ZONE_ENV).as_deref(), var("TZ").as_deref())
}

/// Same as [`resolve_zone`] but with the value of `TZ` passed explicitly (no environment access).
/// The system zone is still read from `/etc` when neither `flag` nor `env_tz` gives one.
///
/// # Errors
///
/// As [`resolve_zone`].
pub fn resolve_zone_with(
    flag: Option<&str>,
    env_tz: Option<&str>,
) -> Result<(Tz, ZoneSource), TimeError> {
    resolve_zone_from(flag, None, env_tz)
}

/// Same as [`resolve_zone`] with the values of [`ZONE_ENV`] (`env_zone`) and `TZ` (`env_tz`) passed explicitly.
///
/// # Errors
///
/// As [`resolve_zone`].
pub fn resolve_zone_from(
    flag: Option<&str>,
    env_zone: Option<&str>,
    env_tz: Option<&str>,
) -> Result<(Tz, ZoneSource), TimeError> {
    if let Some(name) = flag {
        return parse_zone_name(name)
            .map(|tz| (tz, ZoneSource::Flag))
            .ok_or_else(|| TimeError::UnknownZone {
                name: name.to_owned(),
            });
    }
    for (variable, value, source) in [
        (ZONE_ENV, env_zone, ZoneSource::ZoneEnv),
        ("TZ", env_tz, ZoneSource::TzEnv),
    ] {
        let Some(value) = value else { continue };
        let name = value.strip_prefix(':').unwrap_or(value);
        if !name.is_empty() {
            // `TZ=:/usr/share/zoneinfo/Europe/Paris` is also a common spelling.
            let name = after_zoneinfo(name).unwrap_or(name);
            return parse_zone_name(name).map(|tz| (tz, source)).ok_or_else(|| {
                TimeError::UnknownEnvZone {
                    variable,
                    value: value.to_owned(),
                }
            });
        }
    }
    let link = std::fs::read_link("/etc/localtime").ok();
    let file = std::fs::read_to_string("/etc/timezone").ok();
    Ok(match system_zone(link.as_deref(), file.as_deref()) {
        Some(tz) => (tz, ZoneSource::System),
        None => (Tz::UTC, ZoneSource::DefaultUtc),
    })
}

/// The system zone from the `/etc/localtime` link target and the `/etc/timezone` contents.
fn system_zone(localtime_target: Option<&Path>, timezone_file: Option<&str>) -> Option<Tz> {
    let from_link = localtime_target
        .and_then(Path::to_str)
        .and_then(after_zoneinfo)
        .and_then(parse_zone_name);
    from_link.or_else(|| {
        timezone_file
            .and_then(|s| s.lines().next())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(parse_zone_name)
    })
}

/// The zone name in a path such as `/usr/share/zoneinfo/Europe/Paris` (`posix/` and `right/`
/// sub-trees included).
fn after_zoneinfo(path: &str) -> Option<&str> {
    const MARK: &str = "zoneinfo/";
    let idx = path.rfind(MARK)?;
    let name = &path[idx + MARK.len()..];
    let name = name
        .strip_prefix("posix/")
        .or_else(|| name.strip_prefix("right/"))
        .unwrap_or(name);
    (!name.is_empty()).then_some(name)
}

/// Looks up an IANA zone name, exactly first, then ignoring ASCII case (`europe/paris`).
fn parse_zone_name(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok().or_else(|| {
        chrono_tz::TZ_VARIANTS
            .iter()
            .copied()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
    })
}

/// Whether a parsed date was a bare day or a precise instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// `YYYY-MM-DD`.
    Day,
    /// A time of day, an offset or `@EPOCH`.
    Instant,
}

/// A resolved instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Unix epoch seconds, in `1..=2147483647`.
    pub epoch: i64,
    /// Whether the input was a bare day.
    pub precision: Precision,
    /// Things the user should know about how the input was interpreted (ambiguous local time).
    pub warnings: Vec<String>,
}

/// Parses an END date (`--until`).
///
/// `YYYY-MM-DD` means "through that whole day": the result is the first instant of the FOLLOWING
/// local day in `tz`. Other forms are described in the module documentation.
///
/// # Errors
///
/// [`TimeError::InvalidDate`] for anything that is not one of the accepted forms (including
/// out-of-range fields such as `2027-02-30` or `24:00`), [`TimeError::NonexistentLocalTime`] for a
/// local time skipped by a DST change, [`TimeError::OutOfRange`] if the instant is not in
/// `1..=2147483647`.
pub fn parse_end(s: &str, tz: Tz) -> Result<Resolved, TimeError> {
    parse(s, tz, DayBound::End)
}

/// Parses a START date (`--start`): same forms as [`parse_end`], but `YYYY-MM-DD` means the first
/// instant of THAT local day.
///
/// # Errors
///
/// As [`parse_end`].
pub fn parse_start(s: &str, tz: Tz) -> Result<Resolved, TimeError> {
    parse(s, tz, DayBound::Start)
}

/// ISO 8601 with offset in `tz`, e.g. `2027-09-01T00:00:00+02:00` (seconds always shown).
///
/// An epoch outside chrono's range (not possible for values from this module) is shown as `@EPOCH`.
#[must_use]
pub fn format_iso(epoch: i64, tz: Tz) -> String {
    match DateTime::<Utc>::from_timestamp(epoch, 0) {
        Some(utc) => format_local(&utc.with_timezone(&tz)),
        None => format!("@{epoch}"),
    }
}

/// Current time as epoch seconds (std `SystemTime`; negative if the clock is before 1970).
#[must_use]
pub fn now_epoch() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Which end of a bare day is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayBound {
    /// First instant of the day.
    Start,
    /// First instant of the next day.
    End,
}

/// What the syntax says, before any zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parsed {
    Epoch(i64),
    Day(NaiveDate),
    Local(NaiveDateTime),
    Fixed(NaiveDateTime, FixedOffset),
}

fn parse(s: &str, tz: Tz, bound: DayBound) -> Result<Resolved, TimeError> {
    let invalid = || TimeError::InvalidDate {
        input: s.to_owned(),
    };
    let out_of_range = || TimeError::OutOfRange {
        input: s.to_owned(),
    };
    let mut warnings = Vec::new();
    let (epoch, precision) = match parse_syntax(s)? {
        Parsed::Epoch(e) => (e, Precision::Instant),
        Parsed::Day(date) => {
            let date = match bound {
                DayBound::Start => date,
                DayBound::End => date.succ_opt().ok_or_else(invalid)?,
            };
            (
                start_of_day(date, tz).ok_or_else(out_of_range)?,
                Precision::Day,
            )
        }
        Parsed::Fixed(naive, offset) => {
            let epoch = offset
                .from_local_datetime(&naive)
                .single()
                .ok_or_else(out_of_range)?
                .timestamp();
            (epoch, Precision::Instant)
        }
        Parsed::Local(naive) => {
            let epoch = match tz.from_local_datetime(&naive) {
                LocalResult::Single(dt) => dt.timestamp(),
                LocalResult::Ambiguous(earlier, later) => {
                    warnings.push(format!(
                        "local time {} occurs twice in {} (repeated by a DST change): using the earlier instant {}, not the later {}",
                        format_naive(&naive),
                        tz,
                        format_local(&earlier),
                        format_local(&later),
                    ));
                    earlier.timestamp()
                }
                LocalResult::None => {
                    return Err(TimeError::NonexistentLocalTime {
                        local: format_naive(&naive),
                        zone: tz,
                    });
                }
            };
            (epoch, Precision::Instant)
        }
    };
    if epoch <= 0 || epoch > MAX_TIMESTAMP {
        return Err(out_of_range());
    }
    Ok(Resolved {
        epoch,
        precision,
        warnings,
    })
}

/// Strict syntax check; fields are range-checked through chrono's constructors.
fn parse_syntax(s: &str) -> Result<Parsed, TimeError> {
    let invalid = || TimeError::InvalidDate {
        input: s.to_owned(),
    };
    if let Some(digits) = s.strip_prefix('@') {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        // All digits: the only possible failure is overflow, which is out of range.
        return digits
            .parse::<i64>()
            .map(Parsed::Epoch)
            .map_err(|_| TimeError::OutOfRange {
                input: s.to_owned(),
            });
    }

    let b = s.as_bytes();
    let date = parse_date(b).ok_or_else(invalid)?;
    if b.len() == 10 {
        return Ok(Parsed::Day(date));
    }
    if !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return Err(invalid());
    }
    let hour = two_digits(b, 11).ok_or_else(invalid)?;
    if b.get(13) != Some(&b':') {
        return Err(invalid());
    }
    let minute = two_digits(b, 14).ok_or_else(invalid)?;
    let (second, rest) = if b.get(16) == Some(&b':') {
        (two_digits(b, 17).ok_or_else(invalid)?, &b[19..])
    } else {
        (0, &b[16..])
    };
    let time = NaiveTime::from_hms_opt(hour, minute, second).ok_or_else(invalid)?;
    let naive = date.and_time(time);
    if rest.is_empty() {
        return Ok(Parsed::Local(naive));
    }
    let offset = parse_offset(rest).ok_or_else(invalid)?;
    Ok(Parsed::Fixed(naive, offset))
}

/// `YYYY-MM-DD` at the start of `b` (exactly four-digit year, two-digit month and day).
fn parse_date(b: &[u8]) -> Option<NaiveDate> {
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(two_digits(b, 0)? * 100 + two_digits(b, 2)?).ok()?;
    NaiveDate::from_ymd_opt(year, two_digits(b, 5)?, two_digits(b, 8)?)
}

/// Two ASCII digits at `b[at..at + 2]`.
fn two_digits(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at + 2)? {
        [h @ b'0'..=b'9', l @ b'0'..=b'9'] => Some(u32::from(h - b'0') * 10 + u32::from(l - b'0')),
        _ => None,
    }
}

/// `Z`, `+HH:MM`, `-HH:MM` or `+HHMM` / `-HHMM`, and nothing after it.
fn parse_offset(b: &[u8]) -> Option<FixedOffset> {
    if matches!(b, [b'Z' | b'z']) {
        return FixedOffset::east_opt(0);
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = two_digits(b, 1)?;
    let minutes = match b.len() {
        6 if b[3] == b':' => two_digits(b, 4)?,
        5 => two_digits(b, 3)?,
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let secs = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    FixedOffset::east_opt(sign * secs)
}

/// Epoch of the first instant of local day `date` in `tz`.
///
/// Midnight normally; the earlier midnight if it occurs twice; the end of the gap if midnight is
/// skipped by a DST change. `None` only if chrono cannot represent the instant.
fn start_of_day(date: NaiveDate, tz: Tz) -> Option<i64> {
    let midnight = date.and_time(NaiveTime::MIN);
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(dt) => Some(dt.timestamp()),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.timestamp()),
        LocalResult::None => first_instant_not_before(midnight, tz),
    }
}

/// Smallest epoch whose local time in `tz` is at or after `local` (used when `local` is in a gap,
/// where it is exactly the instant of the transition).
///
/// Binary search over a window of ±26 hours, which contains every UTC offset ever used; the
/// predicate "local time >= `local`" is monotonic there unless a second transition falls back
/// within a day of the gap, which no zone does.
fn first_instant_not_before(local: NaiveDateTime, tz: Tz) -> Option<i64> {
    let window = Duration::hours(26);
    let mut lo = (local - window).and_utc().timestamp(); // local time < `local`
    let mut hi = (local + window).and_utc().timestamp(); // local time >= `local`
    let reached = |epoch: i64| -> Option<bool> {
        let utc = DateTime::<Utc>::from_timestamp(epoch, 0)?;
        Some(utc.with_timezone(&tz).naive_local() >= local)
    };
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if reached(mid)? {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

/// `YYYY-MM-DDTHH:MM:SS`.
fn format_naive(naive: &NaiveDateTime) -> String {
    naive.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `YYYY-MM-DDTHH:MM:SS+HH:MM` (`+HH:MM:SS` for the rare offsets with seconds, e.g. LMT).
fn format_local(dt: &DateTime<Tz>) -> String {
    let fmt = if dt.offset().fix().local_minus_utc() % 60 == 0 {
        "%Y-%m-%dT%H:%M:%S%:z"
    } else {
        "%Y-%m-%dT%H:%M:%S%::z"
    };
    dt.format(fmt).to_string()
}

#[cfg(test)]
#[path = "time_tests.rs"]
mod tests;
