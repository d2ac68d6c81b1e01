//! gzip read as zlib reads it: Moodle's `tgz_extractor` reads backups through `gzopen`/`gzread`
//! (`lib/filestorage/tgz_extractor.php`), whose header parser (`inflate()` in zlib's `inflate.c`) takes every
//! legal header: an extra field of up to 64 KiB and a name and comment of any length, skipped as they stream
//! by (the flate2 decoder refuses a name or comment of 64 KiB or more). Members follow one another; each
//! member's CRC-32 and length are checked. Bytes after the last member that do not start another member are an
//! error (`gzread` ignores them; the tool does not guess what they are).

use std::io::{self, BufRead, Read};

use flate2::Crc;
use zlib_rs::{Inflate, InflateFlush, Status};

use super::blockmap::{BlockMap, Recorder};

/// Header flags (RFC 1952 §2.3.1).
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// A multi-member gzip decoder over a buffered reader.
pub struct Gunzip<R: BufRead> {
    r: Counted<R>,
    inflate: Inflate,
    state: State,
    crc: Crc,
    /// Builds the block map of the first member, when asked for ([`Gunzip::mapping`]).
    recorder: Option<Box<Recorder>>,
    members: u32,
}

enum State {
    Header,
    Body,
    Trailer,
    Done,
}

impl<R: BufRead> Gunzip<R> {
    /// Decodes `r`, which must start with a gzip member.
    pub fn new(r: R) -> Self {
        Gunzip {
            r: Counted { inner: r, n: 0 },
            // Raw deflate, 32 KiB window: the gzip framing is read here.
            inflate: Inflate::new(false, 15),
            state: State::Header,
            crc: Crc::new(),
            recorder: None,
            members: 0,
        }
    }

    /// Like [`Gunzip::new`], also recording the block map of the (single) member, for the write to reuse the
    /// compressed stream ([`Gunzip::block_map`]).
    pub fn mapping(r: R) -> Self {
        let mut g = Gunzip::new(r);
        g.recorder = Some(Box::new(Recorder::new()));
        g
    }

    /// The recorder, while a map is being built.
    pub(super) fn recorder(&mut self) -> Option<&mut Recorder> {
        self.recorder.as_deref_mut()
    }

    /// The block map, once the stream has been read to its end, when it was recorded and is whole.
    pub fn block_map(&mut self) -> Option<BlockMap> {
        self.recorder.take().and_then(|r| r.finish())
    }

    fn body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let flush = if self.recorder.is_some() {
            InflateFlush::Block
        } else {
            InflateFlush::NoFlush
        };
        loop {
            let input = self.r.fill_buf()?;
            if input.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "gzip stream ends early",
                ));
            }
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            let status = self
                .inflate
                .decompress(input, buf, flush)
                .map_err(|_| invalid("corrupt deflate stream"))?;
            let used = (self.inflate.total_in() - in0) as usize;
            let produced = (self.inflate.total_out() - out0) as usize;
            let left = input.len() - used;
            self.r.consume(used);
            if produced > 0 {
                self.crc.update(&buf[..produced]);
                if let Some(rec) = &mut self.recorder {
                    rec.output(&buf[..produced]);
                }
            }
            match status {
                Status::StreamEnd => {
                    if let Some(rec) = &mut self.recorder {
                        rec.end(self.inflate.total_in());
                    }
                    self.state = State::Trailer;
                    return Ok(produced);
                }
                // Stopped with input left and room left: a block boundary (zlib's Z_BLOCK). A stop that also
                // used the last input byte or filled the buffer is not taken for one (a boundary missed there
                // only joins two blocks).
                Status::Ok if left > 0 && produced < buf.len() => {
                    if let Some(rec) = &mut self.recorder {
                        rec.boundary(self.inflate.total_in());
                    }
                }
                _ => {}
            }
            if produced > 0 {
                return Ok(produced);
            }
            if used == 0 && left > 0 && !matches!(status, Status::Ok) {
                return Err(invalid("corrupt deflate stream"));
            }
        }
    }
}

impl<R: BufRead> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Header => {
                    header(&mut self.r)?;
                    self.members += 1;
                    if self.members == 1 {
                        if let Some(rec) = &mut self.recorder {
                            rec.deflate_at(self.r.n);
                        }
                    } else if let Some(rec) = &mut self.recorder {
                        rec.another_member();
                    }
                    self.inflate.reset(false);
                    self.crc.reset();
                    self.state = State::Body;
                }
                State::Body => {
                    let n = self.body(buf)?;
                    if n > 0 {
                        return Ok(n);
                    }
                }
                State::Trailer => {
                    let mut trailer = [0u8; 8];
                    self.r.read_exact(&mut trailer)?;
                    let (crc, len) = (le32(&trailer[..4]), le32(&trailer[4..]));
                    if crc != self.crc.sum() || len != self.crc.amount() {
                        return Err(invalid(
                            "corrupt gzip stream: its CRC or length does not match the data",
                        ));
                    }
                    self.state = if self.r.fill_buf()?.is_empty() {
                        State::Done
                    } else {
                        State::Header
                    };
                }
            }
        }
    }
}

