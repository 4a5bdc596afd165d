//! Splitting a byte stream into lines: partial lines held, CRLF handled,
//! overlong lines cut. Pure: bytes in, lines out.

/// The default cap on the length of one line (1 MiB).
pub const DEFAULT_MAX_LINE: usize = 1 << 20;

/// One complete line as handed out by [`LineSplitter::feed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// The line without its `\n` (and without a `\r` just before it).
    pub bytes: &'a [u8],
    /// Offset in the stream just after the line's `\n`.
    pub end: u64,
    /// `true` when the line was longer than the cap and its tail was discarded.
    pub truncated: bool,
}

/// Cuts a stream of bytes, fed in arbitrary chunks, into lines.
///
/// A line is complete when its `\n` arrives; until then its bytes are held.
/// A line longer than `max_line` keeps its first `max_line` bytes, the rest up
/// to the newline is dropped and the line is flagged `truncated`. Offsets count
/// raw bytes of the stream, whatever was cut or stripped.
#[derive(Debug)]
pub struct LineSplitter {
    held: Vec<u8>,
    max_line: usize,
    /// Bytes of the current line were dropped (it is over the cap).
    discarding: bool,
    /// The current line started before the reader did: drop it entirely.
    skipping: bool,
    /// Offset of the next byte to be fed.
    offset: u64,
    /// Offset just after the last complete line.
    line_end: u64,
}

impl LineSplitter {
    /// A splitter whose next byte is at `offset` in the stream.
    pub fn new(offset: u64, max_line: usize) -> LineSplitter {
        LineSplitter {
            held: Vec::new(),
            max_line: max_line.max(1),
            discarding: false,
            skipping: false,
            offset,
            line_end: offset,
        }
    }

    /// Offset of the next byte to be fed (everything before was consumed).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Offset just after the last complete line: where a reader restarting
    /// later must resume so that the held partial line is not lost.
    pub fn line_end(&self) -> u64 {
        self.line_end
    }

    /// Bytes of an incomplete line currently held.
    pub fn held_len(&self) -> u64 {
        self.offset - self.line_end
    }

    /// Starts over at `offset`, dropping any held partial line.
    pub fn reset(&mut self, offset: u64) {
        self.held.clear();
        self.discarding = false;
        self.skipping = false;
        self.offset = offset;
        self.line_end = offset;
    }

    /// Drops the bytes of the current (partial) line until its newline; used
    /// when starting in the middle of a line.
    pub fn skip_current_line(&mut self) {
        self.held.clear();
        self.discarding = false;
        self.skipping = true;
    }

