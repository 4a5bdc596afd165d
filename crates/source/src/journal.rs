//! The systemd journal (`backend = systemd`), through `libsystemd.so.0`
//! loaded at run time: a binary built here runs on machines without it and
//! only this backend then fails, with a clear error.
//!
//! [`JournalSource`] opens the journal ([`JournalOptions`]: the local journal,
//! `journalpath`, `journalfiles`, `journalflags`, `namespace`), applies the
//! `journalmatch` terms ([`parse_journalmatch`]), positions itself (by cursor,
//! by time, or at the end) and hands out [`JournalEntry`]s: the line formatted
//! as fail2ban formats it (`[_HOSTNAME] SYSLOG_IDENTIFIER[SYSLOG_PID]: MESSAGE`,
//! spec §7.1), the entry's realtime timestamp, and its cursor for resuming.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::PathBuf;
use std::ptr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::encoding::Encoding;
use crate::SourceError;

/// `SD_JOURNAL_SYSTEM`: fail2ban's default flags when neither a path nor
/// files are given.
pub const SD_JOURNAL_SYSTEM: i32 = 1 << 2;

/// How to open the journal (the `systemd[...]` backend arguments) and what to
/// select from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JournalOptions {
    /// `journalpath`: a directory of journal files.
    pub path: Option<PathBuf>,
    /// `journalfiles`: journal files (globs allowed, expanded at open).
    pub files: Vec<String>,
    /// `journalflags`; when `None`, [`SD_JOURNAL_SYSTEM`] applies if neither
    /// path nor files are given (as fail2ban), else 0.
    pub flags: Option<i32>,
    /// `namespace`.
    pub namespace: Option<String>,
    /// `journalmatch`: groups of `FIELD=value` terms; the groups are OR-ed.
    /// Within a group, terms on different fields are AND-ed, terms on the
    /// same field OR-ed (the journal's own rules).
    pub matches: Vec<Vec<String>>,
    /// `logencoding` for the field values.
    pub encoding: Encoding,
}

impl JournalOptions {
    /// Builds options from the backend arguments of `systemd[k=v, ...]` (as
    /// parsed by the config crate) and the jail's `journalmatch` lines.
    pub fn from_args<'a>(
        args: impl IntoIterator<Item = (&'a str, &'a str)>,
        journalmatch: &str,
    ) -> Result<JournalOptions, SourceError> {
        let mut o = JournalOptions::default();
        for (k, v) in args {
            match k {
                "journalpath" => o.path = Some(PathBuf::from(v)),
                "journalfiles" => o.files = v.split_whitespace().map(str::to_string).collect(),
                "journalflags" => {
                    o.flags = Some(v.trim().parse().map_err(|_| {
                        SourceError::Journal(format!("journalflags {v:?} is not an integer"))
                    })?)
                }
                "namespace" => o.namespace = Some(v.to_string()),
                other => {
                    return Err(SourceError::Journal(format!(
                        "unknown systemd backend option {other:?}"
                    )))
                }
            }
        }
        for line in journalmatch.lines() {
            o.matches.extend(parse_journalmatch(line)?);
        }
        Ok(o)
    }
}

/// Parses one `journalmatch` line: whitespace-separated `FIELD=value` terms
/// (double or single quotes group a value with spaces), `+` starting a new
/// OR-ed group. An empty line gives no group.
pub fn parse_journalmatch(line: &str) -> Result<Vec<Vec<String>>, SourceError> {
    journalmatch_groups(&split_words(line)?)
}

/// Groups words already split as a shell splits them (the arguments of
/// `set JAIL addjournalmatch ...`): `+` separates OR-ed groups, every other
/// word must be a `FIELD=value` term with a journal field name. Empty groups
/// are dropped.
pub fn journalmatch_groups<S: AsRef<str>>(words: &[S]) -> Result<Vec<Vec<String>>, SourceError> {
    let mut groups: Vec<Vec<String>> = vec![Vec::new()];
    for word in words {
        let word = word.as_ref();
        if word == "+" {
            groups.push(Vec::new());
            continue;
        }
        check_term(word)?;
        if let Some(g) = groups.last_mut() {
            g.push(word.to_string());
        }
    }
    groups.retain(|g| !g.is_empty());
    Ok(groups)
}

