//! The byte copier: records copied from the input as they are (header, data, descriptor), their central
//! records' offsets rewritten; rewritten members deflated with their original header's name, flags and times.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::plan::RawPlan;
use super::u16_at;
use super::write::{Deflated, Packed, deflate};
use crate::archive::output::Atomic;
use crate::archive::{Error, Result};

/// Bytes copied per kernel call, between two looks at the cancel and stop flags.
pub(super) const COPY_CHUNK: u64 = 16 << 20;

/// The byte copier's output: records written so far and their central records, offsets updated.
pub(super) struct Raw<'a> {
    input: &'a Path,
    plan: &'a RawPlan,
    atomic: &'a Atomic,
    /// Unbuffered: runs of untouched records go file to file in the kernel (copy_file_range).
    src: File,
    /// The input's read position.
    at: u64,
    out: BufWriter<File>,
    /// The output's length.
    pos: u64,
    central: Vec<Record>,
}

/// An entry's central record in the output.
#[derive(Clone)]
enum Record {
    /// Not written (yet).
    None,
    /// The input's record, its local header now at this offset.
    Copied(u32),
    /// A new record (a rewritten member's).
    New(Vec<u8>),
}

impl<'a> Raw<'a> {
    pub(super) fn new(input: &'a Path, plan: &'a RawPlan, atomic: &'a Atomic) -> Result<Self> {
        let src = File::open(input).map_err(|source| Error::Read {
            path: input.to_path_buf(),
            source,
        })?;
        Ok(Raw {
            input,
            plan,
            atomic,
            src,
            at: 0,
            out: BufWriter::with_capacity(64 << 10, atomic.handle()?),
            pos: 0,
            central: vec![Record::None; plan.entries.len()],
        })
    }

    /// A new output with the records of `entries` copied.
    pub(super) fn copying(
        input: &'a Path,
        plan: &'a RawPlan,
        atomic: &'a Atomic,
        entries: &[usize],
        cancel: &crate::archive::Cancel,
        stop: &AtomicBool,
    ) -> Result<Self> {
        let mut raw = Raw::new(input, plan, atomic)?;
        raw.copy(entries, cancel, stop)?;
        Ok(raw)
    }

    pub(super) fn read_err(&self, source: io::Error) -> Error {
        Error::Read {
            path: self.input.to_path_buf(),
            source,
        }
    }

    pub(super) fn too_big(&self) -> Error {
        Error::Member {
            path: self.input.to_path_buf(),
            member: String::new(),
            reason: "the output would need ZIP64".into(),
        }
    }

    pub(super) fn seek_to(&mut self, start: u64) -> Result<()> {
        if start != self.at {
            self.src
                .seek(SeekFrom::Start(start))
                .map_err(|e| self.read_err(e))?;
            self.at = start;
        }
        Ok(())
    }

    /// Copies the records of `entries` byte for byte (header, data, descriptor), runs of records adjacent in
    /// the input in one kernel copy per chunk.
    pub(super) fn copy(
        &mut self,
        entries: &[usize],
        cancel: &crate::archive::Cancel,
        stop: &AtomicBool,
    ) -> Result<()> {
        let plan = self.plan;
        let mut k = 0;
        while k < entries.len() {
            // The longest run of records that follow each other in the input.
            let first = &plan.entries[entries[k]];
            let mut run = k + 1;
            while run < entries.len()
                && plan.entries[entries[run]].start == plan.entries[entries[run - 1]].end
            {
                run += 1;
            }
            for &i in &entries[k..run] {
                let r = &plan.entries[i];
                let offset = u32::try_from(self.pos + (r.start - first.start))
                    .map_err(|_| self.too_big())?;
                self.central[i] = Record::Copied(offset);
            }
            let last = &plan.entries[entries[run - 1]];
            self.seek_to(first.start)?;
            let mut left = last.end - first.start;
            while left > 0 {
                cancel.check()?;
                if stop.load(Ordering::Relaxed) {
                    return Err(Error::Cancelled);
                }
                let want = left.min(COPY_CHUNK);
                let copied = io::copy(&mut (&mut self.src).take(want), &mut self.out)
                    .map_err(|err| self.atomic.write_error(err))?;
                self.at += copied;
                self.pos += copied;
                if copied != want {
                    return Err(Error::Member {
                        path: self.input.to_path_buf(),
                        member: last.name.clone(),
                        reason: "truncated entry".into(),
                    });
                }
                left -= want;
            }
            k = run;
        }
        Ok(())
    }

