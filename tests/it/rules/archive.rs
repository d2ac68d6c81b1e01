//! Reading archives with our own readers (`tar` crate + `MultiGzDecoder`, `zip` crate), the tar index check, and
//! the container checks of an output against its input.

use std::io::Read;
use std::path::Path;

use super::*;

// ---------------------------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Tgz,
    Zip,
}

#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) data: Vec<u8>,
    pub(crate) dir: bool,
    /// tar: the raw 512-byte header of this member.
    pub(crate) header: Option<Vec<u8>>,
    pub(crate) mode: u32,
    pub(crate) mtime: u64,
    /// zip: compression method as printed by the zip crate.
    pub(crate) method: String,
}

pub(crate) struct Archive {
    pub(crate) kind: Kind,
    pub(crate) members: Vec<Member>,
}

impl Archive {
    pub(crate) fn get(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    pub(crate) fn text(&self, name: &str) -> Result<&str, String> {
        let m = self
            .get(name)
            .ok_or_else(|| format!("member {name} missing"))?;
        std::str::from_utf8(&m.data).map_err(|e| format!("member {name} is not UTF-8: {e}"))
    }

    /// Member names in order, without the tar index.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.members
            .iter()
            .map(|m| m.name.as_str())
            .filter(|n| *n != INDEX)
            .collect()
    }
}

pub(crate) fn read_archive(path: &Path) -> Result<Archive, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        read_tgz(&bytes)
    } else if bytes.starts_with(b"PK") {
        read_zip(path)
    } else {
        Err(format!(
            "{}: neither gzip (1f 8b) nor zip (PK) magic, starts with {:02x?}",
            path.display(),
            &bytes[..bytes.len().min(4)]
        ))
    }
}

pub(crate) fn read_tgz(bytes: &[u8]) -> Result<Archive, String> {
    let mut raw = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_end(&mut raw)
        .map_err(|e| format!("gunzip: {e}"))?;
    if raw.len() % 512 != 0 {
        return Err(format!(
            "tar stream is {} bytes, not a multiple of 512",
            raw.len()
        ));
    }
    let mut ar = tar::Archive::new(raw.as_slice());
    let mut members = Vec::new();
    // Raw entries: pax ('x'/'g') and GNU ('L'/'K') records show up as members of their own.
    for entry in ar.entries().map_err(|e| format!("tar: {e}"))?.raw(true) {
        let mut entry = entry.map_err(|e| format!("tar entry #{}: {e}", members.len()))?;
        let (header, name, mode, mtime) = {
            let h = entry.header();
            let name = String::from_utf8(entry.path_bytes().into_owned())
                .map_err(|e| format!("tar entry #{}: name not UTF-8: {e}", members.len()))?;
            let mode = h.mode().map_err(|e| format!("{name}: bad mode: {e}"))?;
            let mtime = h.mtime().map_err(|e| format!("{name}: bad mtime: {e}"))?;
            (h.as_bytes().to_vec(), name, mode, mtime)
        };
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| format!("{name}: read: {e}"))?;
        members.push(Member {
            dir: header[156] == b'5',
            name,
            data,
            header: Some(header),
            mode,
            mtime,
            method: String::new(),
        });
    }
    Ok(Archive {
        kind: Kind::Tgz,
        members,
    })
}

pub(crate) fn read_zip(path: &Path) -> Result<Archive, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("open: {e}"))?;
    let mut z = zip::ZipArchive::new(file).map_err(|e| format!("zip: {e}"))?;
    let mut members = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(|e| format!("zip entry #{i}: {e}"))?;
        let name = f
            .name()
            .map_err(|e| format!("zip entry #{i}: name: {e}"))?
            .into_owned();
        let dir = f.is_dir();
        let method = format!("{:?}", f.compression());
        let mode = f.unix_mode().unwrap_or(0);
        let mut data = Vec::new();
        f.read_to_end(&mut data)
            .map_err(|e| format!("zip {name}: read: {e}"))?;
        members.push(Member {
            name,
            data,
            dir,
            header: None,
            mode,
            mtime: 0,
            method,
        });
    }
    Ok(Archive {
        kind: Kind::Zip,
        members,
    })
}