/// A `FIELD=value` term whose field is a journal field name (upper-case
/// letters, digits and `_`, not starting with a digit).
fn check_term(word: &str) -> Result<(), SourceError> {
    let Some((field, _)) = word.split_once('=') else {
        return Err(SourceError::Journal(format!(
            "journalmatch term {word:?} is not FIELD=value"
        )));
    };
    let valid = !field.is_empty()
        && field
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !field.as_bytes()[0].is_ascii_digit();
    if !valid {
        return Err(SourceError::Journal(format!(
            "journalmatch field {field:?} is not a journal field name"
        )));
    }
    Ok(())
}

fn split_words(s: &str) -> Result<Vec<String>, SourceError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(SourceError::Journal(format!(
            "unbalanced quote in journalmatch {s:?}"
        )));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// Health of a [`JournalSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalHealth {
    /// Entries handed out.
    pub entries_read: u64,
    /// When an entry was last handed out.
    pub last_read: Option<SystemTime>,
    /// Cursor of the last entry handed out.
    pub cursor: Option<String>,
    /// The `journalmatch` groups in force.
    pub matches: Vec<Vec<String>>,
}

/// One journal entry, ready for the filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// The entry as a log line, formatted as fail2ban does; newlines in the
    /// message are written `\n`.
    pub line: String,
    /// `_SOURCE_REALTIME_TIMESTAMP` if the entry has it, else its realtime
    /// timestamp.
    pub time: SystemTime,
    /// The entry's cursor: store it to resume after this entry.
    pub cursor: String,
}

/// The fields of an entry that make up its line (raw bytes as stored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryFields {
    /// `_HOSTNAME`
    pub hostname: Option<Vec<u8>>,
    /// `SYSLOG_IDENTIFIER`
    pub syslog_identifier: Option<Vec<u8>>,
    /// `_COMM`
    pub comm: Option<Vec<u8>>,
    /// `SYSLOG_PID`
    pub syslog_pid: Option<Vec<u8>>,
    /// `_PID`
    pub pid: Option<Vec<u8>>,
    /// Every `MESSAGE` field (usually one).
    pub messages: Vec<Vec<u8>>,
    /// `_SOURCE_MONOTONIC_TIMESTAMP` (µs, decimal text).
    pub source_monotonic: Option<Vec<u8>>,
    /// `_SOURCE_REALTIME_TIMESTAMP` (µs, decimal text).
    pub source_realtime: Option<Vec<u8>>,
}

/// Formats an entry the way fail2ban's systemd backend does:
/// `[_HOSTNAME] IDENT[PID]: [monotonic] MESSAGE` where IDENT is
/// `SYSLOG_IDENTIFIER` or `_COMM`, PID is `SYSLOG_PID` or `_PID` (written as
/// an integer when it is one), the `[%12.6f]` monotonic stamp only for
/// `kernel`, and newlines escaped as `\n`. Pure.
pub fn format_entry(f: &EntryFields, monotonic_usec: u64, enc: Encoding) -> String {
    let nonempty = |v: &Option<Vec<u8>>| {
        v.as_ref()
            .filter(|v| !v.is_empty())
            .map(|v| enc.decode(v).0.into_owned())
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(h) = nonempty(&f.hostname) {
        parts.push(h);
    }
    if let Some(mut ident) = nonempty(&f.syslog_identifier).or_else(|| nonempty(&f.comm)) {
        if let Some(pid) = nonempty(&f.syslog_pid).or_else(|| nonempty(&f.pid)) {
            match python_int(&pid) {
                Some(n) => ident.push_str(&format!("[{n}]")),
                None => ident.push_str(&format!("[{pid}]")),
            }
        }
        ident.push(':');
        let kernel = ident == "kernel:";
        parts.push(ident);
        if kernel {
            let usec = f
                .source_monotonic
                .as_ref()
                .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok())
                .unwrap_or(monotonic_usec);
            parts.push(format!("[{:12.6}]", usec as f64 / 1e6));
        }
    }
    let msg: Vec<String> = f
        .messages
        .iter()
        .map(|m| enc.decode(m).0.into_owned())
        .collect();
    parts.push(msg.join(" "));
    parts.join(" ").replace('\n', "\\n")
}

