//! Tailing log files: globs, inotify or polling, rotation, positions, health.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

use crate::encoding::Encoding;
use crate::identity::{first_line_md5, identify, md5_hex, FileIdentity, StoredPosition};
use crate::lines::{LineSplitter, RawLine, DEFAULT_MAX_LINE};
use crate::wake::{WakeSlot, Waker};

/// Which change-notification mechanism a [`FileSource`] uses (jail `backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// inotify if it can be set up, else polling (fail2ban's `auto`,
    /// `pyinotify`, `gamin`).
    #[default]
    Auto,
    /// inotify; falls back to polling (noted in [`FileSource::fallback_reason`])
    /// when inotify is unavailable or its watch limit is reached.
    Inotify,
    /// Stat and read every file each `poll_interval` (`backend = polling`).
    Polling,
}

/// Where to begin reading a file found at start-up (the `logpath` suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartAt {
    /// From the stored position if the file is the same one, else from 0
    /// (fail2ban's default, `head`).
    #[default]
    Head,
    /// From the end of the file, ignoring any stored position (`tail`).
    Tail,
}

/// One `logpath` line: a glob and where to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogPath {
    /// A path or a glob (`*`, `?`, `[...]`).
    pub pattern: String,
    /// `head` or `tail`.
    pub start: StartAt,
}

impl LogPath {
    /// Parses one `logpath` line: `PATH`, `PATH head` or `PATH tail`.
    pub fn parse(line: &str) -> LogPath {
        let line = line.trim();
        for (suffix, start) in [(" tail", StartAt::Tail), (" head", StartAt::Head)] {
            if let Some(p) = line.strip_suffix(suffix) {
                return LogPath {
                    pattern: p.trim_end().to_string(),
                    start,
                };
            }
        }
        LogPath {
            pattern: line.to_string(),
            start: StartAt::Head,
        }
    }

    /// `head` start for `pattern`.
    pub fn head(pattern: impl Into<String>) -> LogPath {
        LogPath {
            pattern: pattern.into(),
            start: StartAt::Head,
        }
    }

    /// `tail` start for `pattern`.
    pub fn tail(pattern: impl Into<String>) -> LogPath {
        LogPath {
            pattern: pattern.into(),
            start: StartAt::Tail,
        }
    }

    /// Checks that the pattern is a well-formed glob (what
    /// [`FileSource::new`] checks; [`FileSource::add_path`] does not).
    pub fn validate(&self) -> Result<(), crate::SourceError> {
        if self.is_glob() {
            glob::Pattern::new(&self.pattern).map_err(|e| crate::SourceError::BadGlob {
                pattern: self.pattern.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }

    fn is_glob(&self) -> bool {
        self.pattern.contains(['*', '?', '['])
    }
}

/// Settings of a [`FileSource`].
#[derive(Debug, Clone)]
pub struct FileSourceOptions {
    /// inotify, polling or automatic choice.
    pub backend: Backend,
    /// `logencoding`.
    pub encoding: Encoding,
    /// Polling backend: time between two looks at the files.
    pub poll_interval: Duration,
    /// inotify backend: a full look (globs, stat of every file, first-line
    /// check) this often anyway, as a safety net and to pick up directories
    /// that did not exist yet.
    pub rescan_interval: Duration,
    /// Lines longer than this keep their head; the rest is dropped and counted.
    pub max_line_bytes: usize,
    /// A call to [`FileSource::wait`] stops reading after about this many bytes
    /// (the next call goes on at once), so a large backlog comes in slices.
    pub max_batch_bytes: usize,
    /// After a rotation the old file stays open and is still read (a writer
    /// may not have reopened yet) until it has not grown for this long.
    pub retire_grace: Duration,
    /// inotify backend: at most this many watches (files and directories)
    /// for this source; past it the source polls instead (a glob over
    /// thousands of files should not use up the system's watches).
    pub max_watches: usize,
    /// Positions saved at the last stop, by path (the `logs` table).
    pub stored: HashMap<PathBuf, StoredPosition>,
    /// On first start with `head`, skip ahead (by bisection on the file) to
    /// about the first line not older than a time: fail2ban's
    /// `now - findtime`. Lines before it may still come (flagged
    /// [`LineEvent::initial`]); none after it are skipped.
    pub initial_cutoff: Option<TimeCutoff>,
}

/// The caller's date detection: the time of a line, if it has one.
pub type LineTimeFn = Arc<dyn Fn(&str) -> Option<SystemTime> + Send + Sync>;

/// A time before which lines need not be read on first start, and how to
/// tell a line's time (the caller's date detection).
#[derive(Clone)]
pub struct TimeCutoff {
    /// Lines older than this may be skipped.
    pub not_before: SystemTime,
    /// The time of a line, `None` when it has no recognisable date.
    pub line_time: LineTimeFn,
}

impl std::fmt::Debug for TimeCutoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeCutoff")
            .field("not_before", &self.not_before)
            .finish_non_exhaustive()
    }
}

impl Default for FileSourceOptions {
    fn default() -> Self {
        FileSourceOptions {
            backend: Backend::Auto,
            encoding: Encoding::Utf8,
            poll_interval: Duration::from_secs(1),
            rescan_interval: Duration::from_secs(5),
            max_line_bytes: DEFAULT_MAX_LINE,
            max_batch_bytes: 4 << 20,
            retire_grace: Duration::from_secs(30),
            max_watches: 1024,
            stored: HashMap::new(),
            initial_cutoff: None,
        }
    }
}

/// One line read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEvent {
    /// The log path (as matched by the glob) the line was read under.
    pub path: Arc<Path>,
    /// The decoded line, without `\n` / `\r\n`.
    pub text: String,
    /// Byte offset just after the line in the file it came from.
    pub offset: u64,
    /// Read while catching up after start (before the file's end was first
    /// reached): the caller may drop lines older than `now - findtime`.
    pub initial: bool,
    /// Read from a file that has since been rotated away (its `offset` is in
    /// that old file; it must not be stored as the path's position).
    pub rotated: bool,
    /// The line was longer than `max_line_bytes` and was cut.
    pub truncated: bool,
}

