//! Generated archives: conversion is deterministic, idempotent and verified.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Generated archives.
// ---------------------------------------------------------------------------------------------------------

pub(crate) fn fixture(name: &str) -> PathBuf {
    util::root().join("fixtures").join(name)
}

/// The members of `coh_basic.mbz`, read once.
pub(crate) fn base_members() -> &'static [RawMember] {
    static MEMBERS: OnceLock<Vec<RawMember>> = OnceLock::new();
    MEMBERS.get_or_init(|| raw_members(&fixture("coh_basic.mbz")))
}

/// The fixture's root roles.xml (editingteacher 3, student 5), which every generated assignment uses.
pub(crate) fn fixture_roles() -> &'static str {
    let m = base_members()
        .iter()
        .find(|m| m.0 == ROLES)
        .expect("roles.xml");
    std::str::from_utf8(&m.2).expect("utf-8")
}

/// `coh_basic.mbz` with the generated documents and a fresh index.
pub(crate) fn write_archive(path: &Path, t: &Texts) {
    let mut members = base_members().to_vec();
    for (member, text) in [
        (ENROLMENTS, &t.enrolments),
        (COURSE_ROLES, &t.course_roles),
        (GROUPS, &t.groups),
    ] {
        members
            .iter_mut()
            .find(|m| m.0 == member)
            .unwrap_or_else(|| panic!("{member}"))
            .2 = text.as_bytes().to_vec();
    }
    write_indexed(path, &mut members);
}

/// The four documents of an archive.
pub(crate) fn read_texts(path: &Path) -> Texts {
    let entries = util::entries(path);
    let get = |p: &str| {
        let e = entries
            .iter()
            .find(|e| e.path == p)
            .unwrap_or_else(|| panic!("{p}"));
        String::from_utf8(e.data.clone()).expect("utf-8")
    };
    Texts {
        enrolments: get(ENROLMENTS),
        course_roles: get(COURSE_ROLES),
        roles: get(ROLES),
        groups: get(GROUPS),
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// Converting a generated archive: the same input gives the same bytes, converting the output again gives
    /// the output's bytes, the output verifies against its input, and access stays bounded.
    #[test]
    fn archive_conversion_is_deterministic_idempotent_and_verified(case in case(true)) {
        let dir = tempdir();
        let input = dir.path().join("in.mbz");
        let before = case.render();
        write_archive(&input, &before);
        let o = case.options();
        let (out1, out2, out3) = (
            dir.path().join("out1.mbz"),
            dir.path().join("out2.mbz"),
            dir.path().join("out3.mbz"),
        );
        for (from, to) in [(&input, &out1), (&input, &out2), (&out1, &out3)] {
            let r = mbz_enrol::convert_file(from, Some(to), &o);
            prop_assert!(r.is_ok(), "convert {} failed: {:?}", from.display(), r.err());
        }
        let read = |p: &Path| std::fs::read(p).expect("read output");
        let first = read(&out1);
        prop_assert!(first == read(&out2), "two conversions of one input differ");
        prop_assert!(first == read(&out3), "converting the output again changed it");
        let v = mbz_enrol::verify::verify_file(&out1, Some(&input));
        prop_assert!(v.is_ok(), "verify failed to run: {:?}", v.err());
        let v = v.unwrap();
        prop_assert!(v.passed, "verify failed: {:?}", v.failed().collect::<Vec<_>>());
        let after = read_texts(&out1);
        prop_assert_eq!(&read_texts(&input).enrolments, &before.enrolments);
        access_bounded(&before, &after, &o)?;
        roles_and_groups_kept(&before, &after, &o)?;
    }
}