/// The PID as python-systemd and fail2ban turn it into a number: decimal
/// (leading zeros, surrounding spaces and `_` allowed), else `0x`/`0o`/`0b`
/// prefixed. Otherwise the text is used as it is (fail2ban would print
/// Python's bytes repr, `b'...'`, which no filter expects).
fn python_int(s: &str) -> Option<i128> {
    let t = s.trim();
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if t.starts_with('_') || t.ends_with('_') || t.contains("__") {
        return None;
    }
    let lower = t.replace('_', "").to_ascii_lowercase();
    let v = if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_digit()) {
        lower.parse().ok()?
    } else if let Some(h) = lower.strip_prefix("0x") {
        i128::from_str_radix(h, 16).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        i128::from_str_radix(o, 8).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        i128::from_str_radix(b, 2).ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

// ---- libsystemd, loaded at run time ----

#[repr(C)]
struct SdJournal {
    _private: [u8; 0],
}

#[repr(C)]
struct SdId128 {
    bytes: [u8; 16],
}

type OpenFn = unsafe extern "C" fn(*mut *mut SdJournal, c_int) -> c_int;
type OpenDirFn = unsafe extern "C" fn(*mut *mut SdJournal, *const c_char, c_int) -> c_int;
type OpenFilesFn = unsafe extern "C" fn(*mut *mut SdJournal, *const *const c_char, c_int) -> c_int;
type OpenNsFn = unsafe extern "C" fn(*mut *mut SdJournal, *const c_char, c_int) -> c_int;
type CloseFn = unsafe extern "C" fn(*mut SdJournal);
type AddMatchFn = unsafe extern "C" fn(*mut SdJournal, *const c_void, usize) -> c_int;
type JFn = unsafe extern "C" fn(*mut SdJournal) -> c_int;
type SeekUsecFn = unsafe extern "C" fn(*mut SdJournal, u64) -> c_int;
type CursorFn = unsafe extern "C" fn(*mut SdJournal, *const c_char) -> c_int;
type GetCursorFn = unsafe extern "C" fn(*mut SdJournal, *mut *mut c_char) -> c_int;
type GetRealtimeFn = unsafe extern "C" fn(*mut SdJournal, *mut u64) -> c_int;
type GetMonotonicFn = unsafe extern "C" fn(*mut SdJournal, *mut u64, *mut SdId128) -> c_int;
type EnumerateFn = unsafe extern "C" fn(*mut SdJournal, *mut *const c_void, *mut usize) -> c_int;
type RestartFn = unsafe extern "C" fn(*mut SdJournal);
type ThresholdFn = unsafe extern "C" fn(*mut SdJournal, usize) -> c_int;
type GetTimeoutFn = unsafe extern "C" fn(*mut SdJournal, *mut u64) -> c_int;

struct Lib {
    open: OpenFn,
    open_directory: OpenDirFn,
    open_files: OpenFilesFn,
    open_namespace: Option<OpenNsFn>,
    close: CloseFn,
    add_match: AddMatchFn,
    add_disjunction: JFn,
    flush_matches: RestartFn,
    seek_head: JFn,
    seek_tail: JFn,
    seek_realtime_usec: SeekUsecFn,
    seek_cursor: CursorFn,
    test_cursor: CursorFn,
    get_cursor: GetCursorFn,
    next: JFn,
    previous: JFn,
    get_realtime_usec: GetRealtimeFn,
    get_monotonic_usec: GetMonotonicFn,
    enumerate: EnumerateFn,
    restart_data: RestartFn,
    set_data_threshold: ThresholdFn,
    get_fd: JFn,
    get_timeout: GetTimeoutFn,
    process: JFn,
}

fn lib() -> Result<&'static Lib, SourceError> {
    static LIB: OnceLock<Result<Lib, String>> = OnceLock::new();
    LIB.get_or_init(load)
        .as_ref()
        .map_err(|e| SourceError::Journal(e.clone()))
}

