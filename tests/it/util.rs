//! Shared helpers for the integration tests: fixture lookup, the binary, temp dirs.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Environment variable set by `.ci/run`: a missing `../shared` is then a failure, not a skip.
pub const REQUIRE_SHARED: &str = "MBZ_REQUIRE_SHARED";

/// The project root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/fixtures/<sub>` if present. When absent: panics under CI (`MBZ_REQUIRE_SHARED` set),
/// otherwise prints that the test is skipped and returns `None`.
pub fn shared(sub: &str) -> Option<PathBuf> {
    let dir = root().join("..").join("shared").join("fixtures").join(sub);
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os(REQUIRE_SHARED).is_some() {
        panic!("{} is missing and {REQUIRE_SHARED} is set", dir.display());
    }
    // Written to the real stderr (not eprintln!, which the test harness captures) so the skip is visible; the
    // harness names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {test} needs {} (fresh clone without ../shared)",
        dir.display()
    );
    None
}

/// Every `.mbz` under `dir` (recursively), sorted.
pub fn mbz_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "mbz") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The truth file of a shared moodle43 archive: `x.mbz` and `x.zip.mbz` -> `x.truth.json`.
pub fn truth_of(mbz: &Path) -> PathBuf {
    let name = mbz.file_name().unwrap().to_str().unwrap();
    let stem = name.trim_end_matches(".mbz").trim_end_matches(".zip");
    mbz.with_file_name(format!("{stem}.truth.json"))
}

/// Runs the binary with `args`.
pub fn run(args: &[&str]) -> Output {
    run_with(args, |c| c)
}

/// [`run`] with the command set up further by `setup` (its standard streams, say).
pub fn run_with(args: &[&str], setup: impl FnOnce(&mut Command) -> &mut Command) -> Output {
    setup(
        Command::new(env!("CARGO_BIN_EXE_mbz-enrol"))
            .args(args)
            .env("TZ", "Europe/Paris"),
    )
    .output()
    .expect("run mbz-enrol")
}

/// A fresh temp dir, removed on drop.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A member read back with independent readers (the `tar` crate, the `zip` crate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path in the archive.
    pub path: String,
    /// Decompressed content.
    pub data: Vec<u8>,
    /// tar typeflag or 'f'/'d' for zip.
    pub kind: u8,
    /// tar header mode and mtime (0 for zip).
    pub mode: u32,
    /// tar mtime (0 for zip).
    pub mtime: u64,
}

/// Every member of a .mbz, in order.
pub fn entries(path: &Path) -> Vec<Entry> {
    let bytes = std::fs::read(path).unwrap();
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::read::GzDecoder::new(&bytes[..]);
        let mut ar = tar::Archive::new(gz);
        ar.set_ignore_zeros(true);
        let mut out = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            let path = String::from_utf8(e.path_bytes().into_owned()).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            out.push(Entry {
                path,
                data,
                kind: h.entry_type().as_byte(),
                mode: h.mode().unwrap(),
                mtime: h.mtime().unwrap(),
            });
        }
        out
    } else {
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut out = Vec::new();
        for i in 0..z.len() {
            let mut f = z.by_index(i).unwrap();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut data).unwrap();
            out.push(Entry {
                path: f.name().unwrap().to_string(),
                kind: if f.is_dir() { b'd' } else { b'f' },
                data,
                mode: 0,
                mtime: 0,
            });
        }
        out
    }
}

/// The raw (compressed) bytes and CRC of every zip member, in order.
pub fn zip_raw(path: &Path) -> Vec<(String, Vec<u8>, u32)> {
    let bytes = std::fs::read(path).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index_raw(i).unwrap();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut data).unwrap();
        out.push((f.name().unwrap().to_string(), data, f.crc32()));
    }
    out
}