    /// Writes entry `i` with its new content compressed in `packed`: the original local header's name, flags
    /// and times, sizes in the header, no extra field.
    pub(super) fn rewrite(&mut self, i: usize, packed: Packed) -> Result<()> {
        let Packed { data, crc, len } = packed;
        let e = &self.plan.entries[i];
        let offset = u32::try_from(self.pos).map_err(|_| self.too_big())?;
        let mut record = e.central.clone();
        self.seek_to(e.start)?;
        let mut fixed = [0u8; 30];
        self.src
            .read_exact(&mut fixed)
            .map_err(|err| self.read_err(err))?;
        let nl = usize::from(u16_at(&fixed, 26).unwrap_or(0));
        let mut name = vec![0u8; nl];
        self.src
            .read_exact(&mut name)
            .map_err(|err| self.read_err(err))?;
        self.at = e.start + 30 + nl as u64;
        let (csize, usize_) = (
            u32::try_from(data.len()).map_err(|_| self.too_big())?,
            u32::try_from(len).map_err(|_| self.too_big())?,
        );
        // Data descriptor flag off: sizes are in the header.
        let flags = u16_at(&fixed, 6).unwrap_or(0) & !0x0008;
        let mut header = Vec::with_capacity(30 + nl);
        header.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        header.extend_from_slice(&20u16.to_le_bytes());
        header.extend_from_slice(&flags.to_le_bytes());
        header.extend_from_slice(&8u16.to_le_bytes());
        header.extend_from_slice(&fixed[10..14]); // time, date
        header.extend_from_slice(&crc.to_le_bytes());
        header.extend_from_slice(&csize.to_le_bytes());
        header.extend_from_slice(&usize_.to_le_bytes());
        header.extend_from_slice(&u16::try_from(nl).unwrap_or(0).to_le_bytes());
        header.extend_from_slice(&0u16.to_le_bytes());
        header.extend_from_slice(&name);
        self.out
            .write_all(&header)
            .and_then(|()| self.out.write_all(&data))
            .map_err(|err| self.atomic.write_error(err))?;
        self.pos += (header.len() + data.len()) as u64;
        // Central record: same, with the new method, sizes, CRC, no extra field.
        let cnl = usize::from(u16_at(&record, 28).unwrap_or(0));
        let cel = usize::from(u16_at(&record, 30).unwrap_or(0));
        record.splice(46 + cnl..46 + cnl + cel, []);
        record[6..8].copy_from_slice(&20u16.to_le_bytes());
        let cflags = u16_at(&record, 8).unwrap_or(0) & !0x0008;
        record[8..10].copy_from_slice(&cflags.to_le_bytes());
        record[10..12].copy_from_slice(&8u16.to_le_bytes());
        record[16..20].copy_from_slice(&crc.to_le_bytes());
        record[20..24].copy_from_slice(&csize.to_le_bytes());
        record[24..28].copy_from_slice(&usize_.to_le_bytes());
        record[30..32].copy_from_slice(&0u16.to_le_bytes());
        record[42..46].copy_from_slice(&offset.to_le_bytes());
        self.central[i] = Record::New(record);
        Ok(())
    }

    /// Writes the `tail` entries (rewritten or copied), then the central directory in the input's order and the
    /// end record.
    pub(super) fn finish(
        mut self,
        tail: &[usize],
        replacements: &BTreeMap<String, Vec<u8>>,
        mut pending: BTreeMap<String, Deflated<'_>>,
        opts: &crate::archive::WriteOptions,
    ) -> Result<()> {
        let cancel = &opts.cancel;
        let never = AtomicBool::new(false);
        let plan = self.plan;
        for &i in tail {
            cancel.check()?;
            let e = &plan.entries[i];
            let packed = match (pending.remove(e.name.as_str()), replacements.get(&e.name)) {
                (Some(job), _) => job.get(),
                (None, Some(new)) => deflate(new, opts.level),
                (None, None) => {
                    self.copy(&[i], cancel, &never)?;
                    continue;
                }
            };
            let packed = packed.map_err(|err| self.atomic.write_error(err))?;
            self.rewrite(i, packed)?;
        }
        let cd_offset = u32::try_from(self.pos).map_err(|_| self.too_big())?;
        let mut central = Vec::with_capacity(plan.entries.iter().map(|e| e.central.len()).sum());
        for (record, e) in self.central.iter().zip(&plan.entries) {
            match record {
                Record::None => {}
                Record::Copied(offset) => {
                    let at = central.len();
                    central.extend_from_slice(&e.central);
                    central[at + 42..at + 46].copy_from_slice(&offset.to_le_bytes());
                }
                Record::New(record) => central.extend_from_slice(record),
            }
        }
        let cd_size = u32::try_from(central.len()).map_err(|_| self.too_big())?;
        let count = u16::try_from(plan.entries.len()).map_err(|_| self.too_big())?;
        let mut eocd = Vec::with_capacity(22 + plan.comment.len());
        eocd.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        eocd.extend_from_slice(&[0, 0, 0, 0]);
        eocd.extend_from_slice(&count.to_le_bytes());
        eocd.extend_from_slice(&count.to_le_bytes());
        eocd.extend_from_slice(&cd_size.to_le_bytes());
        eocd.extend_from_slice(&cd_offset.to_le_bytes());
        eocd.extend_from_slice(&u16::try_from(plan.comment.len()).unwrap_or(0).to_le_bytes());
        eocd.extend_from_slice(&plan.comment);
        self.out
            .write_all(&central)
            .and_then(|()| self.out.write_all(&eocd))
            .and_then(|()| self.out.flush())
            .map_err(|err| self.atomic.write_error(err))
    }
}
