//! Which file a stored position belongs to.
//!
//! fail2ban stores, per jail and path, the MD5 of the file's first line
//! (`firstlinemd5`, hex, the line's bytes including its `\n`) and the offset
//! read so far. The device and inode are kept as well when the caller can
//! store them; they are checked only when both sides have them.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

use md5::{Digest, Md5};

/// Identity of one log file: where it lives and what its first line is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileIdentity {
    /// `st_dev` of the open file.
    pub dev: u64,
    /// `st_ino` of the open file.
    pub ino: u64,
    /// Lower-case hex MD5 of the first line including its `\n`, as fail2ban's
    /// `firstlinemd5`; `None` until the first line is complete.
    pub first_line_md5: Option<String>,
}

/// A position saved by the caller (from the `logs` table): resume there only
/// if the file is still the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPosition {
    /// `firstlinemd5` as stored; empty when the file had no complete line.
    pub first_line_md5: String,
    /// Byte offset after the last line handled (`lastfilepos`).
    pub offset: u64,
    /// `(dev, ino)` if the caller stored them.
    pub dev_ino: Option<(u64, u64)>,
}

impl StoredPosition {
    /// Whether this position belongs to the file now at hand (`size` is its
    /// current length). An empty stored hash matches only a file whose first
    /// line is still incomplete (then the offset is 0 anyway in practice).
    pub fn matches(&self, id: &FileIdentity, size: u64) -> bool {
        if self.offset > size {
            return false;
        }
        if let Some((dev, ino)) = self.dev_ino {
            if (dev, ino) != (id.dev, id.ino) {
                return false;
            }
        }
        match &id.first_line_md5 {
            Some(md5) => md5.eq_ignore_ascii_case(&self.first_line_md5),
            None => self.first_line_md5.is_empty(),
        }
    }
}

/// MD5 (hex) and length of the first line of `file`, read with `pread` so the
/// file's cursor does not move. `None` when the file has no `\n` yet.
pub fn first_line_md5(file: &File) -> io::Result<Option<(String, u64)>> {
    let mut hasher = Md5::new();
    let mut buf = [0u8; 8192];
    let mut off = 0u64;
    loop {
        let n = match file.read_at(&mut buf, off) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(None);
        }
        if let Some(nl) = memchr::memchr(b'\n', &buf[..n]) {
            hasher.update(&buf[..=nl]);
            return Ok(Some((hex(&hasher.finalize()), off + nl as u64 + 1)));
        }
        hasher.update(&buf[..n]);
        off += n as u64;
    }
}

/// The hex MD5 of `bytes` (used to check a known first line again).
pub fn md5_hex(bytes: &[u8]) -> String {
    hex(&Md5::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Identity of an open file (its first line hashed if complete).
pub fn identify(file: &File) -> io::Result<(FileIdentity, Option<u64>)> {
    let meta = file.metadata()?;
    let first = first_line_md5(file)?;
    let (md5, len) = match first {
        Some((m, l)) => (Some(m), Some(l)),
        None => (None, None),
    };
    Ok((
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            first_line_md5: md5,
        },
        len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn md5_matches_python_hashlib_convention() {
        // md5(b"hello\n") is a well-known value.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut f = File::create(&p).unwrap();
        f.write_all(b"hello\nworld\n").unwrap();
        let f = File::open(&p).unwrap();
        let (md5, len) = first_line_md5(&f).unwrap().unwrap();
        assert_eq!(md5, "b1946ac92492d2347c6235b4d2611184");
        assert_eq!(len, 6);
        assert_eq!(md5_hex(b"hello\n"), md5);
    }

    #[test]
    fn incomplete_first_line_has_no_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"no newline yet").unwrap();
        let f = File::open(&p).unwrap();
        assert_eq!(first_line_md5(&f).unwrap(), None);
        let (id, len) = identify(&f).unwrap();
        assert_eq!(id.first_line_md5, None);
        assert_eq!(len, None);
        let stored = StoredPosition {
            first_line_md5: String::new(),
            offset: 0,
            dev_ino: None,
        };
        assert!(stored.matches(&id, 14));
    }

    #[test]
    fn stored_position_checks() {
        let id = FileIdentity {
            dev: 1,
            ino: 2,
            first_line_md5: Some("ab".into()),
        };
        let mut sp = StoredPosition {
            first_line_md5: "AB".into(),
            offset: 10,
            dev_ino: None,
        };
        assert!(sp.matches(&id, 10));
        assert!(!sp.matches(&id, 9), "file shorter than the position");
        sp.dev_ino = Some((1, 3));
        assert!(!sp.matches(&id, 10), "other inode");
        sp.dev_ino = Some((1, 2));
        sp.first_line_md5 = "cd".into();
        assert!(!sp.matches(&id, 10), "other first line");
    }
}