fn load() -> Result<Lib, String> {
    // SAFETY: dlopen/dlsym with NUL-terminated names; the handle is never
    // closed, so the function pointers stay valid for the process lifetime.
    unsafe {
        let h = libc::dlopen(
            c"libsystemd.so.0".as_ptr(),
            libc::RTLD_NOW | libc::RTLD_LOCAL,
        );
        if h.is_null() {
            let err = libc::dlerror();
            let msg = if err.is_null() {
                String::from("unknown error")
            } else {
                CStr::from_ptr(err).to_string_lossy().into_owned()
            };
            return Err(format!(
                "cannot load libsystemd.so.0 ({msg}); the systemd backend needs libsystemd0"
            ));
        }
        let sym = |name: &CStr| -> Result<*mut c_void, String> {
            let p = libc::dlsym(h, name.as_ptr());
            if p.is_null() {
                Err(format!("libsystemd.so.0 lacks {}", name.to_string_lossy()))
            } else {
                Ok(p)
            }
        };
        macro_rules! f {
            ($name:literal, $ty:ty) => {
                std::mem::transmute::<*mut c_void, $ty>(sym($name)?)
            };
        }
        let enumerate = match sym(c"sd_journal_enumerate_available_data") {
            Ok(p) => std::mem::transmute::<*mut c_void, EnumerateFn>(p),
            Err(_) => f!(c"sd_journal_enumerate_data", EnumerateFn),
        };
        Ok(Lib {
            open: f!(c"sd_journal_open", OpenFn),
            open_directory: f!(c"sd_journal_open_directory", OpenDirFn),
            open_files: f!(c"sd_journal_open_files", OpenFilesFn),
            open_namespace: sym(c"sd_journal_open_namespace")
                .ok()
                .map(|p| std::mem::transmute::<*mut c_void, OpenNsFn>(p)),
            close: f!(c"sd_journal_close", CloseFn),
            add_match: f!(c"sd_journal_add_match", AddMatchFn),
            add_disjunction: f!(c"sd_journal_add_disjunction", JFn),
            flush_matches: f!(c"sd_journal_flush_matches", RestartFn),
            seek_head: f!(c"sd_journal_seek_head", JFn),
            seek_tail: f!(c"sd_journal_seek_tail", JFn),
            seek_realtime_usec: f!(c"sd_journal_seek_realtime_usec", SeekUsecFn),
            seek_cursor: f!(c"sd_journal_seek_cursor", CursorFn),
            test_cursor: f!(c"sd_journal_test_cursor", CursorFn),
            get_cursor: f!(c"sd_journal_get_cursor", GetCursorFn),
            next: f!(c"sd_journal_next", JFn),
            previous: f!(c"sd_journal_previous", JFn),
            get_realtime_usec: f!(c"sd_journal_get_realtime_usec", GetRealtimeFn),
            get_monotonic_usec: f!(c"sd_journal_get_monotonic_usec", GetMonotonicFn),
            enumerate,
            restart_data: f!(c"sd_journal_restart_data", RestartFn),
            set_data_threshold: f!(c"sd_journal_set_data_threshold", ThresholdFn),
            get_fd: f!(c"sd_journal_get_fd", JFn),
            get_timeout: f!(c"sd_journal_get_timeout", GetTimeoutFn),
            process: f!(c"sd_journal_process", JFn),
        })
    }
}

/// Whether `libsystemd.so.0` can be loaded here.
pub fn available() -> bool {
    lib().is_ok()
}

fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

fn check(what: &str, r: c_int) -> Result<c_int, SourceError> {
    if r < 0 {
        Err(SourceError::Journal(format!(
            "{what}: {}",
            std::io::Error::from_raw_os_error(-r)
        )))
    } else {
        Ok(r)
    }
}

/// A reader of the systemd journal.
///
/// Owns an `sd_journal` handle; use it from one thread at a time (it may move
/// between threads).
pub struct JournalSource {
    lib: &'static Lib,
    j: *mut SdJournal,
    enc: Encoding,
    matches: Vec<Vec<String>>,
    last_cursor: Option<String>,
    entries_read: u64,
    last_read: Option<SystemTime>,
    fd: std::os::fd::RawFd,
    wake: crate::wake::WakeSlot,
}

// SAFETY: an sd_journal may be used from any thread as long as only one uses
// it at a time, which `&mut self` on every call guarantees.
unsafe impl Send for JournalSource {}