/// What a tracked path looks like right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Open and being followed.
    Open,
    /// The path does not exist (yet, or any more); it is picked up when it appears.
    Missing,
    /// The path exists but cannot be opened or read.
    Unreadable(String),
}

/// Health of one tracked path, for status and health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileHealth {
    /// The path.
    pub path: PathBuf,
    /// Open, missing or unreadable.
    pub state: FileState,
    /// Identity of the open file.
    pub identity: Option<FileIdentity>,
    /// Offset after the last complete line handed out from the open file.
    pub offset: u64,
    /// Size of the open file at the last look.
    pub size: Option<u64>,
    /// Bytes read under this path, all files included.
    pub bytes_read: u64,
    /// Lines handed out.
    pub lines_read: u64,
    /// Lines cut at `max_line_bytes`.
    pub lines_truncated: u64,
    /// Lines with bytes invalid in the `logencoding` (replaced by U+FFFD).
    pub lines_replaced: u64,
    /// Rotations seen (rename, delete and recreate, truncation).
    pub rotations: u64,
    /// Rotated-away files still open and read.
    pub rotated_open: usize,
    /// Still catching up after start.
    pub initial: bool,
    /// When bytes were last read.
    pub last_read: Option<SystemTime>,
}

/// Where a path is at, for storing in the `logs` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePosition {
    /// The log path.
    pub path: PathBuf,
    /// The open file's identity (`first_line_md5` is `firstlinemd5`).
    pub identity: FileIdentity,
    /// Offset after the last line handed out (`lastfilepos`).
    pub offset: u64,
}

/// The backend actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveBackend {
    /// inotify events wake the reader.
    Inotify,
    /// The files are looked at every `poll_interval`.
    Polling,
}

#[derive(Debug, Default, Clone)]
struct Stats {
    bytes_read: u64,
    lines_read: u64,
    lines_truncated: u64,
    lines_replaced: u64,
    rotations: u64,
    last_read: Option<SystemTime>,
}

/// An open file under a path: the current one or a rotated-away one.
#[derive(Debug)]
struct Handle {
    file: File,
    dev: u64,
    ino: u64,
    splitter: LineSplitter,
    /// MD5 and length of the first line, once complete.
    first_line: Option<(String, u64)>,
    /// The byte before `splitter.line_end()` is known to be `\n` (or it is 0).
    nl_verified: bool,
    wd: Option<WatchDescriptor>,
    initial: bool,
    retired_at: Option<Instant>,
    last_growth: Instant,
    size: u64,
}

impl Handle {
    fn identity(&self) -> FileIdentity {
        FileIdentity {
            dev: self.dev,
            ino: self.ino,
            first_line_md5: self.first_line.as_ref().map(|(m, _)| m.clone()),
        }
    }
}

#[derive(Debug)]
struct Tracked {
    path: Arc<Path>,
    start: StartAt,
    /// Named literally in a logpath (kept even while missing).
    literal: bool,
    /// Seen by the first scan (the start policy applies to its first open).
    at_startup: bool,
    opened_once: bool,
    current: Option<Handle>,
    retired: Vec<Handle>,
    state: FileState,
    stats: Stats,
}

struct Watcher {
    inotify: Inotify,
    dirs: HashMap<PathBuf, WatchDescriptor>,
    /// Watches on files (one per inode).
    files: HashSet<WatchDescriptor>,
    max: usize,
    buf: Vec<u8>,
}

/// Follows the files of one jail's `logpath`s.
///
/// Call [`FileSource::wait`] in a loop; it blocks until lines arrive or the
/// timeout passes and returns the lines read. Between calls, [`positions`]
/// and [`health`] tell where each file is.
///
/// [`positions`]: FileSource::positions
/// [`health`]: FileSource::health
pub struct FileSource {
    /// Patterns, with "added since the last scan" (start policy applies).
    patterns: Vec<(LogPath, bool)>,
    opts: FileSourceOptions,
    files: Vec<Tracked>,
    watcher: Option<Watcher>,
    fallback_reason: Option<String>,
    buf: Vec<u8>,
    started: bool,
    more_pending: bool,
    next_full: Instant,
    cursor: usize,
    wake: WakeSlot,
}

impl std::fmt::Debug for FileSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSource")
            .field("patterns", &self.patterns)
            .field("backend", &self.backend())
            .field("files", &self.files.len())
            .finish()
    }
}

