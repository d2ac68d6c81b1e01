//! One ustar header: parsing what real tools write (octal, base-256, pax and GNU overrides) and building the
//! strict ustar header Moodle writes.

use super::{
    BLOCK, Kind, Member, NAME_LEN, OCTAL7_MAX, OCTAL11_LIMIT, OWNER_NAME_MAX, PREFIX_LEN, TarError,
};

/// A C string field: the bytes up to the first NUL.
pub(super) fn cstr(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(end) => &field[..end],
        None => field,
    }
}

/// Why a numeric field could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NumError {
    Invalid,
    Negative,
}

/// Octal with optional leading spaces/NULs and trailing spaces/NULs (an empty field is 0).
pub(super) fn parse_octal(field: &[u8]) -> Option<u64> {
    let start = field
        .iter()
        .position(|&b| b != b' ' && b != 0)
        .unwrap_or(field.len());
    let mut value: u64 = 0;
    let mut end = start;
    for &b in &field[start..] {
        if !(b'0'..=b'7').contains(&b) {
            break;
        }
        value = value.checked_mul(8)?.checked_add(u64::from(b - b'0'))?;
        end += 1;
    }
    field[end..]
        .iter()
        .all(|&b| b == b' ' || b == 0)
        .then_some(value)
}

/// A numeric header field: octal, or GNU base-256 when the first byte has its high bit set.
pub(super) fn parse_numeric(field: &[u8]) -> Result<u64, NumError> {
    match field.first() {
        Some(&first) if first & 0x80 != 0 => {
            // Base-256: the bits after the marker bit form a big-endian two's-complement number.
            if first & 0x40 != 0 {
                return Err(NumError::Negative);
            }
            let mut value = u64::from(first & 0x3f);
            for &b in &field[1..] {
                value = value
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(u64::from(b)))
                    .ok_or(NumError::Invalid)?;
            }
            Ok(value)
        }
        _ => parse_octal(field).ok_or(NumError::Invalid),
    }
}

/// Unsigned decimal, digits only.
pub(super) fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// A pax time: `[-]digits[.digits]`, floored; negative times become 0.
pub(super) fn parse_pax_time(text: &[u8]) -> Option<u64> {
    let (negative, text) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (int, frac) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &[][..]),
    };
    if !frac.iter().all(u8::is_ascii_digit) || (int.is_empty() && frac.is_empty()) {
        return None;
    }
    let value = if int.is_empty() {
        0
    } else {
        parse_decimal(int)?
    };
    Some(if negative { 0 } else { value })
}

/// Metadata from GNU `L`/`K` and pax `x` records, applied to the next real member.
#[derive(Debug, Default)]
pub(super) struct Overrides {
    pub(super) path: Option<Vec<u8>>,
    pub(super) linkname: Option<Vec<u8>>,
    pub(super) size: Option<u64>,
    pub(super) mtime: Option<u64>,
    pub(super) uid: Option<u64>,
    pub(super) gid: Option<u64>,
    pub(super) uname: Option<Vec<u8>>,
    pub(super) gname: Option<Vec<u8>>,
}

/// Replaces `slot` with `value`, if there is one.
fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

impl Overrides {
    pub(super) fn apply(self, member: &mut Member) {
        set(&mut member.path, self.path);
        set(&mut member.linkname, self.linkname);
        set(&mut member.size, self.size);
        set(&mut member.mtime, self.mtime);
        set(&mut member.uid, self.uid);
        set(&mut member.gid, self.gid);
        set(&mut member.uname, self.uname);
        set(&mut member.gname, self.gname);
    }

    /// Applies pax records `"%d %s=%s\n"`. An empty value removes an earlier override (POSIX pax semantics).
    pub(super) fn apply_pax(&mut self, mut data: &[u8]) -> Result<(), &'static str> {
        while !data.is_empty() {
            if data.iter().all(|&b| b == 0) {
                // NUL padding after the last record (some writers leave it): nothing more to apply.
                break;
            }
            let space = data
                .iter()
                .position(|&b| b == b' ')
                .ok_or("record without a length")?;
            let len = parse_decimal(&data[..space])
                .and_then(|len| usize::try_from(len).ok())
                .ok_or("bad record length")?;
            if len <= space + 1 || len > data.len() {
                return Err("bad record length");
            }
            let record = &data[space + 1..len];
            let record = match record.split_last() {
                Some((b'\n', record)) => record,
                _ => return Err("record not ended by a newline"),
            };
            let eq = record
                .iter()
                .position(|&b| b == b'=')
                .ok_or("record without '='")?;
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            let bytes = || (!value.is_empty()).then(|| value.to_vec());
            let number = || -> Result<Option<u64>, &'static str> {
                if value.is_empty() {
                    Ok(None)
                } else {
                    parse_decimal(value).map(Some).ok_or("bad numeric value")
                }
            };
            match key {
                b"path" => self.path = bytes(),
                b"linkpath" => self.linkname = bytes(),
                b"uname" => self.uname = bytes(),
                b"gname" => self.gname = bytes(),
                b"size" => self.size = number()?,
                b"uid" => self.uid = number()?,
                b"gid" => self.gid = number()?,
                b"mtime" => {
                    self.mtime = if value.is_empty() {
                        None
                    } else {
                        Some(parse_pax_time(value).ok_or("bad mtime value")?)
                    }
                }
                _ => {}
            }
            data = &data[len..];
        }
        Ok(())
    }
}

