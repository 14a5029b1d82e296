//! The DATA receiver: bytes in, the message out, with dot-unstuffing (RFC 5321 4.5.2) and the
//! end of data recognised only as <CRLF>.<CRLF>. No I/O.
//!
//! SMTP smuggling (CVE-2023-51764 and kin) hides a second message behind an end-of-data that one
//! server honours and another does not: <LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF>. Here none of them
//! ends the data, and a message that holds one is refused whole, so no server behind us can be
//! made to split it either. Bare LF line ends are otherwise turned into CRLF (old scripts send
//! them); a bare CR is refused, as mox does.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line; `crlf` tells whether the previous line ended with a real CRLF.
    LineStart {
        crlf: bool,
    },
    InLine,
    /// Saw CR inside a line.
    Cr,
    /// Saw '.' at the start of a line.
    Dot {
        crlf: bool,
    },
    /// Saw ".\r" at the start of a line.
    DotCr {
        crlf: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// A non-standard end-of-data sequence: a smuggling attempt or a broken client.
    Smuggling,
    BareCr,
    TooBig,
}

pub struct DataReceiver {
    state: State,
    max: usize,
    /// Bytes of message seen, stored or not.
    seen: usize,
    smuggling: bool,
    bare_cr: bool,
}

impl DataReceiver {
    pub fn new(max: usize) -> DataReceiver {
        DataReceiver {
            state: State::LineStart { crlf: true },
            max,
            seen: 0,
            smuggling: false,
            bare_cr: false,
        }
    }

    /// Consumes input, appending the message bytes it holds to `out` (none past the size
    /// limit); returns how many bytes were used and whether the end of data was reached (the
    /// bytes after it belong to the next command).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
        for (i, &b) in input.iter().enumerate() {
            if self.step(b, out) {
                return (i + 1, true);
            }
        }
        (input.len(), false)
    }

    /// Whether the message has passed the size limit (what follows is read, not kept).
    pub fn too_big(&self) -> bool {
        self.seen > self.max
    }

    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        self.seen += bytes.len();
        if self.seen <= self.max {
            out.extend_from_slice(bytes);
        }
    }

    /// One byte through the state machine; true at the end of data.
    fn step(&mut self, b: u8, out: &mut Vec<u8>) -> bool {
        use State::*;
        self.state = match (self.state, b) {
            (LineStart { .. }, b'.') => Dot {
                crlf: matches!(self.state, LineStart { crlf: true }),
            },
            (LineStart { .. } | InLine, b'\r') => Cr,
            (LineStart { .. } | InLine, b'\n') => {
                self.emit(b"\r\n", out);
                LineStart { crlf: false }
            }
            (LineStart { .. } | InLine, b) => {
                self.emit(&[b], out);
                InLine
            }
            (Cr, b'\n') => {
                self.emit(b"\r\n", out);
                LineStart { crlf: true }
            }
            (Cr, b'\r') => {
                self.bare_cr = true;
                self.emit(b"\r", out);
                Cr
            }
            (Cr, b) => {
                self.bare_cr = true;
                self.emit(&[b'\r', b], out);
                InLine
            }
            (Dot { crlf }, b'\r') => DotCr { crlf },
            (Dot { .. }, b'\n') => {
                self.smuggling = true;
                self.emit(b".\r\n", out);
                LineStart { crlf: false }
            }
            // A leading dot is removed: ".." becomes ".", ".x" becomes "x".
            (Dot { .. }, b) => {
                self.emit(&[b], out);
                InLine
            }
            (DotCr { crlf: true }, b'\n') => return true,
            (DotCr { crlf: false }, b'\n') => {
                self.smuggling = true;
                self.emit(b".\r\n", out);
                LineStart { crlf: true }
            }
            (DotCr { .. }, b'\r') => {
                self.bare_cr = true;
                self.emit(b"\r", out);
                Cr
            }
            (DotCr { .. }, b) => {
                self.bare_cr = true;
                self.emit(&[b'\r', b], out);
                InLine
            }
        };
        false
    }

    /// Whether the message may be kept, or the first reason to refuse it.
    pub fn finish(self) -> Result<(), Defect> {
        if self.seen > self.max {
            Err(Defect::TooBig)
        } else if self.smuggling {
            Err(Defect::Smuggling)
        } else if self.bare_cr {
            Err(Defect::BareCr)
        } else {
            Ok(())
        }
    }
}

/// BDAT chunks carry the message as is (no dot-stuffing, no end marker); the same line-ending
/// rules apply to the whole: bare LF becomes CRLF, a bare CR refuses the message. Chunks are
/// fed as they come; a CR at the end of one chunk waits for the first byte of the next.
#[derive(Default)]
pub struct Canonicalizer {
    pending_cr: bool,
    bare_cr: bool,
}