const FILE_MASK: WatchMask = WatchMask::MODIFY
    .union(WatchMask::ATTRIB)
    .union(WatchMask::MOVE_SELF)
    .union(WatchMask::DELETE_SELF);
const DIR_MASK: WatchMask = WatchMask::CREATE
    .union(WatchMask::MOVED_TO)
    .union(WatchMask::MOVED_FROM)
    .union(WatchMask::DELETE)
    .union(WatchMask::DELETE_SELF)
    .union(WatchMask::MOVE_SELF)
    .union(WatchMask::ONLYDIR);

impl FileSource {
    /// Sets up a source over `paths`. Nothing is read until the first
    /// [`wait`](FileSource::wait); the files present then are "found at
    /// start-up" (start policy and stored positions apply to them), files
    /// appearing later are read from their beginning.
    ///
    /// Fails only on a malformed glob. No file matching is not an error here
    /// (see [`FileSource::health`]); fail2ban refuses to start such a jail,
    /// which is the caller's decision.
    pub fn new(
        paths: Vec<LogPath>,
        opts: FileSourceOptions,
    ) -> Result<FileSource, crate::SourceError> {
        for p in &paths {
            p.validate()?;
        }
        let mut fallback_reason = None;
        let watcher = match opts.backend {
            Backend::Polling => None,
            Backend::Auto | Backend::Inotify => match Inotify::init() {
                Ok(inotify) => Some(Watcher {
                    inotify,
                    dirs: HashMap::new(),
                    files: HashSet::new(),
                    max: opts.max_watches,
                    buf: vec![0u8; 64 * 1024],
                }),
                Err(e) => {
                    fallback_reason = Some(format!("inotify unavailable: {e}"));
                    None
                }
            },
        };
        let mut src = FileSource {
            patterns: Vec::new(),
            opts,
            files: Vec::new(),
            watcher,
            fallback_reason,
            buf: vec![0u8; 64 * 1024],
            started: false,
            more_pending: false,
            next_full: Instant::now(),
            cursor: 0,
            wake: WakeSlot::default(),
        };
        for p in paths {
            src.add_path(p);
        }
        Ok(src)
    }

    /// Adds a `logpath` (fail2ban's `addlogpath`); its files are picked up on
    /// the next wait. Adding the same pattern twice does nothing.
    pub fn add_path(&mut self, path: LogPath) {
        if self.patterns.iter().any(|(p, _)| p.pattern == path.pattern) {
            return;
        }
        self.patterns.push((path, true));
        self.more_pending = true;
    }

    /// Stops following the files of a `logpath` (fail2ban's `dellogpath`).
    /// Returns whether the pattern was known.
    pub fn remove_path(&mut self, pattern: &str) -> bool {
        let before = self.patterns.len();
        self.patterns.retain(|(p, _)| p.pattern != pattern);
        if self.patterns.len() == before {
            return false;
        }
        let keep: HashSet<PathBuf> = self.expand().into_iter().map(|(p, ..)| p).collect();
        let mut dropped = Vec::new();
        self.files.retain_mut(|t| {
            if keep.contains(&*t.path) {
                true
            } else {
                dropped.extend(t.current.take());
                dropped.append(&mut t.retired);
                false
            }
        });
        for h in dropped {
            self.unwatch(h.wd);
        }
        true
    }

    /// Changes `logencoding` for the lines read from now on.
    pub fn set_encoding(&mut self, encoding: Encoding) {
        self.opts.encoding = encoding;
    }

    /// The `logencoding` in use.
    pub fn encoding(&self) -> Encoding {
        self.opts.encoding
    }

    /// The backend in use.
    pub fn backend(&self) -> ActiveBackend {
        if self.watcher.is_some() {
            ActiveBackend::Inotify
        } else {
            ActiveBackend::Polling
        }
    }

    /// Why inotify was asked for (or `auto`) but polling is used.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The `logpath` patterns.
    pub fn patterns(&self) -> Vec<LogPath> {
        self.patterns.iter().map(|(p, _)| p.clone()).collect()
    }

    /// Waits up to `timeout` for new lines and returns them (possibly none).
    /// A zero timeout only looks. With inotify a line appended to a file
    /// comes back within a fraction of a millisecond; with polling within
    /// `poll_interval`.
    pub fn wait(&mut self, timeout: Duration) -> Vec<LineEvent> {
        let deadline = crate::deadline(timeout);
        let mut out = Vec::new();
        loop {
            let now = Instant::now();
            if !self.started || self.more_pending || now >= self.next_full {
                self.started = true;
                self.full_scan(&mut out);
                let every = match self.watcher {
                    Some(_) => self.opts.rescan_interval,
                    None => self.opts.poll_interval,
                };
                self.next_full = Instant::now() + every;
            }
            if !out.is_empty() {
                return out;
            }
            let now = Instant::now();
            if now >= deadline {
                return out;
            }
            let until = deadline.min(self.next_full);
            let nap = until.saturating_duration_since(now);
            let ino_fd = self.watcher.as_ref().map_or(-1, |w| w.inotify.as_raw_fd());
            let (events, woken) = self.wake.sleep(ino_fd, nap);
            if events {
                self.handle_events(&mut out);
            }
            if !out.is_empty() || woken {
                return out;
            }
        }
    }

