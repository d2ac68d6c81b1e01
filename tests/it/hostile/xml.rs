//! `course/enrolments.xml` content and missing members.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// course/enrolments.xml content.

/// Cut in the middle of an element.
#[test]
fn enrolments_malformed() {
    let x = enrolments();
    let cut = x.find("<enrol id=\"232\">").unwrap() + 200;
    let c = Case::tgz(
        "xml_malformed.mbz",
        with_enrolments(x.as_bytes()[..cut].to_vec()),
    );
    c.convert_fails(&[ENROL, "malformed"]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["xml-well-formed"]);
}

/// A DOCTYPE with nested entity declarations (billion laughs), one used in an instance's `<name>`.
#[test]
fn enrolments_billion_laughs() {
    let x = enrolments();
    let mut dtd = String::from("<!DOCTYPE enrolments [\n  <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "  <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push_str("]>\n");
    let x = replace_once(&x, "<enrolments>", &format!("{dtd}<enrolments>"));
    let x = replace_once(
        &x,
        "<enrol>cohort</enrol>\n      <status>0</status>\n      <name>$@NULL@$</name>",
        "<enrol>cohort</enrol>\n      <status>0</status>\n      <name>&lol9;</name>",
    );
    let c = Case::tgz("xml_billion_laughs.mbz", with_enrolments(x.into_bytes()));
    c.convert_fails(&[ENROL, "DOCTYPE"]);
    c.verify_fails(&["xml-well-formed"]);
}

/// The whole member in UTF-16LE with a BOM.
#[test]
fn enrolments_utf16() {
    let x = enrolments().replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
    let mut b = vec![0xff, 0xfe];
    for u in x.encode_utf16() {
        b.extend_from_slice(&u.to_le_bytes());
    }
    let c = Case::tgz("xml_utf16.mbz", with_enrolments(b));
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["xml-well-formed"]);
}

/// Invalid UTF-8 bytes in a converted instance's `<name>`.
#[test]
fn enrolments_invalid_utf8() {
    let x = enrolments();
    let x = replace_once(
        &x,
        "<enrol>cohort</enrol>\n      <status>0</status>\n      <name>$@NULL@$</name>",
        "<enrol>cohort</enrol>\n      <status>0</status>\n      <name>BAD</name>",
    );
    let mut b = x.into_bytes();
    let at = b.windows(3).position(|w| w == b"BAD").unwrap();
    b.splice(at..at + 3, [0xc3, 0x28, 0xff, 0xfe]);
    let c = Case::tgz("xml_invalid_utf8.mbz", with_enrolments(b));
    c.convert_fails(&[ENROL]);
    c.verify_fails(&["xml-well-formed"]);
}

/// A converted enrolment whose `<userid>` is not an integer.
#[test]
fn enrolments_non_integer_userid() {
    let x = replace_once(
        &enrolments(),
        "<userid>8</userid>",
        "<userid>eight</userid>",
    );
    let c = Case::tgz("xml_userid_text.mbz", with_enrolments(x.into_bytes()));
    c.convert_fails(&[ENROL, "userid"]);
    c.verify_fails(&["enrol-integers"]);
}

/// A converted instance whose `<enrol id>` is not an integer.
#[test]
fn enrolments_non_integer_instance_id() {
    let x = replace_once(&enrolments(), "<enrol id=\"232\">", "<enrol id=\"abc\">");
    let c = Case::tgz("xml_enrol_id_text.mbz", with_enrolments(x.into_bytes()));
    c.convert_fails(&[ENROL, "abc"]);
}

/// A converted enrolment whose `<timeend>` overflows 64 bits.
#[test]
fn enrolments_overflowing_time() {
    let x = replace_once(
        &enrolments(),
        USER8,
        "<userid>8</userid>\n          <timestart>0</timestart>\n          <timeend>99999999999999999999</timeend>",
    );
    let c = Case::tgz("xml_time_overflow.mbz", with_enrolments(x.into_bytes()));
    c.convert_fails(&[ENROL, "timeend"]);
    c.verify_fails(&["enrol-integers"]);
}

/// A converted enrolment whose `<userid>` and `<enrolment id>` overflow 64 bits.
#[test]
fn enrolments_overflowing_ids() {
    let x = replace_once(
        &enrolments(),
        "<enrolment id=\"6035\">",
        "<enrolment id=\"99999999999999999999\">",
    );
    let x = replace_once(
        &x,
        "<userid>8</userid>",
        "<userid>99999999999999999999</userid>",
    );
    let c = Case::tgz("xml_id_overflow.mbz", with_enrolments(x.into_bytes()));
    c.convert_fails(&[ENROL, "userid"]);
    c.verify_fails(&["enrol-integers"]);
}

