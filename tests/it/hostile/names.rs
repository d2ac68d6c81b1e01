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

/// What a hostile member name gives: the tool never extracts, so the member is either refused by name or kept
/// byte for byte in the output; `verify` flags the name on the input.
fn path_outcome(c: &Case, o: &Output, path: &str) {
    let err = stderr(o);
    match o.status.code() {
        Some(0) => {
            assert_eq!(listing(&c.out_dir()), ["out.mbz"]);
            let kept = util::entries(&c.out());
            let m = kept.iter().find(|e| e.path == path);
            assert_eq!(
                m.map(|e| e.data.as_slice()),
                Some(&b"hostile\n"[..]),
                "{path} not kept"
            );
        }
        code => {
            assert_eq!(code, Some(2), "{err}");
            c.names(&err, &[path]);
            assert!(listing(&c.out_dir()).is_empty());
        }
    }
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
    c.convert_fails(&["course/nul"]);
}

/// A zip member whose name holds a NUL byte.
#[test]
fn path_nul_byte_zip() {
    let mut b = zip_of(&[("course/nulXbyte.xml", b"<a/>".to_vec())]);
    zip_rename(&mut b, "course/nulXbyte.xml", b"course/nul\0byte.xml");
    let c = Case::new("path_nul_zip.mbz", &b);
    c.convert_fails(&["course/nul"]);
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
// Links, devices, FIFOs: Moodle's extractor ignores typeflags 1, 2, 3, 4, 6 (moodle-format.md §1.3). The tool
// never extracts: it keeps them in the output as they are (same typeflag and link name, out of the index).

fn special_case(case: &str, flag: u8, link: &str) {
    let mut m = members();
    reindex(&mut m);
    let c = Case::with(case, |p| {
        write_tgz_with(p, &m, &[(special("files/special", flag, link), Vec::new())]);
    });
    c.convert_ok();
    let out = util::tar_headers(&c.out());
    let h = out
        .iter()
        .find(|h| h[..14] == *b"files/special\0")
        .expect("special entry kept");
    assert_eq!(h[156], flag);
    assert_eq!(&h[157..157 + link.len()], link.as_bytes());
    let index = util::entries(&c.out())
        .into_iter()
        .find(|e| e.path == INDEX)
        .unwrap();
    assert!(!String::from_utf8_lossy(&index.data).contains("files/special"));
    c.inspect_ok();
    c.verify_passes();
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
