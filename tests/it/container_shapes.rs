//! Container shapes Moodle reads (issue 16): gzip headers whose extra field, name or comment is of any legal
//! size (zlib's `gzread`, which Moodle's extractor reads through, skips them whatever their length), and zip
//! local headers that defer their sizes to a data descriptor (libzip reads entries through the central
//! directory). Each is built from a shared fixture; its conversion must equal the clean archive's (the same
//! per-user results) and `verify OUT --against IN` must pass.

use std::io::{Read, Write};

use crate::hostile::builders::{u16_at, zip_records};
use crate::util::{shared, tempdir};
use crate::xml_shapes::{fixture, ok, results, verify_against};

/// Header flags (RFC 1952).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// `tar` as one gzip member whose header carries an extra field of `extra` bytes, a name of `name` bytes and a
/// comment of `comment` bytes (each only when given), and a header CRC.
fn gzip_with(
    tar: &[u8],
    extra: Option<u16>,
    name: Option<usize>,
    comment: Option<usize>,
) -> Vec<u8> {
    let flags = FHCRC
        | extra.map_or(0, |_| FEXTRA)
        | name.map_or(0, |_| FNAME)
        | comment.map_or(0, |_| FCOMMENT);
    let mut h = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 3];
    if let Some(x) = extra {
        h.extend_from_slice(&x.to_le_bytes());
        // One subfield spanning it all (id "MB"), as RFC 1952 lays them out.
        h.extend_from_slice(b"MB");
        h.extend_from_slice(&(x - 4).to_le_bytes());
        h.extend(std::iter::repeat_n(b'x', usize::from(x - 4)));
    }
    for (len, fill) in [(name, b'n'), (comment, b'c')] {
        if let Some(len) = len {
            h.extend(std::iter::repeat_n(fill, len));
            h.push(0);
        }
    }
    let mut crc = flate2::Crc::new();
    crc.update(&h);
    h.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
    let mut e = flate2::write::DeflateEncoder::new(h, flate2::Compression::default());
    e.write_all(tar).unwrap();
    let mut out = e.finish().unwrap();
    let mut crc = flate2::Crc::new();
    crc.update(tar);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

/// gzip headers of 64 KiB and more (a name, a comment, the largest extra field, all three) convert as the clean
/// archive does; the output verifies against them, and they verify themselves.
#[test]
fn big_gzip_header_fields_convert_as_the_clean_archive() {
    let Some(input) = fixture() else { return };
    let dir = tempdir();
    let clean = results(&input, &dir.path().join("clean.out.mbz"));
    assert_eq!(clean["users"].as_array().map(Vec::len), Some(28), "{clean}");
    let mut tar = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(&input).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let big = 70_000;
    let shapes = [
        ("name", gzip_with(&tar, None, Some(big), None)),
        ("comment", gzip_with(&tar, None, None, Some(big))),
        ("extra", gzip_with(&tar, Some(u16::MAX), None, None)),
        (
            "all",
            gzip_with(&tar, Some(u16::MAX), Some(big), Some(1 << 20)),
        ),
    ];
    for (name, bytes) in shapes {
        let shaped = dir.path().join(format!("gzip-{name}.mbz"));
        std::fs::write(&shaped, bytes).unwrap();
        let out = dir.path().join(format!("gzip-{name}.out.mbz"));
        assert_eq!(
            results(&shaped, &out),
            clean,
            "{name}: the conversion differs from the clean archive's"
        );
        verify_against(&out, &shaped);
        ok("verify", &shaped, None, &[]);
        ok("inspect", &shaped, None, &[]);
    }
}

/// Every file entry's local header flagged "sizes in a data descriptor" (general-purpose bit 3) with its CRC and
/// sizes zeroed, as streaming zip writers leave them (the central records keep the real values): libzip's
/// consistency rule (`_zip_headercomp`) accepts zeros there, so the archive converts as the clean one.
#[test]
fn zip_local_headers_deferring_sizes_convert_as_the_clean_archive() {
    let Some(dir) = shared("moodle43") else {
        return;
    };
    let input = dir.join("coh_basic.zip.mbz");
    let tmp = tempdir();
    let clean = results(&input, &tmp.path().join("clean.out.mbz"));
    assert_eq!(clean["users"].as_array().map(Vec::len), Some(30), "{clean}");
    let mut b = std::fs::read(&input).unwrap();
    let (_, recs) = zip_records(&b);
    let mut deferred = 0;
    for r in recs.iter().filter(|r| !r.name.ends_with(b"/")) {
        let l = r.local;
        let flags = u16_at(&b, l + 6) as u16 | 0x0008;
        b[l + 6..l + 8].copy_from_slice(&flags.to_le_bytes());
        b[l + 14..l + 26].fill(0);
        deferred += 1;
    }
    assert!(deferred > 20);
    let shaped = tmp.path().join("deferred.mbz");
    std::fs::write(&shaped, &b).unwrap();
    let out = tmp.path().join("deferred.out.mbz");
    assert_eq!(results(&shaped, &out), clean);
    verify_against(&out, &shaped);
    ok("verify", &shaped, None, &[]);
    ok("inspect", &shaped, None, &[]);
}
