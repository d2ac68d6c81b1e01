//! Hostile and broken archives (issue 8): a bad-input corpus generated here, in a temp dir, from the shipped
//! fixtures (no binary file is committed). Every case runs `convert` (and `inspect`/`verify` where they say
//! something) and checks: the exit code, a message naming the archive and the member, no "panicked", nothing
//! left in the output folder on failure (no output, no `.*.tmp`), the input unchanged byte for byte, and
//! nothing created anywhere in the temp dir but the output.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{
    self, RawMember, index_for, listing, raw_members, run, tempdir, ustar, write_tgz,
};

const UNTIL: &str = "2027-08-31";
const FROM: &str = "cohort,database";
const ENROL: &str = "course/enrolments.xml";
const INDEX: &str = ".ARCHIVE_INDEX";

fn fixture(name: &str) -> PathBuf {
    util::root().join("fixtures").join(name)
}

// ---------------------------------------------------------------------------------------------------------
// The harness: one temp dir per case, `in/` holds the input and `out/` is the output folder.

struct Case {
    dir: tempfile::TempDir,
    input: PathBuf,
    before: Vec<u8>,
}

impl Case {
    /// A case whose input is `bytes`, saved as `in/<name>`.
    fn new(name: &str, bytes: &[u8]) -> Case {
        Case::with(name, |p| std::fs::write(p, bytes).unwrap())
    }

    /// A case whose input `make` writes (for inputs too large to hold in memory).
    fn with(name: &str, make: impl FnOnce(&Path)) -> Case {
        let dir = tempdir();
        std::fs::create_dir(dir.path().join("in")).unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let input = dir.path().join("in").join(name);
        make(&input);
        let before = std::fs::read(&input).unwrap();
        save_to_corpus(name, &before);
        Case { dir, input, before }
    }

    /// A tar.gz case from members (the `.ARCHIVE_INDEX` recomputed when present).
    fn tgz(name: &str, mut members: Vec<RawMember>) -> Case {
        reindex(&mut members);
        Case::with(name, |p| write_tgz(p, &members))
    }

