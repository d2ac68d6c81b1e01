//! One inflate per tar.gz (issue 20): a large archive's output copies the input's compressed blocks wherever its
//! bytes are the input's, and compresses only around the index, the rewritten members and the end marker.
//! Whatever the input's deflate (levels 1, 6 and 9 from zlib, Moodle 4.3's own, our parallel gzip), the output
//! must inflate to exactly the tar stream the usual write gives (`--level 5` takes that path), reuse the input's
//! bytes, verify against its input, and give the same bytes when converted again. Inputs whose records the ustar
//! writer would not write as they are (`./` names, several gzip members) are written the usual way.

use std::io::{Read, Write};
use std::path::Path;

use mbz_enrol::archive::pgzip::ParGz;
use mbz_enrol::archive::tar::{self, Member};

use crate::util::{raw_members, root, shared, tempdir};
use crate::xml_shapes::{ok, verify_against};

const DATED: [&str; 6] = [
    "--until",
    "2027-08-31",
    "--timezone",
    "Europe/Paris",
    "--from",
    "cohort",
];

/// Deterministic file content: course-like text, or bytes that do not compress.
fn content(i: usize, len: usize) -> Vec<u8> {
    let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if i % 3 != 2 {
            // Words and numbers enough that zlib's blocks stay short (as in real course text).
            const WORDS: [&str; 16] = [
                "course",
                "week",
                "quiz",
                "forum",
                "reading",
                "lecture",
                "notes",
                "grade",
                "student",
                "teacher",
                "assignment",
                "due",
                "section",
                "topic",
                "resource",
                "page",
            ];
            let w = |k: u64| WORDS[(x >> k) as usize % 16];
            out.extend_from_slice(
                format!(
                    "<p id=\"{}\">{} {} {}: {}</p>\n",
                    x % 100_003,
                    w(3),
                    w(9),
                    w(17),
                    x % 9973
                )
                .as_bytes(),
            );
        } else {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    out.truncate(len);
    out
}

/// The members of `fixtures/coh_basic.mbz` (a real Moodle 4.3 backup) followed by `files` files of 64 KiB, as the
/// ustar writer writes them, the tar stream compressed by `gz`.
fn build(path: &Path, files: usize, gz: impl FnOnce(&[u8]) -> Vec<u8>) {
    build_with(path, files, 0, true, gz);
}

/// [`build`] with `small` more files of 100 bytes first (a long index) and the index left out when `!index`.
fn build_with(
    path: &Path,
    files: usize,
    small: usize,
    index: bool,
    gz: impl FnOnce(&[u8]) -> Vec<u8>,
) {
    let mut members = raw_members(&root().join("fixtures/coh_basic.mbz"));
    for i in 0..small {
        members.push((format!("files/s{i:05}/{i:040x}"), b'0', content(i, 100)));
    }
    for i in 0..files {
        members.push((format!("files/{i:03}/{i:040x}"), b'0', content(i, 64 << 10)));
    }
    let list: Vec<(Member, Vec<u8>)> = members
        .into_iter()
        .filter(|m| m.0 != ".ARCHIVE_INDEX")
        .map(|(name, flag, data)| {
            let m = if flag == b'5' {
                Member::dir(name.as_bytes(), 0o755, tar::DEFAULT_TIMESTAMP)
            } else {
                Member::file(name.as_bytes(), data.len() as u64, 0o644, 1_700_000_000)
            };
            (m, data)
        })
        .collect();
    let index_wanted = index;
    let index = tar::index_of(
        list.iter()
            .map(|(m, _)| (&m.path[..], m.kind, m.size, m.mtime)),
    );
    let mut w = tar::Writer::new(Vec::new());
    if index_wanted {
        w.append_bytes(&tar::index_member(index.len() as u64), &index)
            .unwrap();
    }
    for (m, data) in &list {
        w.append_bytes(m, data).unwrap();
    }
    let stream = w.finish().unwrap();
    std::fs::write(path, gz(&stream)).unwrap();
}

fn zlib(level: u32) -> impl FnOnce(&[u8]) -> Vec<u8> {
    move |tar| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(tar).unwrap();
        e.finish().unwrap()
    }
}