    /// Where each open file is at (after the lines already handed out), to
    /// be stored and given back in [`FileSourceOptions::stored`] at the next start.
    pub fn positions(&self) -> Vec<FilePosition> {
        self.files
            .iter()
            .filter_map(|t| {
                let h = t.current.as_ref()?;
                Some(FilePosition {
                    path: t.path.to_path_buf(),
                    identity: h.identity(),
                    offset: h.splitter.line_end(),
                })
            })
            .collect()
    }

    /// Health of every tracked path.
    pub fn health(&self) -> Vec<FileHealth> {
        self.files
            .iter()
            .map(|t| FileHealth {
                path: t.path.to_path_buf(),
                state: t.state.clone(),
                identity: t.current.as_ref().map(Handle::identity),
                offset: t.current.as_ref().map_or(0, |h| h.splitter.line_end()),
                size: t.current.as_ref().map(|h| h.size),
                bytes_read: t.stats.bytes_read,
                lines_read: t.stats.lines_read,
                lines_truncated: t.stats.lines_truncated,
                lines_replaced: t.stats.lines_replaced,
                rotations: t.stats.rotations,
                rotated_open: t.retired.len(),
                initial: t.current.as_ref().is_some_and(|h| h.initial),
                last_read: t.stats.last_read,
            })
            .collect()
    }

    // ---- scanning ----

    /// The paths the patterns name now: (path, start, literal, fresh pattern).
    fn expand(&self) -> Vec<(PathBuf, StartAt, bool, bool)> {
        let mut out: Vec<(PathBuf, StartAt, bool, bool)> = Vec::new();
        let mut seen = HashSet::new();
        for (p, fresh) in &self.patterns {
            let fresh = *fresh;
            if p.is_glob() {
                // As Python's glob, which fail2ban uses: `*` does not match
                // a leading dot, nor a `/`.
                let mo = glob::MatchOptions {
                    case_sensitive: true,
                    require_literal_separator: true,
                    require_literal_leading_dot: true,
                };
                if let Ok(paths) = glob::glob_with(&p.pattern, mo) {
                    for path in paths.flatten() {
                        if path.is_dir() {
                            continue;
                        }
                        if seen.insert(path.clone()) {
                            out.push((path, p.start, false, fresh));
                        }
                    }
                }
            } else {
                let path = PathBuf::from(&p.pattern);
                if seen.insert(path.clone()) {
                    out.push((path, p.start, true, fresh));
                }
            }
        }
        out
    }

    fn full_scan(&mut self, out: &mut Vec<LineEvent>) {
        // New paths from the globs.
        // Directories first, so that a file created during the scan is seen
        // either by the glob or by an event.
        self.watch_dirs();
        let mut known: HashSet<PathBuf> = self.files.iter().map(|t| t.path.to_path_buf()).collect();
        let expanded = self.expand();
        let names: HashSet<PathBuf> = expanded.iter().map(|(p, ..)| p.clone()).collect();
        for p in &mut self.patterns {
            p.1 = false;
        }
        for (path, start, literal, fresh) in expanded {
            if known.insert(path.clone()) {
                self.files.push(Tracked {
                    path: Arc::from(path.as_path()),
                    start,
                    literal,
                    at_startup: fresh,
                    opened_once: false,
                    current: None,
                    retired: Vec::new(),
                    state: FileState::Missing,
                    stats: Stats::default(),
                });
            }
        }
        self.watch_dirs();
        let mut budget = self.opts.max_batch_bytes;
        self.more_pending = false;
        let n = self.files.len();
        let start = if n == 0 { 0 } else { self.cursor % n };
        for k in 0..n {
            let i = (start + k) % n;
            self.refresh(i, out, &mut budget);
            if budget == 0 {
                // Go on from this file at the next call.
                self.more_pending = true;
                self.cursor = i;
                break;
            }
        }
        // Forget glob matches that are gone and fully drained.
        let mut gone = Vec::new();
        self.files.retain_mut(|t| {
            let keep = t.literal
                || names.contains(&*t.path)
                || t.current.is_some()
                || !t.retired.is_empty();
            if !keep {
                gone.extend(t.current.take());
            }
            keep
        });
        for h in gone {
            self.unwatch(h.wd);
        }
    }
}