    /// Feeds a chunk; `emit` is called for each line the chunk completes.
    pub fn feed(&mut self, mut data: &[u8], mut emit: impl FnMut(RawLine<'_>)) {
        while let Some(nl) = memchr::memchr(b'\n', data) {
            let piece = &data[..nl];
            self.offset += nl as u64 + 1;
            let end = self.offset;
            if self.skipping {
                self.skipping = false;
            } else if self.held.is_empty() && !self.discarding && piece.len() <= self.max_line {
                emit(RawLine {
                    bytes: strip_cr(piece),
                    end,
                    truncated: false,
                });
            } else {
                self.hold(piece);
                let truncated = self.discarding;
                emit(RawLine {
                    bytes: strip_cr(&self.held),
                    end,
                    truncated,
                });
                self.held.clear();
                self.discarding = false;
            }
            self.line_end = end;
            data = &data[nl + 1..];
        }
        if !data.is_empty() {
            self.offset += data.len() as u64;
            self.hold(data);
        }
    }

    /// Hands out the held partial line, if any, as a final line (the stream
    /// ended for good without a newline). A trailing `\r` is kept out.
    pub fn finish(&mut self, mut emit: impl FnMut(RawLine<'_>)) {
        if self.skipping || (self.held.is_empty() && !self.discarding) {
            self.skipping = false;
            self.line_end = self.offset;
            return;
        }
        let truncated = self.discarding;
        emit(RawLine {
            bytes: strip_cr(&self.held),
            end: self.offset,
            truncated,
        });
        self.held.clear();
        self.discarding = false;
        self.line_end = self.offset;
    }

    fn hold(&mut self, piece: &[u8]) {
        if self.discarding || self.skipping {
            return;
        }
        let room = self.max_line - self.held.len().min(self.max_line);
        if piece.len() > room {
            self.held.extend_from_slice(&piece[..room]);
            self.discarding = true;
        } else {
            self.held.extend_from_slice(piece);
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    match line {
        [rest @ .., b'\r'] => rest,
        _ => line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(chunks: &[&[u8]], max: usize) -> (Vec<(String, u64, bool)>, LineSplitter) {
        let mut s = LineSplitter::new(0, max);
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l| {
                out.push((
                    String::from_utf8_lossy(l.bytes).into_owned(),
                    l.end,
                    l.truncated,
                ))
            });
        }
        (out, s)
    }

    #[test]
    fn chunks_and_partial_lines() {
        let (out, s) = run(&[b"ab", b"c\nde", b"f\r\n", b"\n", b"gh"], 100);
        assert_eq!(
            out,
            vec![
                ("abc".to_string(), 4, false),
                ("def".to_string(), 9, false),
                (String::new(), 10, false)
            ]
        );
        assert_eq!(s.offset(), 12);
        assert_eq!(s.line_end(), 10);
        assert_eq!(s.held_len(), 2);
    }

    #[test]
    fn crlf_split_across_chunks() {
        let (out, _) = run(&[b"x\r", b"\ny\r\r\n"], 100);
        assert_eq!(out[0].0, "x");
        // Only one CR is part of the line terminator.
        assert_eq!(out[1].0, "y\r");
    }

    #[test]
    fn overlong_lines_are_cut_and_offsets_stay_exact() {
        let long = [b'a'; 25];
        let (out, s) = run(&[&long[..10], &long[10..], b"\nshort\n"], 8);
        assert_eq!(out[0], ("aaaaaaaa".to_string(), 26, true));
        assert_eq!(out[1], ("short".to_string(), 32, false));
        assert_eq!(s.line_end(), 32);
        // A long line in a single chunk, too.
        let (out, _) = run(&[b"0123456789\nok\n"], 4);
        assert_eq!(out[0], ("0123".to_string(), 11, true));
        assert_eq!(out[1], ("ok".to_string(), 14, false));
    }

    #[test]
    fn finish_emits_held_line() {
        let mut s = LineSplitter::new(100, 10);
        s.feed(b"tail-end\r", |_| panic!("no complete line yet"));
        let mut got = None;
        s.finish(|l| got = Some((l.bytes.to_vec(), l.end)));
        assert_eq!(got, Some((b"tail-end".to_vec(), 109)));
        s.finish(|_| panic!("nothing left"));
    }

    #[test]
    fn skip_current_line() {
        let mut s = LineSplitter::new(0, 10);
        s.skip_current_line();
        let mut out = Vec::new();
        s.feed(b"rest of line\nnext\n", |l| out.push(l.bytes.to_vec()));
        assert_eq!(out, vec![b"next".to_vec()]);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// The lines of `data` cut by hand, as the splitter should give them.
    fn reference(data: &[u8], max: usize) -> (Vec<(Vec<u8>, u64, bool)>, u64) {
        let mut out = Vec::new();
        let mut start = 0usize;
        for (i, &b) in data.iter().enumerate() {
            if b == b'\n' {
                let mut line = &data[start..i];
                let truncated = line.len() > max;
                if truncated {
                    line = &line[..max];
                }
                // One CR before the cut or the newline is not part of the line.
                if let [rest @ .., b'\r'] = line {
                    line = rest;
                }
                out.push((line.to_vec(), i as u64 + 1, truncated));
                start = i + 1;
            }
        }
        (out, start as u64)
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_lines(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..400),
            cuts in proptest::collection::vec(0usize..400, 0..20),
            max in 1usize..40,
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut s = LineSplitter::new(0, max);
            let mut got = Vec::new();
            let mut prev = 0;
            for c in cuts.into_iter().chain(std::iter::once(data.len())) {
                s.feed(&data[prev..c], |l| got.push((l.bytes.to_vec(), l.end, l.truncated)));
                prev = c;
            }
            let (want, line_end) = reference(&data, max);
            prop_assert_eq!(got, want);
            prop_assert_eq!(s.line_end(), line_end);
            prop_assert_eq!(s.offset(), data.len() as u64);
        }
    }
}