fn inflated(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(&std::fs::read(path).unwrap()[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// How many bytes of `input`'s compressed stream end `output`'s too (the gzip trailers aside): the blocks after
/// the last change, copied as they are.
fn copied(input: &Path, output: &Path) -> usize {
    let [a, b] = [input, output].map(|p| std::fs::read(p).unwrap());
    let (a, b) = (&a[..a.len() - 8], &b[..b.len() - 8]);
    a.iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// The spliced output of `input` against the usual write's (`--level 5`): the same tar stream, the input's
/// bytes reused (at least `share` of them), a verified output, and converting the output again changes no byte.
fn check(input: &Path, share: f64) {
    let dir = tempdir();
    let (spliced, usual, again) = (
        dir.path().join("spliced.mbz"),
        dir.path().join("usual.mbz"),
        dir.path().join("again.mbz"),
    );
    ok("convert", input, Some(&spliced), &DATED);
    ok(
        "convert",
        input,
        Some(&usual),
        &[&DATED[..], &["--level", "5"]].concat(),
    );
    let name = input.display();
    assert!(
        inflated(&spliced) == inflated(&usual),
        "{name}: the spliced output holds the usual write's tar stream"
    );
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64;
    let n = copied(input, &spliced);
    assert!(
        n as f64 >= share * size(input),
        "{name}: {n} bytes of the input copied"
    );
    assert!(
        copied(input, &usual) < 1024,
        "{name}: the usual write compresses again"
    );
    // The input's size, or the usual write's when the input lacked the index the output gains.
    assert!(
        size(&spliced) <= size(input).max(size(&usual)) * 1.01,
        "{name}: output size"
    );
    verify_against(&spliced, input);
    // Converted again (nothing left to convert): every byte the same.
    ok("convert", &spliced, Some(&again), &DATED);
    assert!(
        std::fs::read(&again).unwrap() == std::fs::read(&spliced).unwrap(),
        "{name}: converting twice equals converting once"
    );
}

#[test]
fn deflate_of_any_level_is_reused() {
    let dir = tempdir();
    // zlib-rs's level 1 (zlib-ng's deflate_quick) writes one block for the whole stream: nothing to copy there.
    for level in [2, 6, 9] {
        let input = dir.path().join(format!("zlib{level}.mbz"));
        build(&input, 48, zlib(level));
        check(&input, 0.8);
    }
}

/// An index over many deflate blocks (captures asked for before their bytes are inflated), and an input with no
/// index (the new one inserted before the first member).
#[test]
fn long_or_missing_index_is_reused() {
    let dir = tempdir();
    for (small, index) in [(6000, true), (6000, false), (0, false)] {
        let input = dir.path().join(format!("index-{small}-{index}.mbz"));
        build_with(&input, 48, small, index, zlib(6));
        check(&input, 0.8);
    }
}

/// Our own parallel gzip: sync flushes every 128 KiB, incompressible blocks stored.
#[test]
fn parallel_gzip_is_reused() {
    let dir = tempdir();
    let input = dir.path().join("pgzip.mbz");
    build(&input, 48, |tar| {
        let mut gz = ParGz::new(Vec::new(), 6, 2);
        gz.write_all(tar).unwrap();
        gz.finish().unwrap()
    });
    check(&input, 0.8);
}

/// A real Moodle 4.3 full backup (8.9 MB): Moodle's own gzip and records.
#[test]
fn moodle_full_backup_is_reused() {
    let Some(dir) = shared("moodle43") else {
        return;
    };
    check(&dir.join("full.mbz"), 0.8);
}

/// Inputs the ustar writer would not write as they are: written the usual way, the same tar stream as
/// `--level 5` gives.
#[test]
fn other_inputs_are_written_the_usual_way() {
    let dir = tempdir();
    let plain = dir.path().join("plain.tar");
    build(&plain, 40, |tar| tar.to_vec());
    let tar_bytes = std::fs::read(&plain).unwrap();
    // Two gzip members.
    let half = tar_bytes.len() / 1024 * 512;
    let two = dir.path().join("two-members.mbz");
    let mut bytes = zlib(6)(&tar_bytes[..half]);
    bytes.extend(zlib(6)(&tar_bytes[half..]));
    std::fs::write(&two, bytes).unwrap();
    // A header written differently: its checksum as 7 octal digits and a NUL (GNU tar's way; the ustar writer
    // writes 6 digits, a NUL and a space).
    let odd = dir.path().join("checksum.mbz");
    let mut edited = tar_bytes.clone();
    let at = tar_bytes.len() / 2 / 512 * 512;
    let header = (0..)
        .map(|k| at + k * 512)
        .find(|&h| &edited[h + 257..h + 262] == b"ustar")
        .unwrap();
    let sum: u32 = edited[header..header + 148]
        .iter()
        .chain(&edited[header + 156..header + 512])
        .map(|&b| u32::from(b))
        .sum::<u32>()
        + 8 * u32::from(b' ');
    edited[header + 148..header + 156].copy_from_slice(format!("{sum:07o}\0").as_bytes());
    std::fs::write(&odd, zlib(6)(&edited)).unwrap();
    for input in [&two, &odd] {
        let stem = input.file_stem().unwrap().to_str().unwrap();
        let (a, b) = (
            dir.path().join(format!("{stem}.a.mbz")),
            dir.path().join(format!("{stem}.b.mbz")),
        );
        ok("convert", input, Some(&a), &DATED);
        ok(
            "convert",
            input,
            Some(&b),
            &[&DATED[..], &["--level", "5"]].concat(),
        );
        assert!(
            copied(input, &a) < 1024,
            "{}: written the usual way",
            input.display()
        );
        assert!(inflated(&a) == inflated(&b), "{}", input.display());
        verify_against(&a, input);
    }
}

/// A large tar.gz damaged anywhere (cut short, a flipped byte in its deflate data or its CRC, bytes after it):
/// exit 2 naming the archive, nothing written, never a panic.
#[test]
fn damaged_large_archives_fail_cleanly() {
    let dir = tempdir();
    let good = dir.path().join("good.mbz");
    build(&good, 40, zlib(6));
    let bytes = std::fs::read(&good).unwrap();
    let n = bytes.len();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("cut", bytes[..n / 2].to_vec()),
        ("cut-trailer", bytes[..n - 3].to_vec()),
        ("junk-after", [&bytes[..], b"junk after"].concat()),
    ];
    for (name, at) in [
        ("flip-early", n / 10),
        ("flip-middle", n / 2),
        ("flip-crc", n - 6),
    ] {
        let mut b = bytes.clone();
        b[at] ^= 0x55;
        cases.push((name, b));
    }
    for (name, b) in cases {
        let input = dir.path().join(format!("{name}.mbz"));
        std::fs::write(&input, b).unwrap();
        let out = dir.path().join(format!("{name}.out.mbz"));
        let o = crate::util::run(&[
            "convert",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--until",
            "2027-08-31",
            "--timezone",
            "Europe/Paris",
        ]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(&format!("{name}.mbz")), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!out.exists(), "{name}: nothing written");
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                let p = e.as_ref().unwrap().file_name();
                let p = p.to_string_lossy();
                p.starts_with(&format!(".{name}")) || p.contains(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0, "{name}: no temp file left");
    }
}