impl std::fmt::Debug for JournalSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalSource")
            .field("matches", &self.matches)
            .field("last_cursor", &self.last_cursor)
            .finish()
    }
}

impl Drop for JournalSource {
    fn drop(&mut self) {
        // SAFETY: `j` came from a successful sd_journal_open* and is closed once.
        unsafe { (self.lib.close)(self.j) }
    }
}

impl JournalSource {
    /// Opens the journal and applies the matches. The reader starts at the
    /// head; position it with [`seek_cursor`](Self::seek_cursor),
    /// [`seek_time`](Self::seek_time) or [`seek_tail`](Self::seek_tail).
    pub fn open(opts: &JournalOptions) -> Result<JournalSource, SourceError> {
        let lib = lib()?;
        let mut j: *mut SdJournal = ptr::null_mut();
        let cstr = |s: &str| {
            CString::new(s).map_err(|_| SourceError::Journal(format!("NUL byte in {s:?}")))
        };
        // SAFETY: valid out-pointer and NUL-terminated strings that outlive the calls.
        let r = unsafe {
            if !opts.files.is_empty() {
                let mut files = Vec::new();
                for pat in &opts.files {
                    match glob::glob(pat) {
                        Ok(paths) => files.extend(paths.flatten()),
                        Err(e) => {
                            return Err(SourceError::Journal(format!("journalfiles {pat:?}: {e}")))
                        }
                    }
                }
                files.sort();
                files.dedup();
                if files.is_empty() {
                    return Err(SourceError::Journal(format!(
                        "no journal files match {:?}",
                        opts.files
                    )));
                }
                let owned: Vec<CString> = files
                    .iter()
                    .map(|p| cstr(&p.to_string_lossy()))
                    .collect::<Result<_, _>>()?;
                let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
                ptrs.push(ptr::null());
                (lib.open_files)(&mut j, ptrs.as_ptr(), opts.flags.unwrap_or(0))
            } else if let Some(path) = &opts.path {
                let p = cstr(&path.to_string_lossy())?;
                (lib.open_directory)(&mut j, p.as_ptr(), opts.flags.unwrap_or(0))
            } else if let Some(ns) = &opts.namespace {
                let Some(open_ns) = lib.open_namespace else {
                    return Err(SourceError::Journal(
                        "this libsystemd has no journal namespaces".into(),
                    ));
                };
                let n = cstr(ns)?;
                (open_ns)(&mut j, n.as_ptr(), opts.flags.unwrap_or(SD_JOURNAL_SYSTEM))
            } else {
                (lib.open)(&mut j, opts.flags.unwrap_or(SD_JOURNAL_SYSTEM))
            }
        };
        check("opening the journal", r)?;
        if j.is_null() {
            return Err(SourceError::Journal(
                "opening the journal gave no handle".into(),
            ));
        }
        let mut src = JournalSource {
            lib,
            j,
            enc: opts.encoding,
            matches: Vec::new(),
            last_cursor: None,
            entries_read: 0,
            last_read: None,
            fd: -1,
            wake: crate::wake::WakeSlot::default(),
        };
        // SAFETY: valid handle. The descriptor belongs to the journal object.
        src.fd = check("getting the journal descriptor", unsafe { (lib.get_fd)(j) })?;
        // SAFETY: valid handle.
        check("setting the data threshold", unsafe {
            (lib.set_data_threshold)(j, crate::lines::DEFAULT_MAX_LINE)
        })?;
        for group in &opts.matches {
            src.add_match_group(group)?;
        }
        Ok(src)
    }

    /// Adds one OR-ed group of `FIELD=value` terms (fail2ban's `addjournalmatch`).
    pub fn add_match_group(&mut self, group: &[String]) -> Result<(), SourceError> {
        if group.is_empty() {
            return Ok(());
        }
        // SAFETY: valid handle; term bytes live across the call.
        unsafe {
            if !self.matches.is_empty() {
                check("adding a journal match", (self.lib.add_disjunction)(self.j))?;
            }
            for term in group {
                check(
                    &format!("journal match {term:?}"),
                    (self.lib.add_match)(self.j, term.as_ptr().cast(), term.len()),
                )?;
            }
            check("adding a journal match", (self.lib.add_disjunction)(self.j))?;
        }
        self.matches.push(group.to_vec());
        Ok(())
    }

