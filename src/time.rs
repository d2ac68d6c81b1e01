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

use std::fmt;
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
    /// The `--timezone` value (or the system's configured zone) is not an IANA zone name.
    #[error("unknown time zone `{name}` (expected an IANA name such as Europe/Paris)")]
    UnknownZone {
        /// The offending name, as given.
        name: String,
    },
    /// The `TZ` environment variable is set but is not an IANA zone name.
    #[error(
        "unknown time zone `{value}` in the TZ environment variable (expected an IANA name such as Europe/Paris; use --timezone to override)"
    )]
    UnknownEnvZone {
        /// The value of `TZ`, as found.
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

/// Where the zone came from, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneSource {
    /// `--timezone`.
    Flag,
    /// The `TZ` environment variable.
    TzEnv,
    /// The system configuration (`/etc/localtime` or `/etc/timezone`).
    System,
    /// Nothing configured: UTC.
    DefaultUtc,
}

impl fmt::Display for ZoneSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ZoneSource::Flag => "--timezone",
            ZoneSource::TzEnv => "TZ environment variable",
            ZoneSource::System => "system configuration",
            ZoneSource::DefaultUtc => "default (UTC)",
        })
    }
}

/// Resolves the time zone: `flag` (`--timezone`) if given; else the `TZ` environment variable
/// (a leading `:` is stripped; if `TZ` is set but not a valid IANA name, error); else the system
/// zone (the target of the `/etc/localtime` symlink after `zoneinfo/`, else the first line of
/// `/etc/timezone`); else UTC with [`ZoneSource::DefaultUtc`].
///
/// An empty `TZ` (or just `:`) counts as unset. A `TZ` that is not valid Unicode is an error.
///
/// # Errors
///
/// [`TimeError::UnknownZone`] if `flag` is not a zone name, [`TimeError::UnknownEnvZone`] if it is
/// absent and `TZ` is set to something that is not one. An unusable system configuration is not an
/// error (UTC is used).
pub fn resolve_zone(flag: Option<&str>) -> Result<(Tz, ZoneSource), TimeError> {
    let env = std::env::var_os("TZ").map(|v| v.to_string_lossy().into_owned());
    resolve_zone_with(flag, env.as_deref())
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
    if let Some(name) = flag {
        return parse_zone_name(name)
            .map(|tz| (tz, ZoneSource::Flag))
            .ok_or_else(|| TimeError::UnknownZone {
                name: name.to_owned(),
            });
    }
    if let Some(value) = env_tz {
        let name = value.strip_prefix(':').unwrap_or(value);
        if !name.is_empty() {
            // `TZ=:/usr/share/zoneinfo/Europe/Paris` is also a common spelling.
            let name = after_zoneinfo(name).unwrap_or(name);
            return parse_zone_name(name)
                .map(|tz| (tz, ZoneSource::TzEnv))
                .ok_or_else(|| TimeError::UnknownEnvZone {
                    value: value.to_owned(),
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
mod tests {
    use super::*;
    use chrono_tz::America::{Asuncion, Havana, Sao_Paulo};
    use chrono_tz::Europe::Paris;
    use chrono_tz::Pacific::Apia;

    /// Epoch of a UTC wall-clock time, computed independently of the code under test.
    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .unwrap()
            .timestamp()
    }

    fn end(s: &str, tz: Tz) -> i64 {
        let r = parse_end(s, tz).unwrap();
        assert!(r.warnings.is_empty(), "{s}: {:?}", r.warnings);
        r.epoch
    }

    fn start(s: &str, tz: Tz) -> i64 {
        let r = parse_start(s, tz).unwrap();
        assert!(r.warnings.is_empty(), "{s}: {:?}", r.warnings);
        r.epoch
    }

    #[test]
    fn end_of_summer_day_paris() {
        // 2027-09-01T00:00:00+02:00 == 2027-08-31T22:00:00Z (checked with `date -ud ... +%s`).
        let r = parse_end("2027-08-31", Paris).unwrap();
        assert_eq!(r.epoch, 1_819_749_600);
        assert_eq!(r.epoch, utc(2027, 8, 31, 22, 0, 0));
        assert_eq!(r.precision, Precision::Day);
        assert!(r.warnings.is_empty());
        assert_eq!(format_iso(r.epoch, Paris), "2027-09-01T00:00:00+02:00");
        // 1788213600 is the same local midnight one year earlier.
        assert_eq!(end("2026-08-31", Paris), 1_788_213_600);
    }

    #[test]
    fn end_of_winter_day_paris() {
        let e = end("2027-01-15", Paris);
        assert_eq!(e, utc(2027, 1, 15, 23, 0, 0));
        assert_eq!(format_iso(e, Paris), "2027-01-16T00:00:00+01:00");
    }

    #[test]
    fn end_of_day_before_dst_change_day() {
        // 2027-03-28 is the spring-forward day in Paris (02:00 -> 03:00); its midnight is still +01:00.
        let e = end("2027-03-27", Paris);
        assert_eq!(e, utc(2027, 3, 27, 23, 0, 0));
        assert_eq!(format_iso(e, Paris), "2027-03-28T00:00:00+01:00");
        // The autumn change day: midnight of 2027-10-31 is still +02:00.
        let e = end("2027-10-30", Paris);
        assert_eq!(e, utc(2027, 10, 30, 22, 0, 0));
        assert_eq!(format_iso(e, Paris), "2027-10-31T00:00:00+02:00");
    }

    #[test]
    fn midnight_gap_havana() {
        // Cuba springs forward at 00:00 (-05:00 -> -04:00): 2027-03-14T00:00 does not exist.
        let naive = NaiveDate::from_ymd_opt(2027, 3, 14)
            .unwrap()
            .and_time(NaiveTime::MIN);
        assert!(matches!(
            Havana.from_local_datetime(&naive),
            LocalResult::None
        ));
        // The day starts at the end of the gap, 01:00-04:00 == 05:00Z.
        let s = start("2027-03-14", Havana);
        assert_eq!(s, utc(2027, 3, 14, 5, 0, 0));
        assert_eq!(format_iso(s, Havana), "2027-03-14T01:00:00-04:00");
        assert_eq!(end("2027-03-13", Havana), s);
        // And 23 hours long.
        assert_eq!(end("2027-03-14", Havana) - s, 82_800);
    }

    #[test]
    fn midnight_gap_historic_sao_paulo_and_asuncion() {
        // Brazil sprang forward at 00:00 until 2018 (-03:00 -> -02:00).
        let s = start("2018-11-04", Sao_Paulo);
        assert_eq!(s, utc(2018, 11, 4, 3, 0, 0));
        assert_eq!(format_iso(s, Sao_Paulo), "2018-11-04T01:00:00-02:00");
        assert_eq!(end("2018-11-03", Sao_Paulo), s);
        // Paraguay, 2023-10-01 (-04:00 -> -03:00 at 00:00).
        let s = start("2023-10-01", Asuncion);
        assert_eq!(s, utc(2023, 10, 1, 4, 0, 0));
        assert_eq!(format_iso(s, Asuncion), "2023-10-01T01:00:00-03:00");
    }

    #[test]
    fn midnight_fold_havana_takes_earlier() {
        // Cuba falls back at 01:00 -> 00:00: midnight of 2027-11-07 occurs twice.
        let naive = NaiveDate::from_ymd_opt(2027, 11, 7)
            .unwrap()
            .and_time(NaiveTime::MIN);
        assert!(matches!(
            Havana.from_local_datetime(&naive),
            LocalResult::Ambiguous(..)
        ));
        let s = start("2027-11-07", Havana);
        assert_eq!(s, utc(2027, 11, 7, 4, 0, 0));
        assert_eq!(end("2027-11-06", Havana), s);
        assert_eq!(end("2027-11-07", Havana) - s, 90_000);
    }

    #[test]
    fn whole_day_skipped_apia() {
        // Samoa skipped 2011-12-30 entirely: that day "starts" when 2011-12-31 does.
        let s = start("2011-12-30", Apia);
        assert_eq!(s, start("2011-12-31", Apia));
        assert_eq!(s, end("2011-12-29", Apia));
        assert_eq!(format_iso(s, Apia), "2011-12-31T00:00:00+14:00");
    }

    #[test]
    fn local_times() {
        let r = parse_end("2027-08-31T18:30", Paris).unwrap();
        assert_eq!(r.epoch, utc(2027, 8, 31, 16, 30, 0));
        assert_eq!(r.precision, Precision::Instant);
        assert!(r.warnings.is_empty());
        assert_eq!(
            end("2027-08-31T18:30:15", Paris),
            utc(2027, 8, 31, 16, 30, 15)
        );
        assert_eq!(
            end("2027-08-31 18:30:15", Paris),
            utc(2027, 8, 31, 16, 30, 15)
        );
        assert_eq!(start("2027-01-15T00:00", Paris), utc(2027, 1, 14, 23, 0, 0));
        assert_eq!(
            start("2027-01-15T23:59:59", Tz::UTC),
            utc(2027, 1, 15, 23, 59, 59)
        );
    }

    #[test]
    fn explicit_offsets_ignore_zone() {
        let want = utc(2027, 8, 31, 22, 0, 0);
        for s in [
            "2027-09-01T00:00:00+02:00",
            "2027-09-01T00:00+02:00",
            "2027-09-01T00:00:00+0200",
            "2027-08-31T22:00:00Z",
            "2027-08-31T22:00Z",
            "2027-08-31 22:00:00Z",
            "2027-08-31T18:00:00-04:00",
            "2027-08-31T16:30:00-0530",
        ] {
            for tz in [Paris, Havana, Tz::UTC] {
                let r = parse_end(s, tz).unwrap();
                assert_eq!(r.epoch, want, "{s} in {tz}");
                assert_eq!(r.precision, Precision::Instant);
                assert!(r.warnings.is_empty());
            }
        }
        // An offset disambiguates an otherwise nonexistent / ambiguous Paris local time.
        assert_eq!(
            start("2027-10-31T02:30:00+01:00", Paris),
            utc(2027, 10, 31, 1, 30, 0)
        );
    }

    #[test]
    fn epoch_form() {
        let r = parse_end("@1788213600", Paris).unwrap();
        assert_eq!(r.epoch, 1_788_213_600);
        assert_eq!(r.precision, Precision::Instant);
        assert!(r.warnings.is_empty());
        assert_eq!(start("@1", Paris), 1);
        assert_eq!(start("@2147483647", Paris), MAX_TIMESTAMP);
    }

    #[test]
    fn nonexistent_local_time_is_an_error() {
        let err = parse_end("2027-03-28T02:30", Paris).unwrap_err();
        assert!(
            matches!(err, TimeError::NonexistentLocalTime { .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "local time 2027-03-28T02:30:00 does not exist in Europe/Paris (skipped by a DST change)"
        );
        assert!(parse_start("2027-03-14T00:30", Havana).is_err());
    }

    #[test]
    fn ambiguous_local_time_takes_earlier_with_warning() {
        let r = parse_end("2027-10-31T02:30", Paris).unwrap();
        assert_eq!(r.epoch, utc(2027, 10, 31, 0, 30, 0)); // 02:30+02:00
        assert_eq!(r.precision, Precision::Instant);
        assert_eq!(r.warnings.len(), 1);
        let w = &r.warnings[0];
        assert!(w.contains("2027-10-31T02:30:00+02:00"), "{w}");
        assert!(w.contains("2027-10-31T02:30:00+01:00"), "{w}");
        assert!(w.contains("Europe/Paris"), "{w}");
        assert!(w.contains("earlier"), "{w}");
    }

    #[test]
    fn bad_inputs_are_invalid_date() {
        for s in [
            "2027-13-01",
            "2027-02-30",
            "2027-00-10",
            "2027-01-00",
            "2027-01-32",
            "31/08/2027",
            "2027-08-31x",
            "2027-08-31T",
            "2027-08-31T24:00",
            "2027-08-31T12:60",
            "2027-08-31T12:00:60",
            "2027-08-31T12",
            "2027-08-31T1:00",
            "2027-08-31T12:00:00.5Z",
            "2027-08-31T12:00+2",
            "2027-08-31T12:00+02",
            "2027-08-31T12:00+24:00",
            "2027-08-31T12:00+02:60",
            "2027-08-31T12:00Zx",
            "2027-8-31",
            "+2027-08-31",
            "27-08-31",
            " 2027-08-31",
            "2027-08-31 ",
            "",
            "@",
            "@-5",
            "@+5",
            "@abc",
            "@1.5",
            "@ 5",
            "2027-08-31T12:00:00\u{e9}",
        ] {
            for parse in [parse_end, parse_start] {
                let err = parse(s, Paris).unwrap_err();
                assert!(
                    matches!(err, TimeError::InvalidDate { .. }),
                    "{s:?}: {err:?}"
                );
                assert!(err.to_string().contains(&format!("`{s}`")), "{err}");
            }
        }
        assert_eq!(
            parse_end("2027-02-30", Paris).unwrap_err().to_string(),
            "invalid date `2027-02-30`: expected YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][offset] or @EPOCH"
        );
    }

    #[test]
    fn out_of_range() {
        for s in [
            "@99999999999",
            "@99999999999999999999999",
            "@0",
            "@2147483648",
            "2038-01-19T03:14:08Z",
            "2038-01-20",
            "1969-12-31",
            "1970-01-01T00:00:00Z",
            "0000-01-01",
            "9999-12-31",
        ] {
            let err = parse_start(s, Tz::UTC).unwrap_err();
            assert!(matches!(err, TimeError::OutOfRange { .. }), "{s}: {err:?}");
            let msg = err.to_string();
            assert!(msg.contains(&format!("`{s}`")), "{msg}");
            assert!(msg.contains("2147483647"), "{msg}");
        }
        assert_eq!(start("2038-01-19T03:14:07Z", Tz::UTC), MAX_TIMESTAMP);
        assert_eq!(end("1970-01-01", Tz::UTC), 86_400);
        // The END of 2038-01-18 in UTC is fine, the end of 2038-01-19 is not.
        assert!(parse_end("2038-01-18", Tz::UTC).is_ok());
        assert!(parse_end("2038-01-19", Tz::UTC).is_err());
        // Leap day of a non-leap year is a syntax error, not a range error.
        assert!(matches!(
            parse_end("2027-02-29", Paris),
            Err(TimeError::InvalidDate { .. })
        ));
        assert_eq!(end("2028-02-29", Tz::UTC), utc(2028, 3, 1, 0, 0, 0));
    }

    #[test]
    fn start_vs_end_same_day() {
        // Normal day.
        assert_eq!(
            end("2027-08-31", Paris) - start("2027-08-31", Paris),
            86_400
        );
        // Spring forward: 23-hour day.
        assert_eq!(
            end("2027-03-28", Paris) - start("2027-03-28", Paris),
            82_800
        );
        // Fall back: 25-hour day.
        assert_eq!(
            end("2027-10-31", Paris) - start("2027-10-31", Paris),
            90_000
        );
        // Day precision on both.
        assert_eq!(
            parse_start("2027-08-31", Paris).unwrap().precision,
            Precision::Day
        );
        // Non-day forms mean the same for start and end.
        for s in ["2027-08-31T10:00", "2027-08-31T10:00Z", "@1788213600"] {
            assert_eq!(parse_start(s, Paris).unwrap(), parse_end(s, Paris).unwrap());
        }
    }

    #[test]
    fn resolve_zone_with_sources() {
        assert_eq!(
            resolve_zone_with(Some("Europe/Paris"), Some("America/Havana")).unwrap(),
            (Paris, ZoneSource::Flag)
        );
        // Flag wins even over an invalid TZ.
        assert_eq!(
            resolve_zone_with(Some("UTC"), Some("Not/AZone")).unwrap(),
            (Tz::UTC, ZoneSource::Flag)
        );
        assert_eq!(
            resolve_zone_with(None, Some(":Europe/Paris")).unwrap(),
            (Paris, ZoneSource::TzEnv)
        );
        assert_eq!(
            resolve_zone_with(None, Some("America/Havana")).unwrap(),
            (Havana, ZoneSource::TzEnv)
        );
        assert_eq!(
            resolve_zone_with(None, Some(":/usr/share/zoneinfo/Europe/Paris")).unwrap(),
            (Paris, ZoneSource::TzEnv)
        );
        // Case-insensitive fallback.
        assert_eq!(
            resolve_zone_with(Some("europe/paris"), None).unwrap(),
            (Paris, ZoneSource::Flag)
        );

        let err = resolve_zone_with(None, Some("CET-1CEST,M3.5.0,M10.5.0/3")).unwrap_err();
        assert!(matches!(err, TimeError::UnknownEnvZone { .. }), "{err:?}");
        assert!(
            err.to_string().contains("`CET-1CEST,M3.5.0,M10.5.0/3`"),
            "{err}"
        );
        assert!(err.to_string().contains("TZ"), "{err}");

        let err = resolve_zone_with(Some("Europe/Pariss"), Some("Europe/Paris")).unwrap_err();
        assert!(matches!(err, TimeError::UnknownZone { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "unknown time zone `Europe/Pariss` (expected an IANA name such as Europe/Paris)"
        );
        assert!(resolve_zone_with(Some(""), None).is_err());

        // Empty TZ counts as unset: falls through to the system / UTC default.
        for env in [None, Some(""), Some(":")] {
            let (_, source) = resolve_zone_with(None, env).unwrap();
            assert!(
                matches!(source, ZoneSource::System | ZoneSource::DefaultUtc),
                "{source:?}"
            );
        }
        // resolve_zone itself never panics, whatever the environment.
        let _ = resolve_zone(Some("UTC")).unwrap();
    }

    #[test]
    fn system_zone_detection() {
        let p = |s: &'static str| Some(Path::new(s));
        assert_eq!(
            system_zone(p("/usr/share/zoneinfo/Europe/Paris"), None),
            Some(Paris)
        );
        assert_eq!(
            system_zone(p("../usr/share/zoneinfo/Etc/UTC"), None),
            Some(Tz::Etc__UTC)
        );
        assert_eq!(
            system_zone(p("/usr/share/zoneinfo/posix/America/Havana"), None),
            Some(Havana)
        );
        assert_eq!(
            system_zone(p("/var/db/timezone/zoneinfo/Europe/Paris"), None),
            Some(Paris)
        );
        // Link unusable: /etc/timezone's first line.
        assert_eq!(
            system_zone(p("/etc/somewhere"), Some("America/Havana\nignored\n")),
            Some(Havana)
        );
        assert_eq!(system_zone(None, Some("  Europe/Paris  \n")), Some(Paris));
        assert_eq!(
            system_zone(p("/usr/share/zoneinfo/Bogus"), Some("Bogus")),
            None
        );
        assert_eq!(system_zone(None, Some("")), None);
        assert_eq!(system_zone(None, None), None);
    }

    #[test]
    fn format_iso_examples() {
        assert_eq!(
            format_iso(1_819_749_600, Paris),
            "2027-09-01T00:00:00+02:00"
        );
        assert_eq!(
            format_iso(1_788_213_600, Paris),
            "2026-09-01T00:00:00+02:00"
        );
        assert_eq!(
            format_iso(1_788_213_600, Tz::UTC),
            "2026-08-31T22:00:00+00:00"
        );
        assert_eq!(
            format_iso(MAX_TIMESTAMP, Tz::UTC),
            "2038-01-19T03:14:07+00:00"
        );
        assert_eq!(
            format_iso(utc(2027, 1, 15, 23, 0, 5), Paris),
            "2027-01-16T00:00:05+01:00"
        );
        assert_eq!(
            format_iso(utc(2027, 8, 31, 22, 0, 0), Havana),
            "2027-08-31T18:00:00-04:00"
        );
        assert_eq!(format_iso(i64::MAX, Paris), format!("@{}", i64::MAX));
        // Round trip through the parser.
        let e = end("2027-08-31", Paris);
        assert_eq!(start(&format_iso(e, Paris), Havana), e);
    }

    #[test]
    fn now_is_sane() {
        let now = now_epoch();
        assert!(now > utc(2020, 1, 1, 0, 0, 0), "{now}");
    }

    #[test]
    fn zone_source_display() {
        assert_eq!(ZoneSource::Flag.to_string(), "--timezone");
        assert_eq!(ZoneSource::DefaultUtc.to_string(), "default (UTC)");
    }
}