// ---- per-file work ----
impl FileSource {
    /// Looks at one tracked path: reads rotated-away files, notices rotation,
    /// deletion, truncation, (re)opens, reads the current file.
    fn refresh(&mut self, i: usize, out: &mut Vec<LineEvent>, budget: &mut usize) {
        let mut drained = self.drain_retired(i, out, budget);
        let path = self.files[i].path.clone();
        match fs::metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(h) = self.files[i].current.take() {
                    self.retire(i, h, out, budget);
                }
                // Whatever appears here later is a new file, read from 0.
                self.files[i].at_startup = false;
                self.files[i].state = FileState::Missing;
            }
            Err(e) => {
                self.files[i].state = FileState::Unreadable(e.to_string());
                if drained && self.files[i].current.is_some() {
                    self.read_current(i, out, budget);
                }
            }
            Ok(meta) => {
                let same = self.files[i]
                    .current
                    .as_ref()
                    .is_some_and(|h| h.dev == meta.dev() && h.ino == meta.ino());
                if same {
                    if drained {
                        self.read_current(i, out, budget);
                    }
                    return;
                }
                if let Some(h) = self.files[i].current.take() {
                    drained &= self.retire(i, h, out, budget);
                }
                match self.open(i, out) {
                    Ok(h) => {
                        let t = &mut self.files[i];
                        t.current = Some(h);
                        t.state = FileState::Open;
                        t.opened_once = true;
                        if drained {
                            self.read_current(i, out, budget);
                        }
                    }
                    Err(e) => {
                        self.files[i].state = if e.kind() == io::ErrorKind::NotFound {
                            FileState::Missing
                        } else {
                            FileState::Unreadable(e.to_string())
                        };
                    }
                }
            }
        }
    }

    /// Reads the rotated-away files of path `i`; closes those that have not
    /// grown for `retire_grace`. Returns whether all are read to their end.
    fn drain_retired(&mut self, i: usize, out: &mut Vec<LineEvent>, budget: &mut usize) -> bool {
        let enc = self.opts.encoding;
        let grace = self.opts.retire_grace;
        let mut all_eof = true;
        let mut closed = Vec::new();
        {
            let t = &mut self.files[i];
            let mut k = 0;
            while k < t.retired.len() {
                let h = &mut t.retired[k];
                let eof = read_handle(
                    h,
                    &t.path,
                    &mut t.stats,
                    enc,
                    &mut self.buf,
                    out,
                    budget,
                    true,
                )
                .unwrap_or(true);
                all_eof &= eof;
                if eof && h.last_growth.elapsed() >= grace {
                    let mut h = t.retired.remove(k);
                    h.splitter
                        .finish(|l| push_line(out, &mut t.stats, enc, &t.path, l, false, true));
                    closed.push(h);
                } else {
                    k += 1;
                }
            }
        }
        for h in closed {
            self.unwatch(h.wd);
        }
        all_eof
    }

    /// Moves the current file of path `i` to the rotated-away ones after
    /// reading what it has. Returns whether it was read to its end.
    fn retire(
        &mut self,
        i: usize,
        mut h: Handle,
        out: &mut Vec<LineEvent>,
        budget: &mut usize,
    ) -> bool {
        let enc = self.opts.encoding;
        let t = &mut self.files[i];
        let eof = read_handle(
            &mut h,
            &t.path,
            &mut t.stats,
            enc,
            &mut self.buf,
            out,
            budget,
            true,
        )
        .unwrap_or(true);
        h.retired_at = Some(Instant::now());
        h.last_growth = Instant::now();
        h.initial = false;
        t.stats.rotations += 1;
        t.retired.push(h);
        eof
    }

    /// Reads the current file of path `i`, first checking for truncation.
    fn read_current(&mut self, i: usize, out: &mut Vec<LineEvent>, budget: &mut usize) {
        let enc = self.opts.encoding;
        let max_line = self.opts.max_line_bytes;
        let t = &mut self.files[i];
        let Some(h) = t.current.as_mut() else { return };
        match was_truncated(h) {
            Ok(true) => {
                t.stats.rotations += 1;
                if let Some((md5, _)) = &h.first_line {
                    recover_from_sibling(
                        &t.path,
                        md5,
                        h.splitter.line_end(),
                        Some((h.dev, h.ino)),
                        false,
                        enc,
                        max_line,
                        &mut t.stats,
                        out,
                    );
                }
                if h.file.seek(SeekFrom::Start(0)).is_err() {
                    return;
                }
                h.splitter.reset(0);
                h.first_line = None;
                h.nl_verified = true;
                h.initial = false;
            }
            Ok(false) => {}
            Err(e) => {
                t.state = FileState::Unreadable(e.to_string());
                return;
            }
        }
        match read_handle(
            h,
            &t.path,
            &mut t.stats,
            enc,
            &mut self.buf,
            out,
            budget,
            false,
        ) {
            Ok(_) => t.state = FileState::Open,
            Err(e) => t.state = FileState::Unreadable(e.to_string()),
        }
    }

    /// Opens path `i` and places the reader per the start policy.
    fn open(&mut self, i: usize, out: &mut Vec<LineEvent>) -> io::Result<Handle> {
        let path = self.files[i].path.clone();
        let file = File::open(&path)?;
        let meta = file.metadata()?;
        // A glob may now match the rotated-away file we are still reading
        // (`app.log*` matching `app.log.1`): go on with that reader.
        for t in &mut self.files {
            if let Some(k) = t
                .retired
                .iter()
                .position(|h| h.dev == meta.dev() && h.ino == meta.ino())
            {
                let mut h = t.retired.remove(k);
                h.retired_at = None;
                return Ok(h);
            }
        }
        let (id, first_len) = identify(&file)?;
        let size = meta.len();
        let t = &self.files[i];
        let startup = t.at_startup && !t.opened_once;
        let start = t.start;
        let (offset, initial, skip) = if !startup {
            (0, false, false)
        } else {
            match start {
                StartAt::Tail => {
                    let (off, skip) = tail_offset(&file, size)?;
                    (off, false, skip)
                }
                StartAt::Head => match self.opts.stored.get(&*path) {
                    Some(sp) if sp.matches(&id, size) && newline_before(&file, sp.offset) => {
                        (sp.offset, true, false)
                    }
                    Some(sp) => {
                        // Rotated while we were stopped: the rest of the
                        // old file may be beside it under a new name.
                        if !sp.first_line_md5.is_empty() && sp.offset > 0 {
                            let enc = self.opts.encoding;
                            let max_line = self.opts.max_line_bytes;
                            let t = &mut self.files[i];
                            recover_from_sibling(
                                &path,
                                &sp.first_line_md5,
                                sp.offset,
                                Some((meta.dev(), meta.ino())),
                                true,
                                enc,
                                max_line,
                                &mut t.stats,
                                out,
                            );
                        }
                        (0, true, false)
                    }
                    None => (0, true, false),
                },
            }
        };
        let mut offset = offset;
        if startup && start == StartAt::Head {
            if let Some(cut) = &self.opts.initial_cutoff {
                offset = seek_to_time(&file, offset, size, cut, self.opts.encoding)?;
            }
        }
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        let mut splitter = LineSplitter::new(offset, self.opts.max_line_bytes);
        if skip {
            splitter.skip_current_line();
        }
        let wd = self.watch_file(&file, &path);
        Ok(Handle {
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            splitter,
            first_line: id.first_line_md5.zip(first_len),
            nl_verified: !skip,
            wd,
            initial,
            retired_at: None,
            last_growth: Instant::now(),
            size,
        })
    }
}