    /// Replaces all match groups (fail2ban's `deljournalmatch` and
    /// re-adding); an empty list selects every entry.
    pub fn set_matches(&mut self, groups: &[Vec<String>]) -> Result<(), SourceError> {
        // SAFETY: valid handle.
        unsafe { (self.lib.flush_matches)(self.j) };
        self.matches.clear();
        for g in groups {
            self.add_match_group(g)?;
        }
        Ok(())
    }

    /// Changes `logencoding` for the entries read from now on.
    pub fn set_encoding(&mut self, enc: Encoding) {
        self.enc = enc;
    }

    /// The match groups in force.
    pub fn matches(&self) -> &[Vec<String>] {
        &self.matches
    }

    /// Positions the reader just after the entry `cursor` (a stored
    /// position). Returns `false` when that entry is no longer in the journal
    /// (then the reader is at the first entry after where it was, if the
    /// journal can tell, else at the head).
    pub fn seek_cursor(&mut self, cursor: &str) -> Result<bool, SourceError> {
        let c =
            CString::new(cursor).map_err(|_| SourceError::Journal("NUL byte in cursor".into()))?;
        // SAFETY: valid handle and NUL-terminated cursor.
        unsafe {
            check(
                "seeking to the cursor",
                (self.lib.seek_cursor)(self.j, c.as_ptr()),
            )?;
            let moved = check("reading the journal", (self.lib.next)(self.j))?;
            if moved == 0 {
                return Ok(false);
            }
            if (self.lib.test_cursor)(self.j, c.as_ptr()) > 0 {
                self.last_cursor = Some(cursor.to_string());
                Ok(true)
            } else {
                // Not the stored entry: step back so it is read next.
                (self.lib.previous)(self.j);
                Ok(false)
            }
        }
    }

    /// Positions the reader at the first entry at or after `t`
    /// (fail2ban starts at `now - findtime`, or the stored time).
    pub fn seek_time(&mut self, t: SystemTime) -> Result<(), SourceError> {
        let usec = t
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        // SAFETY: valid handle.
        check("seeking in time", unsafe {
            (self.lib.seek_realtime_usec)(self.j, usec)
        })?;
        Ok(())
    }

    /// Positions the reader after the last entry: only new entries come.
    pub fn seek_tail(&mut self) -> Result<(), SourceError> {
        // SAFETY: valid handle.
        unsafe {
            check("seeking to the tail", (self.lib.seek_tail)(self.j))?;
            // After seek_tail the position is undefined until one step back.
            check("reading the journal", (self.lib.previous)(self.j))?;
        }
        Ok(())
    }

    /// Positions the reader before the first entry.
    pub fn seek_head(&mut self) -> Result<(), SourceError> {
        // SAFETY: valid handle.
        check("seeking to the head", unsafe {
            (self.lib.seek_head)(self.j)
        })?;
        Ok(())
    }

    /// The cursor of the last entry handed out (to store).
    pub fn cursor(&self) -> Option<&str> {
        self.last_cursor.as_deref()
    }

    /// Counters for status and health checks.
    pub fn health(&self) -> JournalHealth {
        JournalHealth {
            entries_read: self.entries_read,
            last_read: self.last_read,
            cursor: self.last_cursor.clone(),
            matches: self.matches.clone(),
        }
    }

