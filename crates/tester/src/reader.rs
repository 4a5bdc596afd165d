//! Streaming line input: a file or stdin read in big blocks, never the whole file
//! in memory.
//!
//! [`LineReader::next_chunk`] hands out the text of as many whole lines as one
//! block holds, borrowed from the reader's buffer: bytes that are valid UTF-8 (the
//! usual case) are checked once per block and not copied; a block with invalid
//! sequences is decoded with replacement characters (or as Latin-1) into a second
//! buffer. [`chunk_lines`] splits a chunk into lines with trailing `\r`/`\n`
//! stripped (as fail2ban-regex's `rstrip('\r\n')`); NULs are kept. A line longer
//! than [`MAX_LINE`] is cut at that length and the rest of it skipped, which bounds
//! memory on hostile input.

use std::io::{self, Read};

/// Longest line kept, in bytes; the rest of a longer line is dropped.
pub const MAX_LINE: usize = 16 << 20;

/// Bytes asked of the source per read.
const BLOCK: usize = 256 << 10;

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

    /// The text of `bytes`: borrowed when they are valid UTF-8 (and, for Latin-1,
    /// ASCII), else decoded into `scratch`.
    pub fn decode<'a>(self, bytes: &'a [u8], scratch: &'a mut String) -> &'a str {
        match self {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => s,
                Err(_) => {
                    scratch.clear();
                    scratch.push_str(&String::from_utf8_lossy(bytes));
                    scratch
                }
            },
            Encoding::Latin1 => {
                scratch.clear();
                scratch.extend(bytes.iter().map(|&b| b as char));
                scratch
            }
        }
    }
}