/// A buffered reader counting the bytes consumed (where the deflate data starts in the file).
struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.n += amt as u64;
        self.inner.consume(amt);
    }
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// Reads exactly `buf.len()` bytes into `buf`, hashing them.
fn take(r: &mut impl BufRead, buf: &mut [u8], crc: &mut Crc) -> io::Result<()> {
    r.read_exact(buf)?;
    crc.update(buf);
    Ok(())
}

/// Skips `n` bytes, or up to and including a NUL when `n` is `None`, hashing them, never holding more than the
/// reader's buffer.
fn skip(r: &mut impl BufRead, mut n: Option<usize>, crc: &mut Crc) -> io::Result<()> {
    loop {
        let avail = r.fill_buf()?;
        if avail.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "gzip header ends early",
            ));
        }
        let (used, done) = match n {
            Some(left) => {
                let used = left.min(avail.len());
                n = Some(left - used);
                (used, left == used)
            }
            None => match avail.iter().position(|&b| b == 0) {
                Some(at) => (at + 1, true),
                None => (avail.len(), false),
            },
        };
        crc.update(&avail[..used]);
        r.consume(used);
        if done {
            return Ok(());
        }
    }
}

/// Reads one member header (RFC 1952 §2.3), whatever the size of its optional fields.
fn header(r: &mut impl BufRead) -> io::Result<()> {
    let mut crc = Crc::new();
    let mut fixed = [0u8; 10];
    take(r, &mut fixed, &mut crc)?;
    if fixed[..2] != [0x1f, 0x8b] || fixed[2] != 8 {
        return Err(invalid("invalid gzip header"));
    }
    let flags = fixed[3];
    if flags & 0xe0 != 0 {
        // zlib: "unknown header flags set".
        return Err(invalid("invalid gzip header: unknown flags set"));
    }
    if flags & FEXTRA != 0 {
        let mut xlen = [0u8; 2];
        take(r, &mut xlen, &mut crc)?;
        skip(r, Some(usize::from(u16::from_le_bytes(xlen))), &mut crc)?;
    }
    if flags & FNAME != 0 {
        skip(r, None, &mut crc)?;
    }
    if flags & FCOMMENT != 0 {
        skip(r, None, &mut crc)?;
    }
    if flags & FHCRC != 0 {
        let mut stored = [0u8; 2];
        r.read_exact(&mut stored)?;
        // zlib: "header crc mismatch".
        if u32::from(u16::from_le_bytes(stored)) != crc.sum() & 0xffff {
            return Err(invalid("invalid gzip header: header CRC mismatch"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A gzip member of `data` with a name and comment of `long` bytes each, an extra field of 65 535 bytes
    /// and a header CRC.
    fn member(data: &[u8], long: usize) -> Vec<u8> {
        let mut h = vec![
            0x1f,
            0x8b,
            8,
            FHCRC | FEXTRA | FNAME | FCOMMENT,
            0,
            0,
            0,
            0,
            0,
            255,
        ];
        h.extend_from_slice(&u16::MAX.to_le_bytes());
        h.extend(std::iter::repeat_n(b'x', usize::from(u16::MAX)));
        for _ in 0..2 {
            h.extend(std::iter::repeat_n(b'n', long));
            h.push(0);
        }
        let mut crc = Crc::new();
        crc.update(&h);
        h.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
        let mut e = flate2::write::DeflateEncoder::new(h, flate2::Compression::fast());
        e.write_all(data).unwrap();
        let mut out = e.finish().unwrap();
        let mut crc = Crc::new();
        crc.update(data);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&crc.amount().to_le_bytes());
        out
    }

    fn gunzip(b: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Gunzip::new(io::BufReader::with_capacity(4096, b)).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn headers_of_any_size_and_members_in_a_row() {
        let mut b = member(b"hello ", 200_000);
        b.extend_from_slice(&member(b"world", 0));
        assert_eq!(gunzip(&b).unwrap(), b"hello world");
        // The flate2 decoder refuses such a header; zlib (gzread) reads it.
        let mut out = Vec::new();
        assert!(
            flate2::read::MultiGzDecoder::new(&b[..])
                .read_to_end(&mut out)
                .is_err()
        );
    }

    #[test]
    fn damage_is_an_error() {
        let good = member(b"hello", 10);
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert!(gunzip(&bad_crc).is_err());
        let mut bad_hcrc = good.clone();
        bad_hcrc[20] = b'y';
        assert!(gunzip(&bad_hcrc).is_err());
        assert!(gunzip(&good[..good.len() - 3]).is_err());
        let mut trailing = good.clone();
        trailing.extend_from_slice(b"not gzip");
        assert!(gunzip(&trailing).is_err());
        assert_eq!(gunzip(&good).unwrap(), b"hello");
    }
}