    fn name(&self) -> String {
        self.input
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn out(&self) -> PathBuf {
        self.out_dir().join("out.mbz")
    }

    /// Every path under the temp dir, relative.
    fn tree(&self) -> BTreeSet<PathBuf> {
        let mut out = BTreeSet::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() && !p.is_symlink() {
                    stack.push(p.clone());
                }
                out.insert(p.strip_prefix(self.dir.path()).unwrap().to_path_buf());
            }
        }
        out
    }

    /// Runs the binary; checks no panic, the input unchanged, and that nothing but the output appeared.
    fn run(&self, args: &[&str]) -> Output {
        let before = self.tree();
        let o = run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            std::fs::read(&self.input).unwrap() == self.before,
            "{args:?} modified the input"
        );
        let out_rel = self
            .out()
            .strip_prefix(self.dir.path())
            .unwrap()
            .to_path_buf();
        let new: Vec<PathBuf> = self
            .tree()
            .difference(&before)
            .filter(|p| **p != out_rel)
            .cloned()
            .collect();
        assert!(new.is_empty(), "{args:?} created {new:?}");
        o
    }

    fn convert(&self) -> Output {
        self.run(&[
            "convert",
            self.input.to_str().unwrap(),
            "-o",
            self.out().to_str().unwrap(),
            "--until",
            UNTIL,
            "--from",
            FROM,
        ])
    }

    /// `convert` exits 2 naming the archive and every needle, and leaves the output folder empty.
    fn convert_fails(&self, needles: &[&str]) -> String {
        let o = self.convert();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "convert {}: {err}", self.name());
        self.names(&err, needles);
        assert!(
            listing(&self.out_dir()).is_empty(),
            "convert {} left {:?}",
            self.name(),
            listing(&self.out_dir())
        );
        err
    }

    /// `convert` exits 0 and leaves exactly the output in the output folder (no temp file).
    fn convert_ok(&self) -> String {
        let o = self.convert();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(0), "convert {}: {err}", self.name());
        assert_eq!(listing(&self.out_dir()), ["out.mbz"], "{}", self.name());
        err
    }

    fn inspect(&self) -> Output {
        self.run(&["inspect", self.input.to_str().unwrap()])
    }

    fn inspect_fails(&self, needles: &[&str]) {
        let o = self.inspect();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "inspect {}: {err}", self.name());
        self.names(&err, needles);
    }

    fn inspect_ok(&self) -> String {
        let o = self.inspect();
        assert_eq!(
            o.status.code(),
            Some(0),
            "inspect {}: {}",
            self.name(),
            stderr(&o)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `verify --json`: exit code, failed check names, stderr.
    fn verify(&self) -> (i32, Vec<String>, String) {
        let o = self.run(&["verify", self.input.to_str().unwrap(), "--json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or(serde_json::Value::Null);
        let failed = v["checks"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter(|c| c["passed"] == false)
                    .map(|c| c["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        (o.status.code().unwrap_or(-1), failed, stderr(&o))
    }

    /// `verify` reads the archive and fails (exit 1) with at least these checks.
    fn verify_fails(&self, checks: &[&str]) {
        let (code, failed, err) = self.verify();
        assert_eq!(code, 1, "verify {}: {failed:?} {err}", self.name());
        for c in checks {
            assert!(
                failed.iter().any(|f| f == c),
                "verify {}: `{c}` not among failed {failed:?}",
                self.name()
            );
        }
    }

    /// `verify` cannot read the archive at all: exit 2 naming it.
    fn verify_unreadable(&self, needles: &[&str]) {
        let (code, failed, err) = self.verify();
        assert_eq!(code, 2, "verify {}: {failed:?} {err}", self.name());
        self.names(&err, needles);
    }

    fn verify_passes(&self) {
        let (code, failed, err) = self.verify();
        assert_eq!((code, failed), (0, vec![]), "verify {}: {err}", self.name());
    }

    /// The message names the archive and every needle.
    fn names(&self, err: &str, needles: &[&str]) {
        assert!(
            err.contains(&self.name()),
            "message does not name the archive `{}`: {err}",
            self.name()
        );
        for n in needles {
            assert!(err.contains(n), "expected `{n}` in: {err}");
        }
    }
}

/// With `MBZ_BAD_CORPUS=DIR` (scripts/bad-corpus.sh), every case's input is also saved there, and its test's
/// name appended to `DIR/.cases` (the script turns those into the corpus index with each test's description).
fn save_to_corpus(name: &str, bytes: &[u8]) {
    let Some(dir) = std::env::var_os("MBZ_BAD_CORPUS") else {
        return;
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let mut cases = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(".cases"))
        .unwrap();
    writeln!(cases, "{name}\t{test}").unwrap();
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

// ---------------------------------------------------------------------------------------------------------
// Corpus builders.

/// The members of the tar.gz fixture (index first).
fn members() -> Vec<RawMember> {
    raw_members(&fixture("coh_basic.mbz"))
}

/// Recomputes `.ARCHIVE_INDEX` when present, so only the intended damage is in the archive.
fn reindex(members: &mut [RawMember]) {
    let index = index_for(members);
    if let Some(m) = members.iter_mut().find(|m| m.0 == INDEX) {
        m.2 = index;
    }
}

/// The fixture with one extra member.
fn plus(name: &str, flag: u8, data: &[u8]) -> Vec<RawMember> {
    let mut m = members();
    m.push((name.to_owned(), flag, data.to_vec()));
    m
}

/// The fixture's `course/enrolments.xml`, as text.
fn enrolments() -> String {
    let m = members();
    let e = m.iter().find(|m| m.0 == ENROL).unwrap();
    String::from_utf8(e.2.clone()).unwrap()
}

/// The fixture with `course/enrolments.xml` replaced.
fn with_enrolments(data: Vec<u8>) -> Vec<RawMember> {
    let mut m = members();
    m.iter_mut().find(|m| m.0 == ENROL).unwrap().2 = data;
    m
}

/// `s` with `from` (which must occur exactly once) replaced by `to`.
fn replace_once(s: &str, from: &str, to: &str) -> String {
    assert_eq!(s.matches(from).count(), 1, "`{from}` is not unique");
    s.replacen(from, to, 1)
}

/// The first cohort enrolment (user 8) of the fixture, up to its end date.
const USER8: &str =
    "<userid>8</userid>\n          <timestart>0</timestart>\n          <timeend>0</timeend>";

/// gzip of `data`.
fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A raw (uncompressed) tar of the fixture's members, with `edit` applied to each header.
fn tar_with(members: &[RawMember], mut edit: impl FnMut(&str, &mut [u8; 512])) -> Vec<u8> {
    let mut tar = Vec::new();
    for (name, flag, data) in members {
        let mut h = ustar(name, *flag, data.len() as u64);
        edit(name, &mut h);
        tar.extend_from_slice(&h);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.extend_from_slice(&[0u8; 1024]);
    tar
}

/// Recomputes a header's checksum after an edit.
fn reseal(h: &mut [u8; 512]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

/// A link, device or FIFO header (size 0).
fn special(name: &str, flag: u8, link: &str) -> [u8; 512] {
    let mut h = ustar(name, flag, 0);
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    if matches!(flag, b'3' | b'4') {
        h[329..337].copy_from_slice(b"0000001\0");
        h[337..345].copy_from_slice(b"0000003\0");
    }
    reseal(&mut h);
    h
}

/// Streams a tar.gz to `path`: `members`, then `extra` (header, data), no buffering of the whole archive.
fn write_tgz_with(path: &Path, members: &[RawMember], extra: &[([u8; 512], Vec<u8>)]) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut body = tar_with(members, |_, _| {});
    body.truncate(body.len() - 1024);
    for (h, data) in extra {
        body.extend_from_slice(h);
        body.extend_from_slice(data);
        body.resize(body.len().div_ceil(512) * 512, 0);
    }
    body.extend_from_slice(&[0u8; 1024]);
    gz.write_all(&body).unwrap();
    gz.finish().unwrap().flush().unwrap();
}

// zip: records located through the end-of-central-directory record, patched in place.

fn u16_at(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// One zip entry: name, offset of its central record, offset of its local header.
struct ZipRec {
    name: Vec<u8>,
    central: usize,
    local: usize,
}

/// The central directory's start and its records.
fn zip_records(b: &[u8]) -> (usize, Vec<ZipRec>) {
    let eocd = (0..=b.len() - 22)
        .rev()
        .find(|&i| b[i..i + 4] == [0x50, 0x4b, 5, 6])
        .expect("end of central directory");
    let (count, start) = (u16_at(b, eocd + 10), u32_at(b, eocd + 16));
    let mut at = start;
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(b[at..at + 4], [0x50, 0x4b, 1, 2]);
        let (nl, el, cl) = (u16_at(b, at + 28), u16_at(b, at + 30), u16_at(b, at + 32));
        out.push(ZipRec {
            name: b[at + 46..at + 46 + nl].to_vec(),
            central: at,
            local: u32_at(b, at + 42),
        });
        at += 46 + nl + el + cl;
    }
    (start, out)
}

fn zip_rec<'a>(recs: &'a [ZipRec], name: &str) -> &'a ZipRec {
    recs.iter().find(|r| r.name == name.as_bytes()).unwrap()
}

/// The zip fixture with `patch(bytes, central, local)` applied to member `name`'s records.
fn zip_patched(name: &str, patch: impl FnOnce(&mut Vec<u8>, usize, usize)) -> Vec<u8> {
    let mut b = std::fs::read(fixture("coh_basic.zip.mbz")).unwrap();
    let (_, recs) = zip_records(&b);
    let r = zip_rec(&recs, name);
    let (c, l) = (r.central, r.local);
    patch(&mut b, c, l);
    b
}

/// Renames a zip member in both its records (same length).
fn zip_rename(b: &mut [u8], from: &str, to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let (_, recs) = zip_records(b);
    let r = zip_rec(&recs, from);
    let (c, l) = (r.central, r.local);
    b[c + 46..c + 46 + to.len()].copy_from_slice(to);
    b[l + 30..l + 30 + to.len()].copy_from_slice(to);
}

/// A zip of the fixture's members, plus `extra` members, written by the zip crate (deflate).
fn zip_of(extra: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for e in util::entries(&fixture("coh_basic.zip.mbz")) {
        if e.kind == b'd' {
            w.add_directory(e.path.as_str(), opts).unwrap();
        } else {
            w.start_file(e.path.as_str(), opts).unwrap();
            w.write_all(&e.data).unwrap();
        }
    }
    for (name, data) in extra {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A tar.gz case with one extra member named `path`; checks it is refused naming the member, or converted
/// with the member kept byte for byte (the tool never extracts, so nothing is written outside the output).
fn hostile_path_tgz(case: &str, path: &str) -> (Case, Output) {
    let outside = [
        PathBuf::from("/etc/x"),
        util::root().join("..").join("x"),
        std::env::temp_dir().join("x"),
    ];
    let existed: Vec<bool> = outside.iter().map(|p| p.exists()).collect();
    let c = Case::tgz(case, plus(path, b'0', b"hostile\n"));
    let o = c.convert();
    let after: Vec<bool> = outside.iter().map(|p| p.exists()).collect();
    assert_eq!(existed, after, "{case}: something appeared outside");
    (c, o)
}

// ---------------------------------------------------------------------------------------------------------
// Containers.

/// A tar.gz cut at two thirds: the gzip stream ends inside a member.
#[test]
fn truncated_gzip() {
    let b = std::fs::read(fixture("coh_basic.mbz")).unwrap();
    let c = Case::new("truncated_gzip.mbz", &b[..b.len() * 2 / 3]);
    c.convert_fails(&["member `"]);
    c.inspect_fails(&["member `"]);
    c.verify_fails(&["gzip-stream"]);
}

/// A complete tar.gz followed by non-gzip bytes (zlib's gzread, hence Moodle, ignores them).
#[test]
fn gzip_trailing_garbage() {
    let mut b = std::fs::read(fixture("coh_basic.mbz")).unwrap();
    b.extend_from_slice(&b"this is not gzip data\n".repeat(20));
    let c = Case::new("gzip_trailing_garbage.mbz", &b);
    c.convert_fails(&["after member `moodle_backup.log`"]);
    c.inspect_fails(&["after member `moodle_backup.log`"]);
    c.verify_fails(&["gzip-stream"]);
}

/// A zip cut in half: no central directory.
#[test]
fn truncated_zip() {
    let b = std::fs::read(fixture("coh_basic.zip.mbz")).unwrap();
    let c = Case::new("truncated_zip.mbz", &b[..b.len() / 2]);
    c.convert_fails(&[]);
    c.inspect_fails(&[]);
    c.verify_fails(&["zip-directory"]);
}

/// A zip whose central directory records are scrambled (the end record still points at them).
#[test]
fn zip_corrupt_central_directory() {
    let mut b = std::fs::read(fixture("coh_basic.zip.mbz")).unwrap();
    let (start, _) = zip_records(&b);
    for x in &mut b[start + 4..start + 200] {
        *x ^= 0xa5;
    }
    let c = Case::new("zip_corrupt_cd.mbz", &b);
    c.convert_fails(&[]);
    c.inspect_fails(&[]);
    c.verify_fails(&["zip-directory"]);
}

/// A tar.gz whose `course/roles.xml` header checksum is off by one.
#[test]
fn tar_bad_header_checksum() {
    let mut m = members();
    reindex(&mut m);
    let tar = tar_with(&m, |name, h| {
        if name == "course/roles.xml" {
            h[153] = if h[153] == b'7' { b'6' } else { h[153] + 1 };
        }
    });
    let c = Case::new("tar_bad_checksum.mbz", &gz(&tar));
    c.convert_fails(&["checksum", "member"]);
    c.inspect_fails(&["checksum"]);
    c.verify_fails(&["tar-ustar-headers"]);
}

/// A file that is not an archive at all.
#[test]
fn not_an_archive() {
    let c = Case::new(
        "not_an_archive.mbz",
        b"<html>hello, this is not a backup</html>\n",
    );
    c.convert_fails(&["is not a Moodle backup"]);
    c.inspect_fails(&["is not a Moodle backup"]);
    c.verify_unreadable(&[]);
}

/// An empty file.
#[test]
fn empty_file() {
    let c = Case::new("empty.mbz", b"");
    c.convert_fails(&["empty"]);
    c.inspect_fails(&["empty"]);
    c.verify_unreadable(&[]);
}

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

// ---------------------------------------------------------------------------------------------------------
// Duplicates and sizes.

/// `course/enrolments.xml` twice in a tar.gz (which one would restore read?).
#[test]
fn duplicate_names_tar() {
    let mut m = members();
    let e = m.iter().find(|m| m.0 == ENROL).unwrap().clone();
    m.push(e);
    let c = Case::tgz("duplicate_tar.mbz", m);
    c.convert_fails(&[ENROL, "twice"]);
    c.inspect_fails(&[ENROL, "twice"]);
    c.verify_fails(&["no-duplicate-names"]);
}

/// `course/enrolments.xml` twice in a zip (a second entry renamed in place).
#[test]
fn duplicate_names_zip() {
    let mut b = zip_of(&[("course/enrolments.xmX", enrolments().into_bytes())]);
    zip_rename(&mut b, "course/enrolments.xmX", ENROL.as_bytes());
    let c = Case::new("duplicate_zip.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["no-duplicate-names"]);
}

/// A tar member whose header declares 100 000 bytes but the archive ends after 1 000.
#[test]
fn declared_size_exceeds_data_tar() {
    let mut m = members();
    reindex(&mut m);
    let mut tar = tar_with(&m, |_, _| {});
    tar.truncate(tar.len() - 1024);
    tar.extend_from_slice(&ustar("files/short", b'0', 100_000));
    tar.extend_from_slice(&[b'x'; 1000]);
    let c = Case::new("short_member_tar.mbz", &gz(&tar));
    c.convert_fails(&["files/short"]);
    c.inspect_fails(&["files/short"]);
    c.verify_fails(&["tar-sizes"]);
}

/// A zip whose `course/enrolments.xml` declares 1 000 more bytes than its data holds.
#[test]
fn declared_size_exceeds_data_zip() {
    let b = zip_patched(ENROL, |b, c, l| {
        let size = (u32_at(b, c + 24) + 1000) as u32;
        b[c + 24..c + 28].copy_from_slice(&size.to_le_bytes());
        b[l + 22..l + 26].copy_from_slice(&size.to_le_bytes());
    });
    let c = Case::new("short_member_zip.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["zip-directory"]);
}

// ---------------------------------------------------------------------------------------------------------
// Bombs.

const MIB: u64 = 1 << 20;

/// Streams `size` zeros into `w`.
fn zeros(w: &mut impl Write, size: u64) {
    let chunk = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        let n = left.min(MIB);
        w.write_all(&chunk[..n as usize]).unwrap();
        left -= n;
    }
}

/// Writes the fixture as a tar.gz with member `name` replaced (or added) as `size` zeros, streamed.
fn tgz_with_zeros(path: &Path, name: &str, size: u64) {
    let mut m: Vec<RawMember> = members().into_iter().filter(|m| m.0 != name).collect();
    m.push((name.to_owned(), b'0', Vec::new()));
    // The index lists the real size.
    let mut index = String::from_utf8(index_for(&m)).unwrap();
    index = index.replace(&format!("{name}\tf\t0\t"), &format!("{name}\tf\t{size}\t"));
    m.iter_mut().find(|m| m.0 == INDEX).unwrap().2 = index.into_bytes();
    m.pop();
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    let mut body = tar_with(&m, |_, _| {});
    body.truncate(body.len() - 1024);
    body.extend_from_slice(&ustar(name, b'0', size));
    gz.write_all(&body).unwrap();
    zeros(&mut gz, size);
    let pad = (512 - size % 512) % 512;
    zeros(&mut gz, pad + 1024);
    gz.finish().unwrap().flush().unwrap();
}

/// `course/enrolments.xml` of 300 MiB of zeros (past the 256 MiB cap on XML members held in memory).
#[test]
fn gzip_bomb_xml_member() {
    let c = Case::with("bomb_xml.mbz", |p| tgz_with_zeros(p, ENROL, 300 * MIB));
    c.convert_fails(&[ENROL, "too large"]);
    c.inspect_fails(&[ENROL, "too large"]);
}

/// A zip whose `course/enrolments.xml` declares its real size (13 921 bytes) but inflates to 300 MiB.
#[test]
fn gzip_bomb_zip_lying_size() {
    let mut b = zip_of(&[("course/enrolments.xmX", vec![0u8; (300 * MIB) as usize])]);
    // Drop the real one by renaming it, then give the bomb its name and a small declared size.
    zip_rename(&mut b, ENROL, b"course/enrolments.old");
    zip_rename(&mut b, "course/enrolments.xmX", ENROL.as_bytes());
    let (_, recs) = zip_records(&b);
    let r = zip_rec(&recs, ENROL);
    let (c, l) = (r.central, r.local);
    b[c + 24..c + 28].copy_from_slice(&13_921u32.to_le_bytes());
    b[l + 22..l + 26].copy_from_slice(&13_921u32.to_le_bytes());
    let c = Case::new("bomb_zip_lying.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
}

/// A non-XML member of 1 GiB of zeros: streamed through (no cap applies to members the rules do not read).
#[test]
fn gzip_bomb_large_member_streams() {
    let size = 1024 * MIB;
    let c = Case::with("bomb_1gib.mbz", |p| {
        tgz_with_zeros(p, "files/00/bomb", size)
    });
    c.convert_ok();
    // The member is kept with its size, read back with an independent reader, streamed.
    let f = std::fs::File::open(c.out()).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(f)));
    let mut found = None;
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path_bytes().as_ref() == b"files/00/bomb" {
            found = Some(std::io::copy(&mut e, &mut std::io::sink()).unwrap());
        }
    }
    assert_eq!(found, Some(size));
    c.inspect_ok();
}

// ---------------------------------------------------------------------------------------------------------
// zip encryption and compression methods (patched in place in the shipped zip).

/// `course/enrolments.xml` flagged encrypted (general-purpose bit 0).
#[test]
fn zip_encrypted_read_member() {
    let b = zip_patched(ENROL, |b, c, l| {
        b[c + 8] |= 1;
        b[l + 6] |= 1;
    });
    let c = Case::new("zip_encrypted.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["zip-directory"]);
}

/// `groups.xml` (a member the rules read only when converting group members) flagged encrypted: Moodle cannot
/// restore it, so it is refused rather than copied.
#[test]
fn zip_encrypted_copied_member() {
    let b = zip_patched("files.xml", |b, c, l| {
        b[c + 8] |= 1;
        b[l + 6] |= 1;
    });
    let c = Case::new("zip_encrypted_copied.mbz", &b);
    c.convert_fails(&["files.xml"]);
    c.verify_fails(&["zip-directory"]);
}

/// `outcomes.xml` (copied untouched) whose local header lost its signature: the central directory points at
/// garbage, which Moodle's reader refuses, so it is refused here too rather than copied.
#[test]
fn zip_damaged_local_header_copied_member() {
    let b = zip_patched("outcomes.xml", |b, _, l| {
        b[l..l + 2].copy_from_slice(b"XX");
    });
    let c = Case::new("zip_bad_local_header.mbz", &b);
    c.convert_fails(&["outcomes.xml"]);
    c.inspect_fails(&["outcomes.xml"]);
    c.verify_fails(&["zip-directory"]);
}

/// `course/enrolments.xml` with compression method 99 (AES), unsupported.
#[test]
fn zip_unsupported_method_read_member() {
    let b = zip_patched(ENROL, |b, c, l| {
        b[c + 10..c + 12].copy_from_slice(&99u16.to_le_bytes());
        b[l + 8..l + 10].copy_from_slice(&99u16.to_le_bytes());
    });
    let c = Case::new("zip_method99.mbz", &b);
    c.convert_fails(&[ENROL]);
    c.inspect_fails(&[ENROL]);
    c.verify_fails(&["zip-directory"]);
}

/// `files.xml` (copied untouched) with compression method 12 (bzip2), which this build cannot read.
#[test]
fn zip_unsupported_method_copied_member() {
    let b = zip_patched("files.xml", |b, c, l| {
        b[c + 10..c + 12].copy_from_slice(&12u16.to_le_bytes());
        b[l + 8..l + 10].copy_from_slice(&12u16.to_le_bytes());
    });
    // Moodle's libzip reads bzip2 members: an untouched one is copied as it is (verify cannot decode it here).
    let c = Case::new("zip_bzip2.mbz", &b);
    c.convert_ok();
    c.verify_fails(&["zip-directory"]);
}

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
    c.verify_fails(&["enrol-users-known"]);
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
    // Its cohort role assignments now point at no <enrol id>: restore would drop them, and verify says so.
    c.verify_fails(&["enrol-components"]);
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

/// An instance `<status>` written with a character reference or CDATA: a real parser reads 1 (disabled), so the
/// rules must not read 0: refused.
#[test]
fn enrolments_status_with_markup_is_refused() {
    for (name, status) in [
        ("xml_status_charref.mbz", "<status>&#49;</status>"),
        ("xml_status_cdata.mbz", "<status><![CDATA[1]]></status>"),
        ("xml_status_comment.mbz", "<status><!--x-->1</status>"),
    ] {
        let x = enrolments();
        let at = x.find("<enrol>cohort</enrol>").unwrap();
        let rest = x[at..].replacen("<status>0</status>", status, 1);
        let x = format!("{}{rest}", &x[..at]);
        let c = Case::tgz(name, with_enrolments(x.into_bytes()));
        c.convert_fails(&[ENROL, "status"]);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Output safety: a full disk.

/// Runs the binary with files limited to 512 bytes (RLIMIT_FSIZE, `SIGXFSZ` ignored so a write past it fails
/// with EFBIG, as on a full disk), in `dir`.
fn run_on_full_disk(args: &[&str]) -> Output {
    std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_mbz-enrol"))
        .args(args)
        .env("TZ", "Europe/Paris")
        .output()
        .expect("run mbz-enrol under ulimit")
}

/// A write that fails half-way (the disk fills up) leaves no partial output and no temp file, for every
/// command that writes: convert (tar.gz and zip), renew, plan and batch (outputs and report).
#[test]
fn full_disk_leaves_no_partial_output() {
    let dir = util::tempdir();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let o = |name: &str| out.join(name).to_str().unwrap().to_owned();
    let tgz = fixture("coh_basic.mbz");
    let zip = fixture("db_sync.zip.mbz");
    let (tgz, zip) = (tgz.to_str().unwrap(), zip.to_str().unwrap());
    let before = [std::fs::read(tgz).unwrap(), std::fs::read(zip).unwrap()];
    let batch_in = dir.path().join("in");
    std::fs::create_dir(&batch_in).unwrap();
    std::fs::copy(tgz, batch_in.join("a.mbz")).unwrap();
    let runs: Vec<Vec<String>> = vec![
        vec![
            "convert".into(),
            tgz.into(),
            "-o".into(),
            o("a.mbz"),
            "--until".into(),
            UNTIL.into(),
        ],
        vec![
            "convert".into(),
            zip.into(),
            "-o".into(),
            o("b.mbz"),
            "--until".into(),
            UNTIL.into(),
        ],
        vec![
            "renew".into(),
            tgz.into(),
            "-o".into(),
            o("c.mbz"),
            "--until".into(),
            UNTIL.into(),
        ],
        vec![
            "plan".into(),
            tgz.into(),
            "--format".into(),
            "json".into(),
            "-o".into(),
            o("plan.json"),
            "--until".into(),
            UNTIL.into(),
        ],
    ];
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run_on_full_disk(&args);
        let err = stderr(&r);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("File too large") && err.contains(&*out.to_string_lossy()),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            util::listing(&out).is_empty(),
            "{args:?} left {:?}",
            util::listing(&out)
        );
    }
    // batch: the archive fails (exit 1, one failure never stops the rest), no output or temp file stays.
    let r = run_on_full_disk(&[
        "batch",
        batch_in.to_str().unwrap(),
        "-o",
        &o("batch"),
        "--until",
        UNTIL,
    ]);
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(1), "{err}");
    assert!(err.contains("File too large"), "{err}");
    let left: Vec<_> = walkdir::WalkDir::new(&out)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(left.is_empty(), "batch left {left:?}");
    assert_eq!(
        before,
        [std::fs::read(tgz).unwrap(), std::fs::read(zip).unwrap()]
    );
}

/// XML read as a stream (`users.xml` for plan, every XML member for verify) holds one element or text run at a
/// time: a 3 MiB text run is refused past `--max-xml-mib 1` (memory stays bounded by the option, not by the
/// member's size), and accepted at the default.
#[test]
fn streamed_xml_bounds_one_text_run() {
    let run_text = format!("<files>{}</files>", "a".repeat(3 << 20));
    let c = Case::tgz(
        "long_text_files.mbz",
        plus("files.xml", b'0', run_text.as_bytes()),
    );
    let input = c.input.to_str().unwrap().to_owned();
    let o = c.run(&["verify", &input, "--max-xml-mib", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("--max-xml-mib") && out.contains("files.xml"),
        "{out}"
    );
    let o = c.run(&["verify", &input]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("--max-xml-mib"));

    let mut m = members();
    let users = m.iter_mut().find(|m| m.0 == "users.xml").unwrap();
    let text = String::from_utf8(users.2.clone()).unwrap();
    users.2 = replace_once(
        &text,
        "</users>",
        &format!("<x>{}</x></users>", "b".repeat(3 << 20)),
    )
    .into_bytes();
    let c = Case::tgz("long_text_users.mbz", m);
    let plan = c.out_dir().join("plan.csv");
    let args = [
        "plan",
        c.input.to_str().unwrap(),
        "--format",
        "uploaduser",
        "-o",
        plan.to_str().unwrap(),
        "--until",
        UNTIL,
        "--max-xml-mib",
        "1",
    ];
    let o = c.run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    c.names(&stderr(&o), &["--max-xml-mib", "users.xml"]);
    assert!(!plan.exists());
}