/// Checks a tar `.ARCHIVE_INDEX` (first member) against the members that follow it.
pub(crate) fn index_errors(a: &Archive) -> Vec<String> {
    let mut errs = Vec::new();
    let Some(first) = a.members.first() else {
        return vec!["archive is empty".into()];
    };
    if first.name != INDEX {
        return vec![format!(
            "first member is {:?}, expected {INDEX}",
            first.name
        )];
    }
    let Ok(text) = std::str::from_utf8(&first.data) else {
        return vec![format!("{INDEX} is not UTF-8")];
    };
    let mut want = format!("{INDEX_PREFIX}{}\n", a.members.len() - 1);
    for m in &a.members[1..] {
        if m.dir {
            want.push_str(&format!("{}\td\t0\t?\n", m.name));
        } else {
            want.push_str(&format!("{}\tf\t{}\t{}\n", m.name, m.data.len(), m.mtime));
        }
    }
    if text != want {
        let got: Vec<&str> = text.split('\n').collect();
        let exp: Vec<&str> = want.split('\n').collect();
        let line = got
            .iter()
            .zip(&exp)
            .position(|(g, e)| g != e)
            .unwrap_or(got.len().min(exp.len()));
        errs.push(format!(
            "{INDEX} does not describe the members: first difference at line {}: expected {:?}, got {:?} \
             ({} lines expected, {} got)",
            line + 1,
            exp.get(line).copied().unwrap_or("<end>"),
            got.get(line).copied().unwrap_or("<end>"),
            exp.len(),
            got.len()
        ));
    }
    errs
}

// ---------------------------------------------------------------------------------------------
// Container checks
// ---------------------------------------------------------------------------------------------

pub(crate) fn check_container(label: &str, inp: &Archive, out: &Archive, fails: &mut Fails) {
    if inp.kind != out.kind {
        fails.add(format!(
            "{label}: container changed from {:?} to {:?}",
            inp.kind, out.kind
        ));
        return;
    }
    let (iname, oname) = (inp.names(), out.names());
    if iname != oname {
        let n = iname
            .iter()
            .zip(&oname)
            .position(|(a, b)| a != b)
            .unwrap_or(iname.len().min(oname.len()));
        fails.add(format!(
            "{label}: member names/order differ at #{n}: expected {:?}, got {:?} ({} vs {} members)",
            iname.get(n),
            oname.get(n),
            iname.len(),
            oname.len()
        ));
    }
    for o in &out.members {
        let Some(i) = inp.get(&o.name) else {
            fails.add(format!(
                "{label}: output has a member {:?} that the input lacks",
                o.name
            ));
            continue;
        };
        if o.dir != i.dir {
            fails.add(format!(
                "{label}: {}: directory flag {} -> {}",
                o.name, i.dir, o.dir
            ));
        }
        let rewritable = REWRITABLE.contains(&o.name.as_str()) || o.name == INDEX;
        if !rewritable && o.data != i.data {
            fails.add(format!(
                "{label}: {} must be byte-identical ({} bytes in, {} out)",
                o.name,
                i.data.len(),
                o.data.len()
            ));
        }
        if REWRITABLE.contains(&o.name.as_str()) && std::str::from_utf8(&o.data).is_err() {
            fails.add(format!("{label}: {} is not UTF-8", o.name));
        }
        match out.kind {
            Kind::Tgz => {
                let h = o.header.as_deref().unwrap();
                if &h[257..263] != b"ustar\0" || &h[263..265] != b"00" {
                    fails.add(format!(
                        "{label}: {}: header magic/version {:?}, expected POSIX ustar \"ustar\\0\" \"00\"",
                        o.name,
                        String::from_utf8_lossy(&h[257..265])
                    ));
                }
                if matches!(h[156], b'x' | b'g' | b'L' | b'K') {
                    fails.add(format!(
                        "{label}: {}: forbidden typeflag {:?}",
                        o.name, h[156] as char
                    ));
                }
                if (o.mode & 0o7777) != (i.mode & 0o7777) {
                    fails.add(format!(
                        "{label}: {}: mode {:o}, expected {:o}",
                        o.name, o.mode, i.mode
                    ));
                }
                if o.mtime != i.mtime {
                    fails.add(format!(
                        "{label}: {}: mtime {}, expected {}",
                        o.name, o.mtime, i.mtime
                    ));
                }
            }
            Kind::Zip => {
                if o.method != "Stored" && o.method != "Deflated" {
                    fails.add(format!(
                        "{label}: {}: compression {}, expected Stored or Deflated",
                        o.name, o.method
                    ));
                }
            }
        }
    }
    if out.kind == Kind::Tgz && inp.get(INDEX).is_some() {
        for e in index_errors(out) {
            fails.add(format!("{label}: {e}"));
        }
    }
    if out.kind == Kind::Zip && out.get(INDEX).is_some() != inp.get(INDEX).is_some() {
        fails.add(format!("{label}: zip {INDEX} presence changed"));
    }
}

/// Human-readable list of members that differ between two archives (for byte-level failures).
pub(crate) fn member_diff(a: &Archive, b: &Archive) -> String {
    if a.names() != b.names() {
        return format!("member lists differ: {:?} vs {:?}", a.names(), b.names());
    }
    let diff: Vec<&str> = a
        .members
        .iter()
        .filter(|m| {
            b.get(&m.name)
                .is_none_or(|n| n.data != m.data || n.header != m.header)
        })
        .map(|m| m.name.as_str())
        .collect();
    if diff.is_empty() {
        "members identical (container bytes differ)".into()
    } else {
        format!("differing members: {diff:?}")
    }
}
