//! Reading the LOG arguments: plain files, or rotated `*.gz` files through `gzip -dc`
//! (no compression library needed), line by line in big buffers; and putting several
//! logs in time order by their first date.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bailiff_date::{DateDetector, DateOptions, Zone};

/// Lines looked at to find a log's first date.
const FIRST_DATE_LINES: usize = 50;

/// An open log.
pub struct LogReader {
    inner: Box<dyn BufRead>,
    child: Option<Child>,
    path: PathBuf,
}

fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

impl LogReader {
    pub fn open(path: &Path) -> io::Result<LogReader> {
        let file = File::open(path)?;
        if !is_gzip(path) {
            return Ok(LogReader {
                inner: Box::new(BufReader::with_capacity(1 << 20, file)),
                child: None,
                path: path.to_path_buf(),
            });
        }
        let mut child = Command::new("gzip")
            .arg("-dc")
            .stdin(Stdio::from(file))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("running gzip -dc: {e}")))?;
        let out = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("gzip: no output pipe"))?;
        Ok(LogReader {
            inner: Box::new(BufReader::with_capacity(1 << 20, out)),
            child: Some(child),
            path: path.to_path_buf(),
        })
    }

    /// The next line into `buf` (cleared first), without its `\n` / `\r\n`; false at the
    /// end.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        buf.clear();
        if self.inner.read_until(b'\n', buf)? == 0 {
            return Ok(false);
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(true)
    }

    /// Ends the read: for a `.gz` file, gzip must have succeeded.
    pub fn finish(mut self) -> io::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        // drain what is left so gzip is not killed by SIGPIPE mid-way
        let _ = io::copy(&mut self.inner, &mut io::sink());
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let status = child.wait()?;
        if status.success() {
            Ok(())
        } else {
            Err(io::Error::other(format!(
                "gzip -dc {}: {status}: {}",
                self.path.display(),
                err.trim()
            )))
        }
    }

    /// Stops early (sampling): the gzip child is killed and reaped.
    pub fn abandon(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The time of the first dated line among the first lines of `path` (fail2ban's
/// default date templates), if any.
pub fn first_date(path: &Path, now: f64, year: i32) -> io::Result<Option<f64>> {
    let mut det = DateDetector::new(
        None,
        &DateOptions {
            reference_year: year,
            any_year: false,
        },
    )
    .map_err(|e| io::Error::other(e.to_string()))?;
    let zone = Zone::system();
    let mut r = LogReader::open(path)?;
    let mut buf = Vec::new();
    let mut found = None;
    for _ in 0..FIRST_DATE_LINES {
        if !r.next_line(&mut buf)? {
            break;
        }
        if let Some(hit) = det.find(&String::from_utf8_lossy(&buf), now, &zone) {
            found = Some(hit.time);
            break;
        }
    }
    r.abandon();
    Ok(found)
}

/// Indices of `logs` in replay order: by first date when every log has one (so
/// `auth.log*`, newest first as the shell sorts it, is replayed oldest first);
/// otherwise as given.
pub fn order(first_dates: &[Option<f64>]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..first_dates.len()).collect();
    if first_dates.iter().all(Option::is_some) {
        idx.sort_by(|&a, &b| {
            let (x, y) = (first_dates[a].unwrap_or(0.0), first_dates[b].unwrap_or(0.0));
            x.total_cmp(&y)
        });
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_logs_read_like_plain_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plain = dir.path().join("a.log");
        let text = "2026-11-01T00:00:01.000000+00:00 h sshd[1]: one\r\nline two\nlast";
        std::fs::write(&plain, text).expect("write");
        let st = Command::new("gzip")
            .arg("-k")
            .arg(&plain)
            .status()
            .expect("gzip runs");
        assert!(st.success());
        for p in [plain.clone(), dir.path().join("a.log.gz")] {
            let mut r = LogReader::open(&p).expect("open");
            let mut buf = Vec::new();
            let mut lines = Vec::new();
            while r.next_line(&mut buf).expect("read") {
                lines.push(String::from_utf8(buf.clone()).expect("utf-8"));
            }
            r.finish().expect("finish");
            assert_eq!(
                lines,
                vec![
                    "2026-11-01T00:00:01.000000+00:00 h sshd[1]: one",
                    "line two",
                    "last"
                ]
            );
            assert_eq!(
                first_date(&p, 1.8e9, 2026).expect("date"),
                Some(1_793_491_201.0)
            );
        }
        // a corrupt .gz is an error, not an empty log
        let bad = dir.path().join("bad.log.gz");
        std::fs::File::create(&bad)
            .and_then(|mut f| f.write_all(b"not gzip at all"))
            .expect("write");
        let mut r = LogReader::open(&bad).expect("open");
        let mut buf = Vec::new();
        while r.next_line(&mut buf).unwrap_or(false) {}
        assert!(r.finish().is_err());
    }

    #[test]
    fn ordering() {
        assert_eq!(order(&[Some(3.0), Some(1.0), Some(2.0)]), vec![1, 2, 0]);
        assert_eq!(order(&[Some(3.0), None, Some(2.0)]), vec![0, 1, 2]);
    }
}
