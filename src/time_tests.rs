//! Unit tests of [`super`]: date forms, zones, DST gaps and folds, ranges.

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

/// Local midnight of that day in Havana, as chrono sees it (none in a gap, two in a fold).
fn havana_midnight(y: i32, m: u32, d: u32) -> LocalResult<chrono::DateTime<chrono_tz::Tz>> {
    let day = NaiveDate::from_ymd_opt(y, m, d).unwrap();
    Havana.from_local_datetime(&day.and_time(NaiveTime::MIN))
}

#[test]
fn midnight_gap_havana() {
    // Cuba springs forward at 00:00 (-05:00 -> -04:00): 2027-03-14T00:00 does not exist.
    assert!(matches!(havana_midnight(2027, 3, 14), LocalResult::None));
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
    assert!(matches!(
        havana_midnight(2027, 11, 7),
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
    for part in [
        "2027-10-31T02:30:00+02:00",
        "2027-10-31T02:30:00+01:00",
        "Europe/Paris",
        "earlier",
    ] {
        assert!(w.contains(part), "{w}");
    }
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
    // MBZ_TIMEZONE comes before TZ, after the flag; an empty one counts as unset; a bad one is named.
    assert_eq!(
        resolve_zone_from(None, Some("America/Havana"), Some("Europe/Paris")).unwrap(),
        (Havana, ZoneSource::ZoneEnv)
    );
    assert_eq!(
        resolve_zone_from(Some("Europe/Paris"), Some("America/Havana"), None).unwrap(),
        (Paris, ZoneSource::Flag)
    );
    assert_eq!(
        resolve_zone_from(None, Some(""), Some("Europe/Paris")).unwrap(),
        (Paris, ZoneSource::TzEnv)
    );
    let err = resolve_zone_from(None, Some("Mars/Olympus"), Some("Europe/Paris")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown time zone `Mars/Olympus` in the MBZ_TIMEZONE environment variable (expected an IANA name such as \
         Europe/Paris)"
    );
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