/// A parsed header, before extension records are applied.
pub(super) struct Header {
    pub(super) member: Member,
    pub(super) typeflag: u8,
    /// The size field is GNU base-256 (binary), which Moodle's extractor does not read.
    pub(super) base256_size: bool,
}

/// Which magic a header has.
#[derive(PartialEq, Eq)]
pub(super) enum Magic {
    Posix,
    Gnu,
}

/// Parses and checks one non-zero header block. `at` names the member for messages.
pub(super) fn parse_header(
    block: &[u8; BLOCK],
    first: bool,
    at: &dyn Fn() -> String,
) -> Result<Header, TarError> {
    let magic = match &block[257..263] {
        b"ustar\0" => Magic::Posix,
        b"ustar " => Magic::Gnu,
        _ if first => return Err(TarError::NotTar),
        _ => return Err(TarError::NoMagic { at: at() }),
    };

    let stored = parse_octal(&block[148..156]).ok_or_else(|| TarError::Checksum { at: at() })?;
    // The sum of all bytes with the checksum field counted as eight spaces (both readings of a byte's sign).
    let sum_unsigned = |s: &[u8]| s.iter().map(|&b| u64::from(b)).sum::<u64>();
    let sum_signed = |s: &[u8]| s.iter().map(|&b| i64::from(b as i8)).sum::<i64>();
    let unsigned = sum_unsigned(block) - sum_unsigned(&block[148..156]) + 8 * u64::from(b' ');
    let signed = sum_signed(block) - sum_signed(&block[148..156]) + 8 * i64::from(b' ');
    if stored != unsigned && i64::try_from(stored) != Ok(signed) {
        return Err(TarError::Checksum { at: at() });
    }

    let number = |range: std::ops::Range<usize>, field: &'static str| {
        parse_numeric(&block[range]).map_err(|_| TarError::BadNumber { at: at(), field })
    };
    let mode = number(100..108, "mode")?;
    let uid = number(108..116, "uid")?;
    let gid = number(116..124, "gid")?;
    let size = number(124..136, "size")?;
    let mtime = match parse_numeric(&block[136..148]) {
        Ok(mtime) => mtime,
        Err(NumError::Negative) => 0,
        Err(NumError::Invalid) => {
            return Err(TarError::BadNumber {
                at: at(),
                field: "mtime",
            });
        }
    };
    let typeflag = block[156];

    let name = cstr(&block[..NAME_LEN]);
    // GNU headers keep atime/ctime and sparse data where ustar has the prefix.
    let prefix = match magic {
        Magic::Posix => cstr(&block[345..500]),
        Magic::Gnu => &[],
    };
    let path = if prefix.is_empty() {
        name.to_vec()
    } else {
        [prefix, b"/", name].concat()
    };
    let kind = match typeflag {
        // `7` (contiguous file) is a file to most readers, but Moodle's extractor skips it as it skips links
        // (`lib/filestorage/tgz_extractor.php`, `tgz_extractor::process_header`): read as a file here, a member
        // restore never sees would be converted.
        b'0' | 0 => Kind::File,
        b'5' => Kind::Dir,
        flag => Kind::Other(flag),
    };
    Ok(Header {
        member: Member {
            path,
            kind,
            // Masked, so the value fits u32.
            mode: (mode & 0o7777) as u32,
            uid,
            gid,
            mtime,
            size,
            linkname: cstr(&block[157..257]).to_vec(),
            uname: cstr(&block[265..297]).to_vec(),
            gname: cstr(&block[297..329]).to_vec(),
        },
        typeflag,
        base256_size: block[124] & 0x80 != 0,
    })
}

/// Splits a path into ustar (prefix, name) as Moodle does: the shortest prefix, ended at a `/`, that leaves a name
/// of at most 100 bytes. The prefix must be 1..=155 bytes (an empty prefix would lose a leading `/`).
pub(super) fn split_path(path: &[u8]) -> Option<(&[u8], &[u8])> {
    if path.len() <= NAME_LEN {
        return Some((&[], path));
    }
    for (i, _) in path.iter().enumerate().filter(|&(_, &b)| b == b'/') {
        if i == 0 {
            continue;
        }
        if i > PREFIX_LEN {
            return None;
        }
        if path.len() - i - 1 <= NAME_LEN {
            return Some((&path[..i], &path[i + 1..]));
        }
    }
    None
}