/// Reads whole lines from any `Read` in blocks, reusing its buffers.
pub struct LineReader<R> {
    inner: R,
    /// `buf[pos..end]` is read and not handed out yet.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// `buf[pos..scanned]` is known to hold no `\n`.
    scanned: usize,
    eof: bool,
    /// The line at `buf[..MAX_LINE]` is longer than that: what follows it up to
    /// its `\n` is being dropped.
    cut: bool,
    encoding: Encoding,
    total_read: u64,
    keep_partial: bool,
    /// Decoded text of a chunk that was not valid UTF-8 as it stood.
    text: String,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R, encoding: Encoding) -> LineReader<R> {
        LineReader {
            inner,
            buf: vec![0; BLOCK],
            pos: 0,
            end: 0,
            scanned: 0,
            eof: false,
            cut: false,
            encoding,
            total_read: 0,
            keep_partial: true,
            text: String::new(),
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
        self.total_read - (self.end - self.pos) as u64
    }

    /// The text of the next whole lines: one or more lines each ended by `\n`, or
    /// a single last line without it (split it with [`chunk_lines`]). `Ok(None)`
    /// at the end.
    pub fn next_chunk(&mut self) -> io::Result<Option<&str>> {
        loop {
            if self.cut {
                // Drop the rest of an over-long line up to its end.
                match memchr::memchr(b'\n', &self.buf[MAX_LINE..self.end]) {
                    Some(i) => {
                        self.cut = false;
                        self.pos = MAX_LINE + i + 1;
                        self.scanned = self.pos;
                        return Ok(Some(self.decode(0, MAX_LINE)));
                    }
                    None if self.eof => {
                        self.cut = false;
                        self.pos = self.end;
                        self.scanned = self.end;
                        if !self.keep_partial {
                            return Ok(None);
                        }
                        return Ok(Some(self.decode(0, MAX_LINE)));
                    }
                    None => {
                        // Counted as read; nothing of it is kept.
                        self.end = MAX_LINE;
                        self.scanned = MAX_LINE;
                        self.fill()?;
                        continue;
                    }
                }
            }
            let from = self.scanned.max(self.pos);
            if let Some(i) = memchr::memrchr(b'\n', &self.buf[from..self.end]) {
                let start = self.pos;
                self.pos = from + i + 1;
                if self.pos - start > MAX_LINE {
                    // Only a buffer grown for a long line holds this much: hand out
                    // its first line alone, cut to MAX_LINE.
                    let nl = start + memchr::memchr(b'\n', &self.buf[start..self.pos]).unwrap_or(0);
                    self.pos = nl + 1;
                    self.scanned = self.pos;
                    return Ok(Some(self.decode(start, nl.min(start + MAX_LINE))));
                }
                self.scanned = self.pos;
                return Ok(Some(self.decode(start, self.pos)));
            }
            self.scanned = self.end;
            if self.eof {
                if self.pos == self.end {
                    return Ok(None);
                }
                let start = self.pos;
                self.pos = self.end;
                if !self.keep_partial {
                    return Ok(None);
                }
                return Ok(Some(self.decode(start, self.end)));
            }
            if self.end - self.pos >= MAX_LINE {
                self.compact();
                self.end = MAX_LINE;
                self.scanned = MAX_LINE;
                self.cut = true;
            }
            self.fill()?;
        }
    }

    fn decode(&mut self, start: usize, end: usize) -> &str {
        self.encoding.decode(&self.buf[start..end], &mut self.text)
    }

    /// Move what is not handed out yet to the front of the buffer.
    fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.scanned -= self.pos.min(self.scanned);
            self.pos = 0;
        }
    }

    /// Read one more block (or less) after what the buffer holds.
    fn fill(&mut self) -> io::Result<()> {
        self.compact();
        if self.buf.len() - self.end < BLOCK / 2 {
            // A line longer than the buffer: grow it (up to MAX_LINE and a block).
            let len = (self.buf.len() * 2)
                .min(MAX_LINE + BLOCK)
                .max(self.end + BLOCK / 2);
            self.buf.resize(len, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    self.total_read += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

/// The lines of a chunk from [`LineReader::next_chunk`], without their line ends.
pub fn chunk_lines(chunk: &str) -> ChunkLines<'_> {
    ChunkLines {
        rest: chunk,
        nl: NewlineFinder::new(),
    }
}

/// Iterator of [`chunk_lines`].
pub struct ChunkLines<'a> {
    rest: &'a str,
    nl: NewlineFinder,
}

impl<'a> Iterator for ChunkLines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let line = match self.nl.find(self.rest.as_bytes()) {
            Some(i) => {
                let line = &self.rest[..i];
                self.rest = &self.rest[i + 1..];
                line
            }
            None => std::mem::take(&mut self.rest),
        };
        let b = line.as_bytes();
        let mut end = b.len();
        while end > 0 && b[end - 1] == b'\r' {
            end -= 1;
        }
        Some(&line[..end])
    }
}

/// `memchr(b'\n')` with the CPU's vector routine picked once per chunk rather
/// than once per line (lines are short: the per-call dispatch showed).
struct NewlineFinder {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl NewlineFinder {
    fn new() -> NewlineFinder {
        NewlineFinder {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    #[inline]
    fn find(&self, hay: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.avx2 {
            return one.find(hay);
        }
        memchr::memchr(b'\n', hay)
    }
}

/// fail2ban-regex's rule for lines it does not test: empty ones and `#` comments.
pub fn is_skipped(line: &str) -> bool {
    line.is_empty() || line.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that gives at most `step` bytes per read, so that lines straddle
    /// reads.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn read_all<R: Read>(mut r: LineReader<R>) -> (Vec<String>, u64) {
        let mut out = Vec::new();
        while let Some(chunk) = r.next_chunk().unwrap() {
            out.extend(chunk_lines(chunk).map(str::to_string));
        }
        (out, r.bytes_read())
    }

    fn lines(input: &[u8], enc: Encoding) -> Vec<String> {
        let mut seen = None;
        for step in [1, 3, 7, 1 << 20] {
            let (got, n) = read_all(LineReader::new(Trickle { data: input, step }, enc));
            assert_eq!(n, input.len() as u64, "step {step}");
            if let Some(prev) = &seen {
                assert_eq!(&got, prev, "step {step}");
            }
            seen = Some(got);
        }
        seen.unwrap()
    }

    #[test]
    fn splits_and_strips_line_ends() {
        let got = lines(b"a\r\nbb\n\nccc\r\r\nlast", Encoding::Utf8);
        assert_eq!(got, ["a", "bb", "", "ccc", "last"]);
    }

    /// The chunk split against the plain one, on chunks of many lengths, with
    /// line ends anywhere.
    #[test]
    fn chunk_split_agrees_with_plain_split() {
        let plain = |c: &str| -> Vec<String> {
            let mut v: Vec<String> = c
                .split('\n')
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect();
            if c.is_empty() || c.ends_with('\n') {
                v.pop();
            }
            v
        };
        let mut x = 7u64;
        for len in 0..300 {
            for _ in 0..8 {
                let c: String = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        match x % 23 {
                            0..=2 => '\n',
                            3 => '\r',
                            4 => 'é',
                            _ => char::from(b'a' + (x % 26) as u8),
                        }
                    })
                    .collect();
                let got: Vec<String> = chunk_lines(&c).map(str::to_string).collect();
                assert_eq!(got, plain(&c), "{c:?}");
            }
        }
    }

