//! Streaming line input: a file or stdin read in big buffers, one line at a time,
//! never the whole file in memory.
//!
//! Lines are split on `\n`, trailing `\r`/`\n` are stripped (as fail2ban-regex's
//! `rstrip('\r\n')`), bytes are decoded as UTF-8 with replacement characters for
//! invalid sequences (or as Latin-1), NULs are kept. A line longer than
//! [`MAX_LINE`] is cut at that length and the rest of it skipped, which bounds
//! memory on hostile input.

use std::io::{self, BufRead};

/// Longest line kept, in bytes; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 16 << 20;

/// How bytes become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8; invalid sequences become U+FFFD.
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
}

impl Encoding {
    /// Python-style names: `utf-8`, `UTF8`, `latin-1`, `iso-8859-1`, `ascii`...
    pub fn from_name(name: &str) -> Option<Encoding> {
        let n: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match n.as_str() {
            "utf8" | "ascii" | "usascii" => Some(Encoding::Utf8),
            "latin1" | "iso88591" | "l1" | "8859" | "cp819" => Some(Encoding::Latin1),
            _ => None,
        }
    }

    /// The name fail2ban-regex prints in its `Use encoding` line.
    pub fn display_name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Latin1 => "ISO-8859-1",
        }
    }

    /// Decode `bytes` into `out` (cleared first).
    pub fn decode_into(self, bytes: &[u8], out: &mut String) {
        out.clear();
        match self {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => out.push_str(s),
                Err(_) => out.push_str(&String::from_utf8_lossy(bytes)),
            },
            Encoding::Latin1 => out.extend(bytes.iter().map(|&b| b as char)),
        }
    }
}

/// Reads lines from any `BufRead`, reusing its buffers.
pub struct LineReader<R> {
    inner: R,
    raw: Vec<u8>,
    encoding: Encoding,
    bytes_read: u64,
    keep_partial: bool,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R, encoding: Encoding) -> LineReader<R> {
        LineReader {
            inner,
            raw: Vec::with_capacity(4096),
            encoding,
            bytes_read: 0,
            keep_partial: true,
        }
    }

    /// Whether a last line without its `\n` is returned (default) or dropped, as
    /// fail2ban-regex drops it from files (a line still being written).
    pub fn keep_partial_last_line(mut self, keep: bool) -> Self {
        self.keep_partial = keep;
        self
    }

    /// Bytes consumed so far (for progress).
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Read the next line into `line` (without its line end). `Ok(false)` at the end.
    pub fn next_line(&mut self, line: &mut String) -> io::Result<bool> {
        self.raw.clear();
        let mut any = false;
        let mut complete = false;
        let mut direct = false;
        let encoding = self.encoding;
        loop {
            let (done, used) = {
                let buf = match self.inner.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if buf.is_empty() {
                    break;
                }
                any = true;
                match memchr::memchr(b'\n', buf) {
                    // The whole line is in the buffer: decode it from there.
                    Some(i) if self.raw.is_empty() => {
                        encoding.decode_into(trim_end(&buf[..i.min(MAX_LINE)]), line);
                        direct = true;
                        (true, i + 1)
                    }
                    Some(i) => {
                        keep(&mut self.raw, &buf[..i]);
                        (true, i + 1)
                    }
                    None => {
                        keep(&mut self.raw, buf);
                        (false, buf.len())
                    }
                }
            };
            self.inner.consume(used);
            self.bytes_read += used as u64;
            if done {
                complete = true;
                break;
            }
        }
        if direct {
            return Ok(true);
        }
        if !any || (!complete && !self.keep_partial) {
            line.clear();
            return Ok(false);
        }
        encoding.decode_into(trim_end(&self.raw), line);
        Ok(true)
    }
}

/// The bytes without trailing `\r` and `\n`.
fn trim_end(b: &[u8]) -> &[u8] {
    let mut end = b.len();
    while end > 0 && matches!(b[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    &b[..end]
}

fn keep(raw: &mut Vec<u8>, bytes: &[u8]) {
    let room = MAX_LINE.saturating_sub(raw.len());
    raw.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// fail2ban-regex's rule for lines it does not test: empty ones and `#` comments.
pub fn is_skipped(line: &str) -> bool {
    line.is_empty() || line.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], enc: Encoding) -> Vec<String> {
        // A tiny buffer makes lines straddle buffer refills.
        let mut r = LineReader::new(io::BufReader::with_capacity(3, input), enc);
        let mut out = Vec::new();
        let mut l = String::new();
        while r.next_line(&mut l).unwrap() {
            out.push(l.clone());
        }
        assert_eq!(r.bytes_read(), input.len() as u64);
        out
    }

    #[test]
    fn splits_and_strips_line_ends() {
        let got = lines(b"a\r\nbb\n\nccc\r\r\nlast", Encoding::Utf8);
        assert_eq!(got, ["a", "bb", "", "ccc", "last"]);
    }

    #[test]
    fn partial_last_line_can_be_dropped() {
        let input: &[u8] = b"one\ntwo";
        let mut r = LineReader::new(input, Encoding::Utf8).keep_partial_last_line(false);
        let mut l = String::new();
        assert!(r.next_line(&mut l).unwrap());
        assert_eq!(l, "one");
        assert!(!r.next_line(&mut l).unwrap());
    }

    #[test]
    fn invalid_utf8_is_replaced_and_nul_kept() {
        let got = lines(b"x\xff\xfey\n\0z\n", Encoding::Utf8);
        assert_eq!(got, ["x\u{fffd}\u{fffd}y", "\0z"]);
    }

    #[test]
    fn latin1_maps_bytes() {
        let got = lines(b"caf\xe9\n", Encoding::Latin1);
        assert_eq!(got, ["caf\u{e9}"]);
    }

    #[test]
    fn long_lines_survive() {
        let mut input = vec![b'a'; 1 << 20];
        input.extend_from_slice(b"\nshort\n");
        let got = lines(&input, Encoding::Utf8);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), 1 << 20);
        assert_eq!(got[1], "short");
    }

    #[test]
    fn encoding_names() {
        assert_eq!(Encoding::from_name("UTF-8"), Some(Encoding::Utf8));
        assert_eq!(Encoding::from_name("latin-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::from_name("ISO-8859-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::from_name("klingon"), None);
    }

    #[test]
    fn skip_rule() {
        assert!(is_skipped(""));
        assert!(is_skipped("# comment"));
        assert!(!is_skipped(" # not a comment"));
    }
}
