//! tar sizes in GNU base-256 (binary): Moodle's extractor reads sizes as octal only (`octdec` in
//! `tgz_extractor.php`), so it would take another size and read the data as headers. Every command refuses the
//! archive alike, naming the member.

use super::*;

/// The fixture with `member`'s size written in base-256 (the same value).
fn base256_size(case: &str, member: &str) -> Case {
    let mut m = members();
    reindex(&mut m);
    let tar = tar_with(&m, |name, h| {
        if name == member {
            let size = u64::from_str_radix(
                std::str::from_utf8(&h[124..135])
                    .unwrap()
                    .trim_matches('\0'),
                8,
            )
            .unwrap();
            h[124..136].fill(0);
            h[124] = 0x80;
            h[128..136].copy_from_slice(&size.to_be_bytes());
            reseal(h);
        }
    });
    Case::new(case, &gz(&tar))
}

/// `course/roles.xml` (read by the rules) with a base-256 size.
#[test]
fn base256_size_read_member() {
    let c = base256_size("base256_read.mbz", "course/roles.xml");
    c.refused_everywhere(&["`course/roles.xml`", "base-256"]);
    c.verify_fails(&["tar-ustar-headers"]);
}

/// `files.xml` (copied untouched) with a base-256 size.
#[test]
fn base256_size_copied_member() {
    let c = base256_size("base256_copied.mbz", "files.xml");
    c.refused_everywhere(&["`files.xml`", "base-256"]);
    c.verify_fails(&["tar-ustar-headers"]);
}