    /// The next entry, if one is there now.
    pub fn next_entry(&mut self) -> Result<Option<JournalEntry>, SourceError> {
        // SAFETY: valid handle; data pointers from the journal are only read
        // before the next call that may invalidate them.
        unsafe {
            let moved = check("reading the journal", (self.lib.next)(self.j))?;
            if moved == 0 {
                return Ok(None);
            }
            let mut realtime = 0u64;
            check(
                "reading the entry time",
                (self.lib.get_realtime_usec)(self.j, &mut realtime),
            )?;
            let mut mono = 0u64;
            let mut boot = SdId128 { bytes: [0; 16] };
            if (self.lib.get_monotonic_usec)(self.j, &mut mono, &mut boot) < 0 {
                mono = 0;
            }
            let mut f = EntryFields::default();
            (self.lib.restart_data)(self.j);
            loop {
                let mut data: *const c_void = ptr::null();
                let mut len = 0usize;
                let r = (self.lib.enumerate)(self.j, &mut data, &mut len);
                if r <= 0 || data.is_null() {
                    break;
                }
                let bytes = std::slice::from_raw_parts(data.cast::<u8>(), len);
                let Some(eq) = memchr::memchr(b'=', bytes) else {
                    continue;
                };
                let (name, value) = (&bytes[..eq], &bytes[eq + 1..]);
                let slot = match name {
                    b"_HOSTNAME" => &mut f.hostname,
                    b"SYSLOG_IDENTIFIER" => &mut f.syslog_identifier,
                    b"_COMM" => &mut f.comm,
                    b"SYSLOG_PID" => &mut f.syslog_pid,
                    b"_PID" => &mut f.pid,
                    b"_SOURCE_MONOTONIC_TIMESTAMP" => &mut f.source_monotonic,
                    b"_SOURCE_REALTIME_TIMESTAMP" => &mut f.source_realtime,
                    b"MESSAGE" => {
                        f.messages.push(value.to_vec());
                        continue;
                    }
                    _ => continue,
                };
                if slot.is_none() {
                    *slot = Some(value.to_vec());
                }
            }
            let mut c: *mut c_char = ptr::null_mut();
            check("reading the cursor", (self.lib.get_cursor)(self.j, &mut c))?;
            let cursor = if c.is_null() {
                String::new()
            } else {
                let s = CStr::from_ptr(c).to_string_lossy().into_owned();
                libc::free(c.cast());
                s
            };
            let usec = f
                .source_realtime
                .as_ref()
                .and_then(|v| std::str::from_utf8(v).ok()?.trim().parse::<u64>().ok())
                .unwrap_or(realtime);
            let line = format_entry(&f, mono, self.enc);
            self.last_cursor = Some(cursor.clone());
            self.entries_read += 1;
            self.last_read = Some(SystemTime::now());
            Ok(Some(JournalEntry {
                line,
                time: UNIX_EPOCH + Duration::from_micros(usec),
                cursor,
            }))
        }
    }

    /// Returns the entries available now (at most `max`); when there are
    /// none, waits up to `timeout` for the journal to change and tries again.
    pub fn wait(
        &mut self,
        timeout: Duration,
        max: usize,
    ) -> Result<Vec<JournalEntry>, SourceError> {
        let mut out = Vec::new();
        let deadline = crate::deadline(timeout);
        loop {
            while out.len() < max {
                match self.next_entry()? {
                    Some(e) => out.push(e),
                    None => break,
                }
            }
            let now = std::time::Instant::now();
            if !out.is_empty() || now >= deadline {
                return Ok(out);
            }
            // The journal's descriptor, and how long it may be trusted
            // (some file systems need a periodic look).
            let mut nap = deadline.saturating_duration_since(now);
            let mut until = u64::MAX;
            // SAFETY: valid handle and out-pointer.
            if unsafe { (self.lib.get_timeout)(self.j, &mut until) } >= 0 && until != u64::MAX {
                let mono = monotonic_usec();
                nap = nap.min(Duration::from_micros(until.saturating_sub(mono)));
            }
            let (_, woken) = self.wake.sleep(self.fd, nap);
            // SAFETY: valid handle.
            check("processing journal changes", unsafe {
                (self.lib.process)(self.j)
            })?;
            if woken {
                while out.len() < max {
                    match self.next_entry()? {
                        Some(e) => out.push(e),
                        None => break,
                    }
                }
                return Ok(out);
            }
        }
    }

