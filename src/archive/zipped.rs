//! zip reading and rewriting: untouched members are raw-copied (same compressed bytes and CRC), rewritten
//! members are deflated with the original's timestamp and permissions.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::output::Atomic;
use super::{Container, Loaded, MAX_XML_BYTES, MemberInfo, check_duplicate};
use crate::error::{Error, Result};

fn open(path: &Path) -> Result<ZipArchive<BufReader<File>>> {
    let f = File::open(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    ZipArchive::new(BufReader::with_capacity(32 << 10, f)).map_err(zip_err(path, None))
}

fn zip_err(path: &Path, member: Option<&str>) -> impl Fn(ZipError) -> Error {
    let path = path.to_path_buf();
    let member = member.map(str::to_owned);
    move |source| Error::Zip {
        path: path.clone(),
        member: member.clone(),
        source,
    }
}

fn name_of(archive: &ZipArchive<BufReader<File>>, path: &Path, i: usize) -> Result<String> {
    match archive.name_for_index(i) {
        Some(Ok(n)) => Ok(n.into_owned()),
        Some(Err(e)) => Err(zip_err(path, None)(e)),
        None => Err(zip_err(path, None)(ZipError::FileNotFound)),
    }
}

pub(super) fn load(path: &Path, wanted: &[&str]) -> Result<Loaded> {
    let mut archive = open(path)?;
    let mut infos = Vec::new();
    let mut docs = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut users = None;
    for i in 0..archive.len() {
        let name = name_of(&archive, path, i)?;
        check_duplicate(&mut seen, path, &name)?;
        let mut f = archive.by_index(i).map_err(zip_err(path, Some(&name)))?;
        let is_dir = f.is_dir();
        let size = f.size();
        if !is_dir && name == crate::backup::USERS && wanted.contains(&name.as_str()) {
            users = Some(super::read_users(path, &mut f)?);
        } else if !is_dir && wanted.contains(&name.as_str()) {
            if size > MAX_XML_BYTES {
                return Err(Error::TooLarge {
                    path: path.to_path_buf(),
                    member: name,
                    size,
                });
            }
            let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            f.read_to_end(&mut buf).map_err(|e| Error::Zip {
                path: path.to_path_buf(),
                member: Some(name.clone()),
                source: ZipError::Io(e),
            })?;
            docs.insert(name.clone(), buf);
        }
        infos.push(MemberInfo {
            path: name,
            kind: if is_dir { 'd' } else { 'f' },
            size,
        });
    }
    Ok(Loaded {
        container: Container::Zip,
        members: infos,
        docs,
        has_index: false,
        users,
        tar_members: Vec::new(),
    })
}

pub(super) fn write(
    input: &Path,
    replacements: &BTreeMap<String, Vec<u8>>,
    atomic: &mut Atomic,
    opts: &super::WriteOptions,
) -> Result<()> {
    let cancel = &opts.cancel;
    let mut archive = open(input)?;
    let file = atomic.handle()?;
    let mut out = ZipWriter::new(BufWriter::with_capacity(64 << 10, file));
    let werr = |e: ZipError| match e {
        ZipError::Io(source) => atomic.write_error(source),
        other => Error::Zip {
            path: input.to_path_buf(),
            member: None,
            source: other,
        },
    };
    for i in 0..archive.len() {
        cancel.check()?;
        let name = name_of(&archive, input, i)?;
        match replacements.get(&name) {
            Some(new) => {
                let f = archive
                    .by_index_raw(i)
                    .map_err(zip_err(input, Some(&name)))?;
                let mut options = SimpleFileOptions::default()
                    .compression_method(CompressionMethod::Deflated)
                    .compression_level(Some(i64::from(opts.level)))
                    .large_file(new.len() as u64 >= u64::from(u32::MAX));
                if let Some(t) = f.last_modified() {
                    options = options.last_modified_time(t);
                }
                if let Some(mode) = f.unix_mode() {
                    options = options.unix_permissions(mode);
                }
                drop(f);
                out.start_file(name.as_str(), options).map_err(werr)?;
                out.write_all(new).map_err(|e| atomic.write_error(e))?;
            }
            None => {
                let f = archive
                    .by_index_raw(i)
                    .map_err(zip_err(input, Some(&name)))?;
                out.raw_copy_file(f).map_err(|e| match e {
                    ZipError::Io(source) => atomic.write_error(source),
                    other => Error::Zip {
                        path: input.to_path_buf(),
                        member: Some(name.clone()),
                        source: other,
                    },
                })?;
            }
        }
    }
    let comment = archive.comment().to_vec();
    if !comment.is_empty() {
        out.set_raw_comment(comment.into_boxed_slice())
            .map_err(werr)?;
    }
    let mut buf = out.finish().map_err(werr)?;
    buf.flush().map_err(|e| atomic.write_error(e))?;
    Ok(())
}