impl Canonicalizer {
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    out.extend_from_slice(b"\r\n");
                    continue;
                }
                self.bare_cr = true;
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => out.extend_from_slice(b"\r\n"),
                b => out.push(b),
            }
        }
    }

    pub fn finish(self) -> Result<(), Defect> {
        if self.bare_cr || self.pending_cr {
            Err(Defect::BareCr)
        } else {
            Ok(())
        }
    }
}

/// A whole BDAT message at once.
pub fn canonicalize(raw: &[u8]) -> Result<Vec<u8>, Defect> {
    let mut c = Canonicalizer::default();
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 64);
    c.feed(raw, &mut out);
    c.finish().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(input: &[u8], max: usize) -> (Result<Vec<u8>, Defect>, usize, bool) {
        let mut r = DataReceiver::new(max);
        let mut out = Vec::new();
        let (used, done) = r.feed(input, &mut out);
        (r.finish().map(|()| out), used, done)
    }

    #[test]
    fn ends_only_at_crlf_dot_crlf_and_unstuffs() {
        let (body, used, done) = receive(
            b"Subject: x\r\n\r\n..dot\r\n.x\r\nend\r\n.\r\nQUIT\r\n",
            1000,
        );
        assert!(done);
        assert_eq!(used, b"Subject: x\r\n\r\n..dot\r\n.x\r\nend\r\n.\r\n".len());
        assert_eq!(body.unwrap(), b"Subject: x\r\n\r\n.dot\r\nx\r\nend\r\n");
    }

    #[test]
    fn empty_message_ends_at_once() {
        let (body, used, done) = receive(b".\r\n", 10);
        assert!(done && used == 3);
        assert_eq!(body.unwrap(), b"");
    }

    #[test]
    fn smuggling_sequences_do_not_end_data_and_refuse_the_message() {
        for trick in [
            &b"a\n.\nMAIL FROM:<x@y>\r\n"[..],
            b"a\n.\r\nMAIL",
            b"a\r\n.\nMAIL",
            b"a\r.\r\nb",
        ] {
            let mut input = trick.to_vec();
            input.extend_from_slice(b"\r\n.\r\n");
            let (body, used, done) = receive(&input, 1000);
            assert!(done, "{trick:?}");
            assert_eq!(
                used,
                input.len(),
                "{trick:?}: the trick must not end the data early"
            );
            assert!(body.is_err(), "{trick:?}");
        }
    }

    #[test]
    fn bare_lf_lines_are_made_crlf() {
        let (body, _, done) = receive(b"a\nb\r\n.\r\n", 100);
        assert!(done);
        assert_eq!(body.unwrap(), b"a\r\nb\r\n");
    }

    #[test]
    fn bare_cr_is_refused() {
        let (body, _, _) = receive(b"a\rb\r\n.\r\n", 100);
        assert_eq!(body, Err(Defect::BareCr));
    }

    #[test]
    fn too_big_keeps_reading_to_the_end_but_stores_no_more() {
        let mut r = DataReceiver::new(10);
        let mut out = Vec::new();
        let (_, done) = r.feed(b"0123456789abcdef\r\n", &mut out);
        assert!(!done);
        assert!(out.len() <= 10);
        let (_, done) = r.feed(b".\r\n", &mut out);
        assert!(done);
        assert_eq!(r.finish(), Err(Defect::TooBig));
    }

    #[test]
    fn end_marker_split_across_reads() {
        let mut r = DataReceiver::new(100);
        let mut out = Vec::new();
        assert_eq!(r.feed(b"hello\r", &mut out), (6, false));
        assert_eq!(r.feed(b"\n.", &mut out), (2, false));
        assert_eq!(r.feed(b"\r", &mut out), (1, false));
        assert_eq!(r.feed(b"\nNEXT", &mut out), (1, true));
        assert!(r.finish().is_ok());
        assert_eq!(out, b"hello\r\n");
    }

    #[test]
    fn canonicalize_bdat() {
        assert_eq!(canonicalize(b"a\nb\r\nc").unwrap(), b"a\r\nb\r\nc");
        assert_eq!(canonicalize(b"a\rb"), Err(Defect::BareCr));
        assert_eq!(canonicalize(b"a\r"), Err(Defect::BareCr));
        // A CRLF split between two chunks is still a CRLF.
        let mut c = Canonicalizer::default();
        let mut out = Vec::new();
        c.feed(b"a\r", &mut out);
        c.feed(b"\nb", &mut out);
        assert!(c.finish().is_ok());
        assert_eq!(out, b"a\r\nb");
    }
}
