//! Log sources: the I/O edge that turns log files, standard input and the
//! systemd journal into lines for the filter.
//!
//! # Principal types and flow
//!
//! * [`FileSource`] follows the files of one jail's `logpath`s
//!   ([`LogPath`]: a glob plus `head`/`tail`). The caller loops on
//!   [`FileSource::wait`]`(timeout)`, which blocks until lines arrive (or the
//!   timeout passes) and returns a batch of [`LineEvent`]s: the text, the path
//!   and the byte offset just after the line. The daemon runs one such loop per
//!   jail, on its own thread (a `FileSource` is `Send`); a [`Waker`] taken
//!   from the source makes a blocked `wait` return at once (shutdown, reload).
//!   Per-file errors never fail `wait`: they show in [`FileSource::health`].
//! * Underneath, each file is a byte stream cut by a [`LineSplitter`] (partial
//!   lines held until their `\n`, CRLF stripped, lines over
//!   [`FileSourceOptions::max_line_bytes`] cut and counted) and decoded per
//!   `logencoding` ([`Encoding`]; invalid bytes become U+FFFD). A large
//!   backlog comes in slices of about `max_batch_bytes`.
//! * Change notification is inotify on the files and their directories
//!   ([`Backend::Auto`]/[`Backend::Inotify`]), or polling every
//!   `poll_interval` ([`Backend::Polling`], also the fallback when inotify is
//!   unavailable or its watch limit is reached; see
//!   [`FileSource::fallback_reason`]). With inotify a written line reaches
//!   the caller in well under a millisecond and an idle source costs one
//!   wake-up per `rescan_interval`. Globs are evaluated again on directory
//!   events (a directory that does not exist yet is awaited through its
//!   nearest existing parent; a symlinked log's target directory is watched
//!   too).
//! * Rotation: rename-and-create and delete-and-recreate are seen by inode;
//!   the old file is read to its end before the new one is read from 0, and
//!   stays open and read for `retire_grace` for writers that have not reopened
//!   yet. Copytruncate is seen by size, by the newline ending the last line
//!   read, and by the first line's MD5; lines written between our last read and
//!   the truncation are recovered from the copy (`NAME.1`, `NAME-DATE`) when it
//!   is beside the file and the reader had seen the file's first line. No line
//!   is handed out twice; lines from rotated-away files are flagged
//!   [`LineEvent::rotated`].
//! * Positions: [`FileSource::positions`] gives, per path, the
//!   [`FileIdentity`] (dev, inode, fail2ban's `firstlinemd5`) and the offset
//!   after the last line handed out. At the next start they come back as
//!   [`StoredPosition`]s in [`FileSourceOptions::stored`]; a file resumes
//!   there only if it is still the same file, else it is read from 0
//!   (`head`; the unread end of the old file is first read from its rotated
//!   name if it is beside it) or from its end (`tail`, which like fail2ban
//!   ignores stored positions). Lines read while catching up after start are
//!   flagged [`LineEvent::initial`]. fail2ban starts reading at
//!   `now - findtime`: give [`FileSourceOptions::initial_cutoff`] (the time
//!   and the caller's date detection) and the source bisects the file to about
//!   there; the few older lines still handed out (flagged `initial`) are the
//!   caller's to drop.
//! * [`FileSource::health`] gives per path [`FileHealth`]: open, missing or
//!   unreadable, bytes and lines read, lines cut or with replaced bytes,
//!   rotations, rotated files still open, last read time.
//! * [`ReaderSource`] reads lines from any `Read` (standard input for
//!   `bailiff regex -`).
//! * [`journal::JournalSource`] reads the systemd journal through
//!   `libsystemd.so.0`, loaded at run time (the binary runs without it), with
//!   `journalmatch`, seeking by cursor, time or tail, and fail2ban's line
//!   format; each [`journal::JournalEntry`] carries its time and cursor.

//! # Example
//!
//! ```
//! use std::io::Write;
//! use std::time::Duration;
//! use bailiff_source::{FileSource, FileSourceOptions, LogPath};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let log = dir.path().join("auth.log");
//! let mut f = std::fs::File::create(&log).unwrap();
//! let mut src = FileSource::new(
//!     vec![LogPath::head(log.to_str().unwrap())],
//!     FileSourceOptions::default(),
//! )
//! .unwrap();
//! assert!(src.wait(Duration::ZERO).is_empty());
//! writeln!(f, "Failed password for root from 192.0.2.1").unwrap();
//! let lines = src.wait(Duration::from_secs(5));
//! assert_eq!(lines[0].text, "Failed password for root from 192.0.2.1");
//! assert_eq!(lines[0].offset, 40);
//! ```

#![deny(missing_docs)]

mod encoding;
mod file;
mod identity;
pub mod journal;
mod lines;
mod stdin;
mod wake;

use std::path::PathBuf;

pub use encoding::Encoding;
pub use file::{
    ActiveBackend, Backend, FileHealth, FilePosition, FileSource, FileSourceOptions, FileState,
    LineEvent, LineTimeFn, LogPath, StartAt, TimeCutoff,
};
pub use identity::{first_line_md5, FileIdentity, StoredPosition};
pub use lines::{LineSplitter, RawLine, DEFAULT_MAX_LINE};
pub use stdin::{ReadLine, ReaderSource};
pub use wake::Waker;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `logencoding` names an encoding we do not decode.
    #[error(
        "unsupported logencoding {name:?} (supported: auto, utf-8, latin-1/iso-8859-1, ascii)"
    )]
    UnsupportedEncoding {
        /// The value as given.
        name: String,
    },
    /// A `logpath` glob does not parse.
    #[error("invalid logpath glob {pattern:?}: {message}")]
    BadGlob {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The systemd journal could not be opened or read.
    #[error("journal: {0}")]
    Journal(String),
}

/// `now + timeout`, saturating at a year for "forever" timeouts.
pub(crate) fn deadline(timeout: std::time::Duration) -> std::time::Instant {
    let now = std::time::Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(std::time::Duration::from_secs(365 * 86_400)))
        .unwrap_or(now)
}