// ---- inotify ----
impl FileSource {
    fn watch_file(&mut self, file: &File, path: &Path) -> Option<WatchDescriptor> {
        let w = self.watcher.as_mut()?;
        if w.files.len() + w.dirs.len() >= w.max {
            let max = w.max;
            self.fall_back(format!("more than {max} inotify watches needed; polling"));
            return None;
        }
        // Through /proc the watch lands on the inode we opened even if the
        // path was rotated in between.
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        let res = match w.inotify.watches().add(&proc_path, FILE_MASK) {
            Ok(wd) => Ok(wd),
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => Err(e),
            Err(_) => w.inotify.watches().add(path, FILE_MASK),
        };
        match res {
            Ok(wd) => {
                w.files.insert(wd.clone());
                Some(wd)
            }
            Err(e) => {
                if e.raw_os_error() == Some(libc::ENOSPC) {
                    self.fall_back(format!("inotify watch limit reached ({e}); polling"));
                }
                None
            }
        }
    }

    fn watch_dirs(&mut self) {
        if self.watcher.is_none() {
            return;
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for (p, _) in &self.patterns {
            dirs.push(literal_dir(&p.pattern));
        }
        for t in &self.files {
            if let Some(parent) = t.path.parent() {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                dirs.push(parent.to_path_buf());
                // A symlinked log: its target is rotated in the target's
                // directory, so watch that one too.
                if fs::symlink_metadata(&t.path).is_ok_and(|m| m.file_type().is_symlink()) {
                    if let Ok(target) = fs::read_link(&t.path) {
                        if let Some(tdir) = parent.join(target).parent() {
                            dirs.push(tdir.to_path_buf());
                        }
                    }
                }
            }
        }
        dirs.sort();
        dirs.dedup();
        let mut fail = None;
        if let Some(w) = self.watcher.as_mut() {
            for d in dirs {
                if w.dirs.contains_key(&d) {
                    continue;
                }
                // A directory that does not exist yet: watch the nearest
                // existing ancestor, whose CREATE brings a full scan.
                let mut d = d.as_path();
                while !d.is_dir() {
                    match d.parent() {
                        Some(up) if !up.as_os_str().is_empty() => d = up,
                        _ => break,
                    }
                }
                if w.dirs.contains_key(d) || !d.is_dir() {
                    continue;
                }
                let d = d.to_path_buf();
                if w.files.len() + w.dirs.len() >= w.max {
                    fail = Some(format!(
                        "more than {} inotify watches needed; polling",
                        w.max
                    ));
                    break;
                }
                match w.inotify.watches().add(&d, DIR_MASK) {
                    Ok(wd) => {
                        w.dirs.insert(d, wd);
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                        fail = Some(format!("inotify watch limit reached ({e}); polling"));
                        break;
                    }
                    Err(_) => {}
                }
            }
        }
        if let Some(reason) = fail {
            self.fall_back(reason);
        }
    }

    fn fall_back(&mut self, reason: String) {
        self.watcher = None;
        self.next_full = Instant::now();
        self.fallback_reason = Some(reason);
        for t in &mut self.files {
            for h in t.current.iter_mut().chain(t.retired.iter_mut()) {
                h.wd = None;
            }
        }
    }

    fn unwatch(&mut self, wd: Option<WatchDescriptor>) {
        let (Some(wd), Some(w)) = (wd, self.watcher.as_mut()) else {
            return;
        };
        let shared = self.files.iter().any(|t| {
            t.current
                .iter()
                .chain(t.retired.iter())
                .any(|h| h.wd.as_ref() == Some(&wd))
        });
        if !shared {
            w.files.remove(&wd);
            let _ = w.inotify.watches().remove(wd);
        }
    }

    /// A handle that makes a blocked [`wait`](FileSource::wait) return at
    /// once (for shutdown or reconfiguration from another thread).
    pub fn waker(&mut self) -> io::Result<Waker> {
        self.wake.waker()
    }

    fn handle_events(&mut self, out: &mut Vec<LineEvent>) {
        let mut full = false;
        let mut modified: Vec<WatchDescriptor> = Vec::new();
        let mut ignored: Vec<WatchDescriptor> = Vec::new();
        {
            let Some(w) = self.watcher.as_mut() else {
                return;
            };
            let Watcher {
                inotify,
                dirs,
                buf,
                files,
                ..
            } = w;
            loop {
                let events = match inotify.read_events(buf) {
                    Ok(ev) => ev,
                    Err(_) => break,
                };
                let mut any = false;
                for ev in events {
                    any = true;
                    if ev.mask.contains(EventMask::Q_OVERFLOW) {
                        full = true;
                    } else if ev.mask.contains(EventMask::IGNORED) {
                        ignored.push(ev.wd.clone());
                        full = true;
                    } else if dirs.values().any(|d| *d == ev.wd) {
                        full = true;
                    } else if ev.mask == EventMask::MODIFY {
                        if !modified.contains(&ev.wd) {
                            modified.push(ev.wd.clone());
                        }
                    } else {
                        full = true;
                    }
                }
                if !any {
                    break;
                }
            }
            for wd in &ignored {
                dirs.retain(|_, d| d != wd);
                files.remove(wd);
            }
        }
        for wd in &ignored {
            for t in &mut self.files {
                for h in t.current.iter_mut().chain(t.retired.iter_mut()) {
                    if h.wd.as_ref() == Some(wd) {
                        h.wd = None;
                    }
                }
            }
        }
        if full {
            self.full_scan(out);
            return;
        }
        let mut budget = self.opts.max_batch_bytes;
        for wd in modified {
            for i in 0..self.files.len() {
                let t = &self.files[i];
                let hit = t
                    .current
                    .iter()
                    .chain(t.retired.iter())
                    .any(|h| h.wd.as_ref() == Some(&wd));
                if !hit {
                    continue;
                }
                let drained = self.drain_retired(i, out, &mut budget);
                if drained {
                    self.read_current(i, out, &mut budget);
                }
            }
        }
        if budget == 0 {
            self.more_pending = true;
        }
    }
}

/// The directory to watch for a pattern: the part before the first glob
/// character, or the parent of a literal path.
fn literal_dir(pattern: &str) -> PathBuf {
    let p = Path::new(pattern);
    let mut dir = PathBuf::new();
    let comps: Vec<_> = p.components().collect();
    let n = comps.len();
    for (k, c) in comps.into_iter().enumerate() {
        let s = c.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[']) || k + 1 == n {
            break;
        }
        dir.push(c);
    }
    if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    }
}

