use std::io::{BufReader, Read, Write};

use super::*;
use crate::archive::gunzip::Gunzip;
use crate::archive::pgzip::ParGz;

/// Deterministic bytes: text-like runs and random-like runs, so the deflate stream has dynamic and stored
/// blocks.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    let mut out = Vec::with_capacity(len);
    let words: [&[u8]; 6] = [
        b"<enrol id=\"",
        b"\">",
        b"<userid>",
        b"</userid>",
        b"course ",
        b"moodle ",
    ];
    while out.len() < len {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if (out.len() / 200_000) % 3 == 2 {
            out.extend_from_slice(&x.to_le_bytes());
        } else {
            out.extend_from_slice(words[(x >> 60) as usize % 6]);
            out.extend_from_slice(format!("{}", x >> 50).as_bytes());
        }
    }
    out.truncate(len);
    out
}

fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn fillers_add_bits_and_no_output() {
    let content = data(100_000, 3);
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(&content).unwrap();
    let d = e.finish().unwrap();
    for r in 1..8u32 {
        let (mut bytes, partial) = filler(r);
        // The stream shifted up by r bits, its first bits in the filler's last byte.
        let mut carry = partial;
        for &b in &d {
            bytes.push(carry | (b << r));
            carry = b >> (8 - r);
        }
        bytes.push(carry);
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, content, "filler of {r} bits");
    }
}

/// Inflates `gz` once through the mapping reader, capturing around `changes` as the tar.gz loader does: the
/// bytes after a change are asked for when its start is reached, before they are produced (a member's header is
/// read before its data), and the stream's start is asked for first (the new index).
fn mapped(path: &Path, changes: &[(u64, u64)]) -> BlockMap {
    let f = File::open(path).unwrap();
    let mut g = Gunzip::mapping(BufReader::new(f));
    let mut buf = vec![0u8; 4096];
    let mut pos = 0u64;
    let mut todo: Vec<(u64, u64)> = changes.to_vec();
    todo.sort();
    g.recorder().unwrap().want_after(0);
    let mut next = 0;
    loop {
        while next < todo.len() && todo[next].0 <= pos {
            let rec = g.recorder().unwrap();
            let (at, del) = todo[next];
            rec.want_before(at);
            rec.want_after(at + del);
            next += 1;
        }
        let want = todo
            .get(next)
            .map_or(buf.len() as u64, |t| (t.0 - pos).min(buf.len() as u64));
        let n = g.read(&mut buf[..want.max(1) as usize]).unwrap();
        if n == 0 {
            break;
        }
        pos += n as u64;
    }
    g.block_map().expect("a whole map")
}

/// The changes replacing `[at, at + del)` of `input` by `news`, and the edited input they make.
fn edited<'a>(
    input: &[u8],
    edits: &[(u64, u64, usize)],
    news: &'a [Vec<u8>],
) -> (Vec<Change<'a>>, Vec<u8>) {
    let changes = edits
        .iter()
        .zip(news)
        .map(|(e, n)| Change {
            at: e.0,
            del: e.1,
            new: vec![Cow::Borrowed(&n[..])],
        })
        .collect();
    let mut expected = Vec::new();
    let mut pos = 0usize;
    for (e, n) in edits.iter().zip(news) {
        expected.extend_from_slice(&input[pos..e.0 as usize]);
        expected.extend_from_slice(n);
        pos = (e.0 + e.1) as usize;
    }
    expected.extend_from_slice(&input[pos..]);
    (changes, expected)
}