/// Writes `value` as `digits` zero-padded octal digits and a NUL into `field`. The caller checked that it fits.
pub(super) fn put_octal(field: &mut [u8], value: u64, digits: usize) {
    // `format!("{value:0digits$o}")` cut to `digits`, without the allocation (a header per member).
    let mut octal = [0u8; 22];
    let (mut len, mut v) = (0, value);
    loop {
        octal[len] = b'0' + (v & 7) as u8;
        len += 1;
        v >>= 3;
        if v == 0 {
            break;
        }
    }
    let pad = digits.saturating_sub(len);
    for (i, out) in field[..digits].iter_mut().enumerate() {
        *out = if i < pad {
            b'0'
        } else {
            octal[len - 1 - (i - pad)]
        };
    }
    field[digits] = 0;
}

/// Checks a text field: no NUL, at most `max` bytes.
pub(super) fn check_text(
    member: &Member,
    value: &[u8],
    field: &'static str,
    max: usize,
) -> Result<(), TarError> {
    if value.contains(&0) {
        return Err(TarError::NulByte {
            path: member.path_lossy(),
            field,
        });
    }
    if value.len() > max {
        return Err(TarError::FieldTooLong {
            path: member.path_lossy(),
            field,
            max,
        });
    }
    Ok(())
}

/// Builds the 512-byte ustar header for `member`, byte-identical to Moodle's `tgz_packer::write_tar_entry` for
/// the same metadata: mode/uid/gid as 7 octal digits + NUL, size/mtime as 11 + NUL, checksum as 6 octal digits +
/// NUL + space, magic `ustar\0` + `00`, devmajor/devminor NUL, long paths split into prefix + name.
///
/// # Errors
///
/// The path is empty, holds a NUL or cannot be split; a text field holds a NUL or is too long (link name > 100,
/// user/group name > 31); a number does not fit its octal field (size and mtime < 8^11, uid/gid < 8^7) or the
/// mode has non-permission bits; the kind is a pax/GNU record; a directory, link or special file has a size.
pub fn ustar_header(member: &Member) -> Result<[u8; BLOCK], TarError> {
    let path = &member.path;
    if path.is_empty() {
        return Err(TarError::EmptyPath);
    }
    if path.contains(&0) {
        return Err(TarError::NulByte {
            path: member.path_lossy(),
            field: "path",
        });
    }
    let (prefix, name) = split_path(path).ok_or_else(|| TarError::PathTooLong {
        path: member.path_lossy(),
    })?;
    check_text(member, &member.linkname, "link name", NAME_LEN)?;
    check_text(member, &member.uname, "user name", OWNER_NAME_MAX)?;
    check_text(member, &member.gname, "group name", OWNER_NAME_MAX)?;

    if member.mode & !0o7777 != 0 {
        return Err(TarError::BadMode {
            path: member.path_lossy(),
            mode: member.mode,
        });
    }
    for (field, value) in [("uid", member.uid), ("gid", member.gid)] {
        if value > OCTAL7_MAX {
            return Err(TarError::NumberTooLarge {
                path: member.path_lossy(),
                field,
                value,
                max: OCTAL7_MAX,
            });
        }
    }
    if member.size >= OCTAL11_LIMIT {
        return Err(TarError::TooLarge {
            path: member.path_lossy(),
        });
    }
    if member.mtime >= OCTAL11_LIMIT {
        return Err(TarError::NumberTooLarge {
            path: member.path_lossy(),
            field: "mtime",
            value: member.mtime,
            max: OCTAL11_LIMIT - 1,
        });
    }
    let typeflag = match member.kind {
        Kind::File => b'0',
        Kind::Dir => b'5',
        Kind::Other(flag @ (b'x' | b'g' | b'L' | b'K')) => {
            return Err(TarError::ExtensionKind {
                path: member.path_lossy(),
                flag: char::from(flag),
            });
        }
        Kind::Other(flag) => flag,
    };
    // Moodle's reader starts no data for these flags and would read any data as headers.
    let no_data = match member.kind {
        Kind::Dir => Some("directory"),
        Kind::Other(b'1'..=b'7') => Some("link or special file"),
        _ => None,
    };
    if let (Some(what), true) = (no_data, member.size > 0) {
        return Err(TarError::DataNotAllowed {
            path: member.path_lossy(),
            what,
            size: member.size,
        });
    }

    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    put_octal(&mut h[100..108], u64::from(member.mode), 7);
    put_octal(&mut h[108..116], member.uid, 7);
    put_octal(&mut h[116..124], member.gid, 7);
    put_octal(&mut h[124..136], member.size, 11);
    put_octal(&mut h[136..148], member.mtime, 11);
    h[156] = typeflag;
    h[157..157 + member.linkname.len()].copy_from_slice(&member.linkname);
    h[257..265].copy_from_slice(b"ustar\x0000");
    h[265..265 + member.uname.len()].copy_from_slice(&member.uname);
    h[297..297 + member.gname.len()].copy_from_slice(&member.gname);
    // devmajor/devminor (329..345) stay NUL, as in Moodle.
    h[345..345 + prefix.len()].copy_from_slice(prefix);

    h[148..156].fill(b' ');
    let checksum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    // At most 512 * 255 = 0o377000: always 6 octal digits.
    put_octal(&mut h[148..156], checksum, 6);
    h[155] = b' ';
    Ok(h)
}