/// Offset to start at for `tail`: after the last newline near the end, so a
/// line being written is read whole; `true` if the start is mid-line.
fn tail_offset(file: &File, size: u64) -> io::Result<(u64, bool)> {
    if size == 0 {
        return Ok((0, false));
    }
    let from = size.saturating_sub(64 * 1024);
    let mut buf = vec![0u8; (size - from) as usize];
    let n = read_full_at(file, &mut buf, from)?;
    match memchr::memrchr(b'\n', &buf[..n]) {
        Some(k) => Ok((from + k as u64 + 1, false)),
        None if from == 0 => Ok((0, false)),
        None => Ok((size, true)),
    }
}

/// Bisects `file` between `start` and `size` (both at line starts) for about
/// the first line not older than the cutoff, assuming times grow through the
/// file. Returns a line start at or before that line; stops when the range is
/// small, or when it finds no dated line near a probe.
fn seek_to_time(
    file: &File,
    start: u64,
    size: u64,
    cut: &TimeCutoff,
    enc: Encoding,
) -> io::Result<u64> {
    const CLOSE_ENOUGH: u64 = 64 * 1024;
    let mut lo = start;
    let mut hi = size;
    let mut buf = vec![0u8; 16 * 1024];
    for _ in 0..64 {
        if hi.saturating_sub(lo) <= CLOSE_ENOUGH {
            break;
        }
        let mid = lo + (hi - lo) / 2;
        let n = read_full_at(file, &mut buf, mid)?;
        let chunk = &buf[..n];
        let Some(nl) = memchr::memchr(b'\n', chunk) else {
            break;
        };
        let mut pos = mid + nl as u64 + 1;
        let mut rest = &chunk[nl + 1..];
        let mut found = None;
        for _ in 0..5 {
            let Some(e) = memchr::memchr(b'\n', rest) else {
                break;
            };
            let line = rest[..e].strip_suffix(b"\r").unwrap_or(&rest[..e]);
            let end = pos + e as u64 + 1;
            if let Some(t) = (cut.line_time)(&enc.decode(line).0) {
                found = Some((t, pos, end));
                break;
            }
            pos = end;
            rest = &rest[e + 1..];
        }
        match found {
            Some((_, ls, _)) if ls >= hi => break,
            Some((t, _, end)) if t < cut.not_before => lo = end,
            Some((_, ls, _)) => hi = ls,
            None => break,
        }
    }
    Ok(lo)
}