    /// A handle that makes a blocked [`wait`](JournalSource::wait) return at once.
    pub fn waker(&mut self) -> std::io::Result<crate::Waker> {
        self.wake.waker()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journalmatch_terms() {
        assert_eq!(
            parse_journalmatch("_SYSTEMD_UNIT=sshd.service + _COMM=sshd").unwrap(),
            vec![
                vec!["_SYSTEMD_UNIT=sshd.service".to_string()],
                vec!["_COMM=sshd".to_string()]
            ]
        );
        assert_eq!(
            parse_journalmatch("_SYSTEMD_UNIT=a.service _COMM=a \"MESSAGE=x y\"").unwrap(),
            vec![vec![
                "_SYSTEMD_UNIT=a.service".to_string(),
                "_COMM=a".into(),
                "MESSAGE=x y".into()
            ]]
        );
        assert!(parse_journalmatch("").unwrap().is_empty());
        assert!(parse_journalmatch("sshd").is_err());
        assert!(parse_journalmatch("lower=x").is_err());
        assert!(parse_journalmatch("A=\"open").is_err());
    }

    #[test]
    fn options_from_backend_args() {
        let o = JournalOptions::from_args(
            [("journalpath", "/var/log/journal"), ("journalflags", "1")],
            "_SYSTEMD_UNIT=sshd.service + _COMM=sshd\n_COMM=x",
        )
        .unwrap();
        assert_eq!(o.path, Some(PathBuf::from("/var/log/journal")));
        assert_eq!(o.flags, Some(1));
        assert_eq!(o.matches.len(), 3);
        assert!(JournalOptions::from_args([("journalflags", "x")], "").is_err());
        assert!(JournalOptions::from_args([("bogus", "1")], "").is_err());
    }

    fn fields(pairs: &[(&str, &str)]) -> EntryFields {
        let mut f = EntryFields::default();
        for (k, v) in pairs {
            let raw = v.as_bytes().to_vec();
            let v = Some(raw.clone());
            match *k {
                "_HOSTNAME" => f.hostname = v,
                "SYSLOG_IDENTIFIER" => f.syslog_identifier = v,
                "_COMM" => f.comm = v,
                "SYSLOG_PID" => f.syslog_pid = v,
                "_PID" => f.pid = v,
                "MESSAGE" => f.messages.push(raw),
                "_SOURCE_MONOTONIC_TIMESTAMP" => f.source_monotonic = v,
                _ => panic!("{k}"),
            }
        }
        f
    }

    #[test]
    fn formatting_table() {
        type Case<'a> = (&'a [(&'a str, &'a str)], u64, &'a str);
        let table: &[Case<'_>] = &[
            (
                &[
                    ("_HOSTNAME", "web1"),
                    ("SYSLOG_IDENTIFIER", "sshd"),
                    ("_PID", "1234"),
                    ("MESSAGE", "Failed password"),
                ],
                0,
                "web1 sshd[1234]: Failed password",
            ),
            (
                &[
                    ("_COMM", "sshd"),
                    ("SYSLOG_PID", "0x10"),
                    ("_PID", "9"),
                    ("MESSAGE", "m"),
                ],
                0,
                "sshd[16]: m",
            ),
            (
                &[
                    ("SYSLOG_IDENTIFIER", "app"),
                    ("SYSLOG_PID", "abc"),
                    ("MESSAGE", "m"),
                ],
                0,
                "app[abc]: m",
            ),
            (
                &[
                    ("SYSLOG_IDENTIFIER", "app"),
                    ("SYSLOG_PID", " 012 "),
                    ("MESSAGE", "m"),
                ],
                0,
                "app[12]: m",
            ),
            (
                &[("_HOSTNAME", "h"), ("MESSAGE", "line1\nline2")],
                0,
                "h line1\\nline2",
            ),
            (
                &[("SYSLOG_IDENTIFIER", "kernel"), ("MESSAGE", "oops")],
                12_345_678,
                "kernel: [   12.345678] oops",
            ),
            (
                &[
                    ("SYSLOG_IDENTIFIER", "kernel"),
                    ("_SOURCE_MONOTONIC_TIMESTAMP", "1500000"),
                    ("MESSAGE", "x"),
                ],
                9,
                "kernel: [    1.500000] x",
            ),
            (&[("MESSAGE", "a"), ("MESSAGE", "b")], 0, "a b"),
            (&[("_HOSTNAME", ""), ("SYSLOG_IDENTIFIER", "x")], 0, "x: "),
        ];
        for (pairs, mono, want) in table {
            assert_eq!(
                format_entry(&fields(pairs), *mono, Encoding::Utf8),
                *want,
                "{pairs:?}"
            );
        }
    }
}