/// The raw 512-byte tar headers of a tar.gz, in order (end marker excluded).
pub fn tar_headers(path: &Path) -> Vec<[u8; 512]> {
    let bytes = std::fs::read(path).unwrap();
    let mut raw = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&bytes[..]), &mut raw)
        .unwrap();
    let mut out = Vec::new();
    let mut at = 0;
    while at + 512 <= raw.len() {
        let mut h = [0u8; 512];
        h.copy_from_slice(&raw[at..at + 512]);
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let size_field = std::str::from_utf8(&h[124..135])
            .unwrap()
            .trim_matches(|c| c == '\0' || c == ' ');
        let size = u64::from_str_radix(size_field, 8).unwrap();
        out.push(h);
        at += 512 + (size as usize).div_ceil(512) * 512;
    }
    out
}

/// Files left in `dir` (names), sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A member to write with [`write_tgz`]: path, typeflag, data.
pub type RawMember = (String, u8, Vec<u8>);

/// Writes a tar.gz from raw members with hand-made POSIX ustar headers (paths up to 100 bytes), so tests
/// can build exactly the damage they need.
pub fn write_tgz(path: &Path, members: &[RawMember]) {
    let mut tar = Vec::new();
    for (name, flag, data) in members {
        tar.extend_from_slice(&ustar(name, *flag, data.len() as u64));
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

/// A POSIX ustar header.
pub fn ustar(name: &str, flag: u8, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    let mode: &[u8] = if flag == b'5' {
        b"0000755\0"
    } else {
        b"0000644\0"
    };
    h[100..108].copy_from_slice(mode);
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    h[136..148].copy_from_slice(b"14733000000\0");
    h[156] = flag;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// The members of a tar.gz as [`RawMember`]s (for building damaged copies).
pub fn raw_members(path: &Path) -> Vec<RawMember> {
    entries(path)
        .into_iter()
        .map(|e| (e.path, e.kind, e.data))
        .collect()
}

/// A correct `.ARCHIVE_INDEX` for `members` (the index itself excluded).
pub fn index_for(members: &[RawMember]) -> Vec<u8> {
    let others: Vec<&RawMember> = members.iter().filter(|m| m.0 != ".ARCHIVE_INDEX").collect();
    let mut s = format!("Moodle archive file index. Count: {}\n", others.len());
    for (p, flag, data) in others {
        if *flag == b'5' {
            s.push_str(&format!("{p}\td\t0\t?\n"));
        } else {
            s.push_str(&format!("{p}\tf\t{}\t1600000000\n", data.len()));
        }
    }
    s.into_bytes()
}

/// A copy of the tar.gz `src` written to `out`, its member `member` (UTF-8) rewritten by `edit` and its
/// `.ARCHIVE_INDEX` made to match.
pub fn with_member(src: &Path, member: &str, edit: impl Fn(&str) -> String, out: &Path) {
    let mut members = raw_members(src);
    let m = members.iter_mut().find(|m| m.0 == member).unwrap();
    m.2 = edit(std::str::from_utf8(&m.2).unwrap()).into_bytes();
    write_indexed(out, &mut members);
}

/// Writes `members` as a tar.gz at `out`, their `.ARCHIVE_INDEX` (which must be there) made to match them.
pub fn write_indexed(out: &Path, members: &mut [RawMember]) {
    let index = index_for(members);
    members
        .iter_mut()
        .find(|m| m.0 == ".ARCHIVE_INDEX")
        .expect("an .ARCHIVE_INDEX member")
        .2 = index;
    write_tgz(out, members);
}

/// Compares `text` with `tests/golden/NAME` (rewritten instead when MBZ_UPDATE_GOLDEN is set), after replacing the
/// clone's path with `$ROOT` and the version with `$VERSION`: wording and format changes show up in review.
pub fn golden(name: &str, text: &str) {
    let text = text
        .replace(&root().display().to_string(), "$ROOT")
        .replace(env!("CARGO_PKG_VERSION"), "$VERSION");
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("MBZ_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert!(
        want == text,
        "{name} differs from its golden file:\n--- want\n{want}\n--- got\n{text}"
    );
}

/// A temp copy of the shipped fixtures' top folder (archives and truth files, not `fixtures/bad/`), for
/// commands that walk a folder.
pub fn good_fixtures() -> tempfile::TempDir {
    let dir = tempdir();
    for e in std::fs::read_dir(root().join("fixtures")).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    dir
}
