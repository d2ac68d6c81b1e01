//! Hostile member names, links, devices and FIFOs.

use super::*;

// ---------------------------------------------------------------------------------------------------------
// Member names.

/// A member named `../x`.
#[test]
fn path_dot_dot() {
    let (c, o) = hostile_path_tgz("path_dotdot.mbz", "../x");
    path_outcome(&c, &o, "../x");
}

/// A member named `/etc/x`.
#[test]
fn path_absolute() {
    let (c, o) = hostile_path_tgz("path_absolute.mbz", "/etc/x");
    path_outcome(&c, &o, "/etc/x");
}

/// A member named `a/../../x`.
#[test]
fn path_inner_dot_dot() {
    let (c, o) = hostile_path_tgz("path_inner_dotdot.mbz", "a/../../x");
    path_outcome(&c, &o, "a/../../x");
}

/// A member named `..\..\x` (backslashes).
#[test]
fn path_backslashes() {
    let (c, o) = hostile_path_tgz("path_backslash.mbz", "..\\..\\x");
    path_outcome(&c, &o, "..\\..\\x");
}

/// A member whose name holds a line break (as a GNU long-name record read as a name can): no name Moodle writes.
#[test]
fn path_line_break() {
    let (c, o) = hostile_path_tgz("path_line_break.mbz", "course/a\nb.xml");
    let err = stderr(&o);
    assert!(err.contains("holds a control character"), "{err}");
    path_outcome(&c, &o, "course/a\\x0ab.xml");
}

/// What a hostile member name gives: convert refuses the archive naming the member (nothing written), inspect
/// warns, `verify` fails the name.
fn path_outcome(c: &Case, o: &Output, path: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    c.names(&err, &[path]);
    assert!(listing(&c.out_dir()).is_empty());
    c.plan_fails(&[path]);
    c.inspect_warns(path);
    c.verify_fails(&["member-paths"]);
}

/// A tar member whose path (from a pax `path` record) holds a NUL byte.
#[test]
fn path_nul_byte_tar() {
    let mut m = members();
    reindex(&mut m);
    let record = b"course/nul\0byte.xml";
    let line_len = 1 + 1 + 5 + record.len() + 1; // "NN path=...\n"
    let mut pax = format!("{} path=", line_len + 1).into_bytes();
    pax.extend_from_slice(record);
    pax.push(b'\n');
    assert_eq!(pax.len(), line_len + 1);
    let c = Case::with("path_nul_tar.mbz", |p| {
        write_tgz_with(
            p,
            &m,
            &[
                (ustar("PaxHeader/x", b'x', pax.len() as u64), pax.clone()),
                (ustar("course/nulbyte.xml", b'0', 4), b"<a/>".to_vec()),
            ],
        );
    });
    c.convert_fails(&["course/nul\\0byte.xml", "NUL"]);
    c.plan_fails(&["course/nul\\0byte.xml"]);
    c.inspect_warns("course/nul\\0byte.xml");
}

/// A zip member whose name holds a NUL byte.
#[test]
fn path_nul_byte_zip() {
    let mut b = zip_of(&[("course/nulXbyte.xml", b"<a/>".to_vec())]);
    zip_rename(&mut b, "course/nulXbyte.xml", b"course/nul\0byte.xml");
    let c = Case::new("path_nul_zip.mbz", &b);
    c.convert_fails(&["course/nul\\0byte.xml", "NUL"]);
    c.plan_fails(&["course/nul\\0byte.xml"]);
    c.inspect_warns("course/nul\\0byte.xml");
    c.verify_fails(&["member-paths"]);
}