    #[test]
    fn partial_last_line_can_be_dropped() {
        let input: &[u8] = b"one\ntwo";
        let r = LineReader::new(input, Encoding::Utf8).keep_partial_last_line(false);
        assert_eq!(read_all(r).0, ["one"]);
    }

    #[test]
    fn invalid_utf8_is_replaced_and_nul_kept() {
        let got = lines(b"ok\nx\xff\xfey\n\0z\n", Encoding::Utf8);
        assert_eq!(got, ["ok", "x\u{fffd}\u{fffd}y", "\0z"]);
    }

    #[test]
    fn latin1_maps_bytes() {
        let got = lines(b"caf\xe9\n", Encoding::Latin1);
        assert_eq!(got, ["caf\u{e9}"]);
    }

    #[test]
    fn lines_across_many_blocks() {
        // Lines of every length around the block size, so that some straddle blocks.
        let mut input = Vec::new();
        let mut want = Vec::new();
        let mut i = 0usize;
        while input.len() < 3 * BLOCK {
            let l: String = (0..(i * 37) % 1000)
                .map(|k| (b'a' + (k % 26) as u8) as char)
                .collect();
            input.extend_from_slice(l.as_bytes());
            input.extend_from_slice(if i.is_multiple_of(5) { b"\r\n" } else { b"\n" });
            want.push(l);
            i += 1;
        }
        let (got, n) = read_all(LineReader::new(&input[..], Encoding::Utf8));
        assert_eq!(n, input.len() as u64);
        assert_eq!(got, want);
    }

    #[test]
    fn long_lines_survive() {
        let mut input = vec![b'a'; 1 << 20];
        input.extend_from_slice(b"\nshort\n");
        let (got, _) = read_all(LineReader::new(&input[..], Encoding::Utf8));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), 1 << 20);
        assert_eq!(got[1], "short");
    }

    #[test]
    fn over_long_lines_are_cut() {
        for tail in [&b"\nnext\n"[..], b"\nnext", b""] {
            let mut input = vec![b'x'; MAX_LINE + BLOCK * 3 + 5];
            input.extend_from_slice(tail);
            let (got, n) = read_all(LineReader::new(&input[..], Encoding::Utf8));
            assert_eq!(n, input.len() as u64);
            assert_eq!(got[0].len(), MAX_LINE);
            let rest: Vec<&str> = got[1..].iter().map(String::as_str).collect();
            assert_eq!(
                rest,
                if tail.is_empty() {
                    vec![]
                } else {
                    vec!["next"]
                }
            );
        }
        // Just over the limit.
        let mut input = vec![b'y'; MAX_LINE + 10];
        input.extend_from_slice(b"\nz\n");
        let (got, _) = read_all(LineReader::new(&input[..], Encoding::Utf8));
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), MAX_LINE);
        assert_eq!(got[1], "z");
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
