//! Lines from any reader: standard input (`bailiff regex -`), a pipe, a
//! whole file read once.

use std::io::{self, Read};

use crate::encoding::Encoding;
use crate::lines::LineSplitter;

/// One line from a [`ReaderSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadLine {
    /// The decoded line without its terminator.
    pub text: String,
    /// Offset just after the line in the stream.
    pub offset: u64,
    /// Cut at the line-length cap.
    pub truncated: bool,
    /// Some bytes were invalid in the encoding and were replaced.
    pub replaced: bool,
}

/// Reads lines from a [`Read`] (standard input, a pipe) until it ends. The
/// last line is returned even without a final newline.
pub struct ReaderSource<R> {
    reader: R,
    splitter: LineSplitter,
    encoding: Encoding,
    buf: Vec<u8>,
    ready: std::collections::VecDeque<ReadLine>,
    done: bool,
}

impl ReaderSource<io::Stdin> {
    /// Lines from standard input.
    pub fn stdin(encoding: Encoding) -> Self {
        ReaderSource::new(io::stdin(), encoding, crate::lines::DEFAULT_MAX_LINE)
    }
}

impl<R: Read> ReaderSource<R> {
    /// Lines from `reader`, decoded per `encoding`, cut at `max_line` bytes.
    pub fn new(reader: R, encoding: Encoding, max_line: usize) -> Self {
        ReaderSource {
            reader,
            splitter: LineSplitter::new(0, max_line),
            encoding,
            buf: vec![0u8; 64 * 1024],
            ready: std::collections::VecDeque::new(),
            done: false,
        }
    }

    /// The next line, `None` at the end of input. Blocks while the reader does.
    pub fn next_line(&mut self) -> io::Result<Option<ReadLine>> {
        loop {
            if let Some(l) = self.ready.pop_front() {
                return Ok(Some(l));
            }
            if self.done {
                return Ok(None);
            }
            let n = match self.reader.read(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let enc = self.encoding;
            let ready = &mut self.ready;
            let mut push = |l: crate::lines::RawLine<'_>| {
                let (text, replaced) = enc.decode(l.bytes);
                ready.push_back(ReadLine {
                    text: text.into_owned(),
                    offset: l.end,
                    truncated: l.truncated,
                    replaced,
                });
            };
            if n == 0 {
                self.done = true;
                self.splitter.finish(&mut push);
            } else {
                self.splitter.feed(&self.buf[..n], &mut push);
            }
        }
    }
}

impl<R: Read> Iterator for ReaderSource<R> {
    type Item = io::Result<ReadLine>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_line().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_from_a_reader() {
        let data: &[u8] = b"one\r\ntwo\n\xffthree";
        let got: Vec<ReadLine> = ReaderSource::new(data, Encoding::Utf8, 100)
            .collect::<io::Result<_>>()
            .unwrap();
        let texts: Vec<&str> = got.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["one", "two", "\u{FFFD}three"]);
        assert_eq!(got[0].offset, 5);
        assert_eq!(got[1].offset, 9);
        assert!(got[2].replaced);
        assert_eq!(got[2].offset, data.len() as u64);
    }

    #[test]
    fn reads_through_a_real_pipe() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            for i in 0..1000 {
                writeln!(stdin, "line {i}").unwrap();
            }
        });
        let stdout = child.stdout.take().unwrap();
        let lines: Vec<String> = ReaderSource::new(stdout, Encoding::Utf8, 1 << 20)
            .map(|l| l.unwrap().text)
            .collect();
        writer.join().unwrap();
        child.wait().unwrap();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "line 999");
    }
}
