//! A reader that bounds how much one XML event may span, for the documents parsed as streams (`users.xml`,
//! every member `verify` checks): the parser holds a whole element or text run in memory, so without a bound a
//! member of one 2 GiB text run would cost 2 GiB.

use std::io::{self, BufRead, Read};

/// Wraps a [`BufRead`]; fails once more than `limit` bytes are consumed without a [`Bounded::reset`] (the
/// caller resets after every event). Checked when the buffer is refilled, so one event may overshoot by at most
/// the inner reader's buffer.
pub struct Bounded<R> {
    inner: R,
    limit: u64,
    used: u64,
}

impl<R: BufRead> Bounded<R> {
    /// Bounds `inner` to `limit` bytes per event.
    pub fn new(inner: R, limit: u64) -> Self {
        Bounded {
            inner,
            limit,
            used: 0,
        }
    }

    /// Starts counting again (call after each event).
    pub fn reset(&mut self) {
        self.used = 0;
    }

    fn over(&self) -> io::Result<()> {
        if self.used > self.limit {
            return Err(io::Error::other(TooLong(self.limit)));
        }
        Ok(())
    }
}

/// The error [`Bounded`] returns (inside an [`io::Error`]; [`TooLong::is`] tells it from a read error): one
/// event went past the limit, in bytes. The option that raises it is the caller's to name.
#[derive(Debug)]
pub struct TooLong(u64);

impl TooLong {
    /// Whether `e` is this error.
    pub fn is(e: &io::Error) -> bool {
        e.get_ref().is_some_and(|r| r.is::<TooLong>())
    }

    /// The limit that was exceeded, in bytes.
    pub fn limit(&self) -> u64 {
        self.0
    }

    /// This error as `e` carries it: an [`io::Error`] from [`Bounded`] (as quick-xml shares it, or not), or
    /// quick-xml's I/O error around one.
    pub fn within<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a TooLong> {
        let io = match e.downcast_ref::<quick_xml::Error>() {
            Some(quick_xml::Error::Io(io)) => &**io,
            _ => match e.downcast_ref::<std::sync::Arc<io::Error>>() {
                Some(io) => &**io,
                None => e.downcast_ref::<io::Error>()?,
            },
        };
        io.get_ref()?.downcast_ref::<TooLong>()
    }
}

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "one XML element or text run is over {} bytes", self.0)
    }
}

impl std::error::Error for TooLong {}

impl<R: BufRead> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.over()?;
        let n = self.inner.read(buf)?;
        self.used += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Bounded<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.over()?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.used += amt as u64;
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_run_fails_and_normal_documents_pass() {
        let long = format!("<a>{}</a>", "x".repeat(10_000));
        // Checked at each refill: an event may overshoot by at most one buffer.
        let small = io::BufReader::with_capacity(64, long.as_bytes());
        let mut xr = quick_xml::reader::Reader::from_reader(Bounded::new(small, 1000));
        let mut buf = Vec::new();
        let failed = loop {
            buf.clear();
            match xr.read_event_into(&mut buf) {
                Ok(quick_xml::events::Event::Eof) => break false,
                Ok(_) => xr.get_mut().reset(),
                Err(_) => break true,
            }
        };
        assert!(failed);
        let many = format!("<a>{}</a>", "<b>x</b>".repeat(10_000));
        let small = io::BufReader::with_capacity(64, many.as_bytes());
        let mut xr = quick_xml::reader::Reader::from_reader(Bounded::new(small, 1000));
        loop {
            buf.clear();
            match xr.read_event_into(&mut buf).unwrap() {
                quick_xml::events::Event::Eof => break,
                _ => xr.get_mut().reset(),
            }
        }
    }
}