fn newline_before(file: &File, offset: u64) -> bool {
    if offset == 0 {
        return true;
    }
    let mut b = [0u8; 1];
    matches!(file.read_at(&mut b, offset - 1), Ok(1) if b[0] == b'\n')
}

fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Whether the file under `h` was truncated (copytruncate) since it was
/// last read: shorter than what was read, or the bytes already read changed
/// (the newline ending the last line, the first line).
fn was_truncated(h: &mut Handle) -> io::Result<bool> {
    let size = h.file.metadata()?.len();
    h.size = size;
    let consumed = h.splitter.offset();
    if size < consumed {
        return Ok(true);
    }
    if size == consumed {
        return Ok(false);
    }
    let line_end = h.splitter.line_end();
    if h.nl_verified && !newline_before(&h.file, line_end) {
        return Ok(true);
    }
    if let Some((md5, len)) = &h.first_line {
        if *len <= 64 * 1024 && line_end >= *len {
            let mut buf = vec![0u8; *len as usize];
            let n = read_full_at(&h.file, &mut buf, 0)?;
            if n < buf.len() || md5_hex(&buf) != *md5 {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// After a copytruncate, the lines written between our last read and the
/// truncation are only in the copy (`NAME.1`, `NAME-20240101`, ...); after a
/// rotation while we were stopped, the unread end of the old file is in the
/// renamed file. Finds a sibling whose first line hashes to `md5` and reads
/// it from `from` to its end. Returns whether one was found.
#[allow(clippy::too_many_arguments)]
fn recover_from_sibling(
    path: &Path,
    md5: &str,
    from: u64,
    skip: Option<(u64, u64)>,
    initial: bool,
    enc: Encoding,
    max_line: usize,
    stats: &mut Stats,
    out: &mut Vec<LineEvent>,
) -> bool {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return false;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let name = name.to_string_lossy();
    let Ok(entries) = fs::read_dir(dir) else {
        return false;
    };
    for entry in entries.flatten().take(10_000) {
        let fname = entry.file_name();
        let fname = fname.to_string_lossy();
        let Some(rest) = fname.strip_prefix(&*name) else {
            continue;
        };
        if !rest.starts_with(['.', '-', '_'])
            || rest.ends_with(".gz")
            || rest.ends_with(".xz")
            || rest.ends_with(".bz2")
            || rest.ends_with(".zst")
        {
            continue;
        }
        let Ok(mut f) = File::open(entry.path()) else {
            continue;
        };
        let Ok(meta) = f.metadata() else { continue };
        if !meta.is_file() || meta.len() <= from || Some((meta.dev(), meta.ino())) == skip {
            continue;
        }
        match first_line_md5(&f) {
            Ok(Some((m, _))) if m.eq_ignore_ascii_case(md5) => {}
            _ => continue,
        }
        if !newline_before(&f, from) {
            continue;
        }
        if f.seek(SeekFrom::Start(from)).is_err() {
            continue;
        }
        let mut splitter = LineSplitter::new(from, max_line);
        let p: Arc<Path> = Arc::from(path);
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = meta.len() - from;
        while left > 0 {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let n = n.min(left as usize);
            left -= n as u64;
            stats.bytes_read += n as u64;
            splitter.feed(&buf[..n], |l| {
                push_line(out, stats, enc, &p, l, initial, true)
            });
        }
        return true;
    }
    false
}

/// Reads `h` from where it is to the end (or until `budget` is spent).
/// Returns whether the end was reached.
#[allow(clippy::too_many_arguments)]
fn read_handle(
    h: &mut Handle,
    path: &Arc<Path>,
    stats: &mut Stats,
    enc: Encoding,
    buf: &mut [u8],
    out: &mut Vec<LineEvent>,
    budget: &mut usize,
    rotated: bool,
) -> io::Result<bool> {
    loop {
        if *budget == 0 {
            return Ok(false);
        }
        let n = match h.file.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            h.initial = false;
            h.size = h.splitter.offset();
            return Ok(true);
        }
        *budget = budget.saturating_sub(n);
        stats.bytes_read += n as u64;
        stats.last_read = Some(SystemTime::now());
        h.last_growth = Instant::now();
        let initial = h.initial;
        let before = h.splitter.line_end();
        h.splitter.feed(&buf[..n], |l| {
            push_line(out, stats, enc, path, l, initial, rotated)
        });
        if h.splitter.line_end() != before {
            h.nl_verified = true;
            if h.first_line.is_none() {
                h.first_line = first_line_md5(&h.file).ok().flatten();
            }
        }
    }
}

fn push_line(
    out: &mut Vec<LineEvent>,
    stats: &mut Stats,
    enc: Encoding,
    path: &Arc<Path>,
    l: RawLine<'_>,
    initial: bool,
    rotated: bool,
) {
    let (text, replaced) = enc.decode(l.bytes);
    stats.lines_read += 1;
    stats.lines_replaced += u64::from(replaced);
    stats.lines_truncated += u64::from(l.truncated);
    out.push(LineEvent {
        path: path.clone(),
        text: text.into_owned(),
        offset: l.end,
        initial,
        rotated,
        truncated: l.truncated,
    });
}