/// A zip member whose name is `..\x` (backslash) and one named `../y`.
#[test]
fn path_hostile_zip() {
    let mut b = zip_of(&[
        ("..Xx", b"hostile\n".to_vec()),
        ("../y", b"hostile\n".to_vec()),
    ]);
    zip_rename(&mut b, "..Xx", b"..\\x");
    let c = Case::new("path_hostile_zip.mbz", &b);
    let o = c.convert();
    match o.status.code() {
        Some(0) => {
            let kept: Vec<String> = util::zip_raw(&c.out()).into_iter().map(|e| e.0).collect();
            assert!(kept.contains(&"..\\x".to_owned()) && kept.contains(&"../y".to_owned()));
        }
        code => {
            assert_eq!(code, Some(2), "{}", stderr(&o));
            c.names(&stderr(&o), &[]);
            assert!(listing(&c.out_dir()).is_empty());
        }
    }
    c.verify_fails(&["member-paths"]);
}

// ---------------------------------------------------------------------------------------------------------
// Links, devices, FIFOs: Moodle's extractor ignores typeflags 1, 2, 3, 4, 6 (moodle-format.md §1.3), and no backup
// Moodle writes holds one: convert refuses the archive naming the member, inspect warns, verify fails it.

fn special_case(case: &str, flag: u8, link: &str) {
    let mut m = members();
    reindex(&mut m);
    let c = Case::with(case, |p| {
        write_tgz_with(p, &m, &[(special("files/special", flag, link), Vec::new())]);
    });
    let _ = link;
    c.convert_fails(&["files/special"]);
    c.plan_fails(&["files/special"]);
    c.inspect_warns("files/special");
    c.verify_fails(&["member-paths"]);
}

/// A symlink entry pointing at `/etc/passwd`.
#[test]
fn symlink_entry() {
    special_case("symlink.mbz", b'2', "/etc/passwd");
}

/// A hard-link entry pointing outside (`../../etc/shadow`).
#[test]
fn hardlink_entry() {
    special_case("hardlink.mbz", b'1', "../../etc/shadow");
}

/// A character-device entry (1, 3: /dev/null).
#[test]
fn device_entry() {
    special_case("device.mbz", b'3', "");
}

/// A FIFO entry.
#[test]
fn fifo_entry() {
    special_case("fifo.mbz", b'6', "");
}

/// A contiguous-file entry (type `7`): a file to most readers, skipped by Moodle's extractor as links are.
#[test]
fn contiguous_file_entry() {
    special_case("contiguous.mbz", b'7', "");
}

/// A type-`7` member with data, named as a document the rules read: Moodle's extractor skips the header and reads
/// the data as the next headers (and stops there), so the member is never restored. Every writing command refuses
/// the archive, naming it; `verify` places the bad header after it instead of printing its data as a name.
#[test]
fn a_contiguous_file_with_data_is_not_read_as_a_member() {
    let mut m = members();
    reindex(&mut m);
    let data = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<groups>\n</groups>".to_vec();
    let c = Case::with("contiguous_data.mbz", |p| {
        let h = crate::util::ustar("course/extra.xml", b'7', data.len() as u64);
        write_tgz_with(p, &m, &[(h, data.clone())]);
    });
    c.convert_fails(&["`course/extra.xml`", "contiguous file"]);
    c.plan_fails(&["`course/extra.xml`"]);
    let o = c.run(&["verify", c.input.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("the header after member `course/extra.xml` is not a POSIX ustar header"),
        "{out}"
    );
    assert!(!out.contains("<groups>"), "{out}");
}

/// A symlink named `course/link.xml`: `verify` judges it as the link it is (no data, nothing to parse), not as
/// an empty XML document; every command but `inspect` and `verify` refuses the archive naming it.
#[test]
fn symlink_named_xml_is_judged_as_a_link() {
    let mut m = members();
    reindex(&mut m);
    let c = Case::with("symlink_xml.mbz", |p| {
        write_tgz_with(
            p,
            &m,
            &[(special("course/link.xml", b'2', "/etc/passwd"), Vec::new())],
        );
    });
    c.convert_fails(&["`course/link.xml`", "is a link"]);
    c.plan_fails(&["`course/link.xml`", "is a link"]);
    c.inspect_warns("course/link.xml");
    let o = c.run(&["verify", c.input.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.lines().any(|l| l.contains("member-paths")
            && l.contains("`course/link.xml` is a symbolic link to `/etc/passwd`")),
        "{out}"
    );
    assert!(!out.contains("root elements"), "{out}");
}