/// A converted enrolment with negative times (start a day before 1970, end one second before). Moodle stores
/// them (signed BIGINT) and the enrolment gives no access (`timeend` is neither 0 nor in the future). The
/// student is stamped with the --until end like every converted student; the start is kept, never turned into
/// "no end".
#[test]
fn enrolments_negative_times() {
    let x = replace_once(
        &enrolments(),
        USER8,
        "<userid>8</userid>\n          <timestart>-86400</timestart>\n          <timeend>-1</timeend>",
    );
    let c = Case::tgz("xml_negative_times.mbz", with_enrolments(x.into_bytes()));
    c.convert_ok();
    let out = util::entries(&c.out());
    let e = out.iter().find(|e| e.path == ENROL).unwrap();
    let x = String::from_utf8_lossy(&e.data);
    let at = x.find("<userid>8</userid>").expect("user 8 kept");
    let rest = &x[at..];
    assert!(
        rest.starts_with("<userid>8</userid>\n          <timestart>-86400</timestart>"),
        "{}",
        &rest[..120]
    );
    assert!(
        !rest[..120].contains("<timeend>0</timeend>"),
        "{}",
        &rest[..120]
    );
}

/// An `<enrolment>` for user 999999, absent from users.xml: Moodle's restore skips it (no user mapping), so
/// the archive converts; `verify` reports the unknown user.
#[test]
fn enrolments_unknown_user() {
    let x = replace_once(
        &enrolments(),
        "<userid>8</userid>",
        "<userid>999999</userid>",
    );
    let c = Case::tgz("xml_unknown_user.mbz", with_enrolments(x.into_bytes()));
    c.convert_ok();
    c.inspect_ok();
    c.verify_warns(&["enrol-users-known"]);
}

// ---------------------------------------------------------------------------------------------------------
// Missing members.

/// No `moodle_backup.xml`: not a Moodle backup.
#[test]
fn missing_moodle_backup_xml() {
    let m: Vec<RawMember> = members()
        .into_iter()
        .filter(|m| m.0 != "moodle_backup.xml")
        .collect();
    let c = Case::tgz("no_moodle_backup.mbz", m);
    c.convert_fails(&["moodle_backup.xml"]);
    c.inspect_fails(&["moodle_backup.xml"]);
    c.verify_fails(&["moodle-backup-header", "required-files"]);
}

/// No `course/enrolments.xml` (a backup without enrolment methods): nothing to convert, said so, exit 0, and
/// the output holds every member unchanged.
#[test]
fn missing_enrolments_xml() {
    let m: Vec<RawMember> = members().into_iter().filter(|m| m.0 != ENROL).collect();
    let c = Case::tgz("no_enrolments.mbz", m);
    let err = c.convert_ok();
    assert!(err.contains("nothing to convert"), "{err}");
    // Every member identical; the index is computed afresh (the generated one carries made-up mtimes).
    let strip = |p: &Path| -> Vec<(String, Vec<u8>)> {
        util::entries(p)
            .into_iter()
            .filter(|e| e.path != ".ARCHIVE_INDEX")
            .map(|e| (e.path, e.data))
            .collect()
    };
    assert!(strip(&c.input) == strip(&c.out()), "members changed");
    c.inspect_ok();
    // Its cohort role assignments now point at no <enrol id>: restore drops them, and verify warns so.
    c.verify_warns(&["enrol-components"]);
}

/// A DOCTYPE with entity declarations in a member the tool rewrites: refused, as verify refuses it.
#[test]
fn enrolments_doctype_is_refused_by_convert() {
    let x = enrolments().replacen(
        "<enrolments>",
        "<!DOCTYPE enrolments [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n<enrolments>",
        1,
    );
    let c = Case::tgz("xml_doctype.mbz", with_enrolments(x.into_bytes()));
    c.convert_fails(&[ENROL, "DOCTYPE"]);
    c.verify_fails(&["xml-well-formed"]);
}

/// A 20-digit `<userid>` does not fit Moodle's 64-bit columns: verify's integer check fails.
#[test]
fn verify_refuses_overflowing_integers() {
    let x = replace_once(
        &enrolments(),
        "<userid>8</userid>",
        "<userid>99999999999999999999</userid>",
    );
    let c = Case::tgz("xml_userid_huge.mbz", with_enrolments(x.into_bytes()));
    c.verify_fails(&["enrol-integers"]);
}