fn spliced(level_in: u32, len: usize, edits: &[(u64, u64, usize)]) {
    let dir = tempfile_dir();
    let input = data(len, 7);
    let path = dir.join(format!("in-{level_in}-{len}.gz"));
    std::fs::write(&path, gzip(&input, level_in)).unwrap();
    let spans: Vec<(u64, u64)> = edits.iter().map(|e| (e.0, e.1)).collect();
    let map = mapped(&path, &spans);
    assert_eq!(map.total(), len as u64);
    let news: Vec<Vec<u8>> = edits.iter().map(|e| data(e.2, e.0 + 1)).collect();
    let (changes, expected) = edited(&input, edits, &news);
    let plan = plan(&path, &map, &changes)
        .unwrap()
        .unwrap_or_else(|| panic!("a plan for level {level_in}, {len} bytes, edits {edits:?}"));
    assert!(plan.copied_marks() > 0, "something is copied");
    let mut outs = Vec::new();
    for threads in [1, 2] {
        let mut out = Vec::new();
        write(&path, &map, &changes, &plan, &mut out, 6, threads).unwrap();
        outs.push(out);
    }
    assert_eq!(outs[0], outs[1], "the same bytes whatever the threads");
    let mut got = Vec::new();
    Gunzip::new(&outs[0][..]).read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the output inflates to the edited input");
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("mbz-splice-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn edits_at_the_start_middle_and_end() {
    let len = 3_000_000;
    spliced(
        6,
        len,
        &[
            (0, 512, 700),
            (1_000_000, 50_000, 80_000),
            (1_060_000, 10, 0),
            (2_500_000, 0, 3000),
            (len as u64 - 1024, 1024, 1024),
        ],
    );
    spliced(1, len, &[(0, 0, 100), (len as u64 / 2, 100, 100)]);
    spliced(9, len, &[(600_123, 7, 70_000)]);
}

#[test]
fn no_change_copies_the_whole_stream() {
    let dir = tempfile_dir();
    let input = data(1_500_000, 9);
    let path = dir.join("same.gz");
    let gz = gzip(&input, 6);
    std::fs::write(&path, &gz).unwrap();
    let map = mapped(&path, &[]);
    let plan = plan(&path, &map, &[]).unwrap().unwrap();
    let mut out = Vec::new();
    write(&path, &map, &[], &plan, &mut out, 6, 2).unwrap();
    // flate2 writes the same 10-byte header as ours but for the OS byte.
    assert_eq!(out[10..], gz[10..]);
}

/// Streams of every kind this reader meets (zlib levels 2 to 9, the parallel gzip with its sync flushes and
/// stored blocks), cut by edits of every size anywhere: the output always inflates to the edited input.
#[test]
fn random_edits_on_random_streams() {
    let mut x = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n.max(1)
    };
    let dir = tempfile_dir();
    for case in 0..10 {
        let len = 300_000 + next(1_700_000) as usize;
        let input = data(len, case);
        let path = dir.join(format!("random-{case}.gz"));
        let level = 2 + next(8) as u32;
        let gz = if case % 3 == 0 {
            let mut g = ParGz::new(Vec::new(), level, 2);
            g.write_all(&input).unwrap();
            g.finish().unwrap()
        } else {
            gzip(&input, level)
        };
        std::fs::write(&path, gz).unwrap();
        let mut edits: Vec<(u64, u64, usize)> = (0..1 + next(4))
            .map(|_| (next(len as u64), next(40_000), next(60_000) as usize))
            .collect();
        edits.sort();
        // Not overlapping, and inside the stream.
        let mut end = 0;
        edits.retain(|e| {
            let keep = e.0 >= end && e.0 + e.1 <= len as u64;
            if keep {
                end = e.0 + e.1;
            }
            keep
        });
        let spans: Vec<(u64, u64)> = edits.iter().map(|e| (e.0, e.1)).collect();
        let map = mapped(&path, &spans);
        let news: Vec<Vec<u8>> = edits.iter().map(|e| data(e.2, e.0 ^ 5)).collect();
        let (changes, expected) = edited(&input, &edits, &news);
        let Some(plan) = plan(&path, &map, &changes).unwrap() else {
            panic!(
                "case {case}: no plan (level {level}, {} edits)",
                edits.len()
            );
        };
        let mut out = Vec::new();
        write(&path, &map, &changes, &plan, &mut out, 6, 2).unwrap();
        let mut got = Vec::new();
        Gunzip::new(&out[..]).read_to_end(&mut got).unwrap();
        assert!(
            got == expected,
            "case {case}: level {level}, edits {edits:?}"
        );
    }
}
