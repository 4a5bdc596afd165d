//! A PCRE2 regex run straight through its JIT code, for the hot path.
//!
//! The `pcre2` crate goes `captures_read_at` → `pcre2_match` → `pcre2_jit_match`:
//! `pcre2_match` validates its arguments and the subject again on every call before it
//! hands over to the JIT, about 120 instructions plus the wrapper's own checks, on a
//! path that runs several times per log line. This module compiles a pattern once with
//! JIT and calls `pcre2_jit_match` directly, with one match data block, match context
//! and JIT stack created up front and reused.
//!
//! What `pcre2_match` checks and why skipping it is sound here:
//! - the subject pointer is never null (an empty subject gets a one-byte static);
//! - the start offset is always 0 and the options always 0;
//! - the pattern is compiled without UTF, so there is no UTF validity to check (this
//!   is the ASCII twin of [`crate::regex`]; it only ever sees pure-ASCII text);
//! - the code was JIT-compiled for complete matches (`new` fails otherwise), so
//!   `pcre2_jit_match` never needs the interpreter `pcre2_match` would fall back to;
//! - the match data block was created from this very pattern, so its ovector holds
//!   every group.
//!
//! The match limit (`(*LIMIT_MATCH=...)` in the pattern) applies as before: the JIT
//! uses the smaller of the pattern's limit and the match context's.
//!
//! All `unsafe` of the crate's matching lives here.

use std::ptr;

use pcre2_sys::{
    pcre2_code_8, pcre2_code_free_8, pcre2_compile_8, pcre2_get_error_message_8,
    pcre2_get_ovector_count_8, pcre2_get_ovector_pointer_8, pcre2_jit_compile_8, pcre2_jit_match_8,
    pcre2_jit_stack_8, pcre2_jit_stack_assign_8, pcre2_jit_stack_create_8, pcre2_jit_stack_free_8,
    pcre2_match_context_8, pcre2_match_context_create_8, pcre2_match_context_free_8,
    pcre2_match_data_8, pcre2_match_data_create_from_pattern_8, pcre2_match_data_free_8,
    PCRE2_ERROR_NOMATCH, PCRE2_JIT_COMPLETE, PCRE2_MULTILINE, PCRE2_UNSET,
};

/// The offset PCRE2 gives a group that did not take part.
pub(crate) const UNSET: usize = PCRE2_UNSET;

/// Largest JIT stack a match may grow (the same as the `pcre2` crate's setting in
/// [`crate::regex`]).
const MAX_JIT_STACK: usize = 1 << 20;

/// A byte-mode (no UTF, no UCP) PCRE2 regex, JIT-compiled, with its match state.
pub(crate) struct JitRegex {
    code: *mut pcre2_code_8,
    data: *mut pcre2_match_data_8,
    ctx: *mut pcre2_match_context_8,
    stack: *mut pcre2_jit_stack_8,
    /// The match data's ovector: `2 * pairs` offsets.
    ovector: *const usize,
    pairs: usize,
}

// SAFETY: the PCRE2 objects are owned by this value alone (nothing else holds the
// pointers) and are only used through `&mut self` (matching) or `&self` (reading the
// ovector after a match); PCRE2 keeps no thread-local state for them.
unsafe impl Send for JitRegex {}
// SAFETY: `&self` methods only read the ovector, which only `&mut self` writes.
unsafe impl Sync for JitRegex {}

/// PCRE2's message for an error code.
fn message(code: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: PCRE2 writes at most `buf.len()` bytes, NUL included, and returns the
    // length written (negative on error).
    let n = unsafe { pcre2_get_error_message_8(code, buf.as_mut_ptr(), buf.len()) };
    match usize::try_from(n) {
        Ok(n) => String::from_utf8_lossy(&buf[..n.min(buf.len())]).into_owned(),
        Err(_) => format!("unknown error code {code}"),
    }
}

impl JitRegex {
    /// Compile `pattern` in byte mode (with `^`/`$` at line ends when `multi_line`) and
    /// JIT-compile it. None when either step fails: the caller then uses another
    /// regex.
    pub fn new(pattern: &str, multi_line: bool) -> Option<JitRegex> {
        let options = if multi_line { PCRE2_MULTILINE } else { 0 };
        let mut err: i32 = 0;
        let mut off: usize = 0;
        // SAFETY: the pattern pointer and length describe a live &str; the error
        // outputs point at locals; a null compile context means the defaults.
        let code = unsafe {
            pcre2_compile_8(
                pattern.as_ptr(),
                pattern.len(),
                options,
                &mut err,
                &mut off,
                ptr::null_mut(),
            )
        };
        if code.is_null() {
            return None;
        }
        let mut re = JitRegex {
            code,
            data: ptr::null_mut(),
            ctx: ptr::null_mut(),
            stack: ptr::null_mut(),
            ovector: ptr::null(),
            pairs: 0,
        };
        // SAFETY: `code` is a valid compiled pattern owned by `re` (freed by Drop,
        // also on the early returns below, which leave the other pointers null or
        // valid).
        unsafe {
            if pcre2_jit_compile_8(re.code, PCRE2_JIT_COMPLETE) != 0 {
                return None;
            }
            re.data = pcre2_match_data_create_from_pattern_8(re.code, ptr::null_mut());
            re.ctx = pcre2_match_context_create_8(ptr::null_mut());
            re.stack = pcre2_jit_stack_create_8(32 << 10, MAX_JIT_STACK, ptr::null_mut());
            if re.data.is_null() || re.ctx.is_null() || re.stack.is_null() {
                return None;
            }
            pcre2_jit_stack_assign_8(re.ctx, None, re.stack.cast());
            re.ovector = pcre2_get_ovector_pointer_8(re.data);
            re.pairs = pcre2_get_ovector_count_8(re.data) as usize;
        }
        Some(re)
    }

    /// Search `subject` from its start. `Ok(Some(span))` on a match; an error (the
    /// match limit, a JIT stack too small) carries PCRE2's message.
    pub fn search(&mut self, subject: &[u8]) -> Result<Option<(usize, usize)>, String> {
        static EMPTY: [u8; 1] = [0];
        let ptr = if subject.is_empty() {
            EMPTY.as_ptr()
        } else {
            subject.as_ptr()
        };
        // SAFETY: see the module documentation: valid code JIT-compiled for complete
        // matches, a subject pointer valid for `subject.len()` bytes, start 0,
        // options 0, match data made for this pattern, a context holding our stack.
        let rc =
            unsafe { pcre2_jit_match_8(self.code, ptr, subject.len(), 0, 0, self.data, self.ctx) };
        if rc == PCRE2_ERROR_NOMATCH {
            return Ok(None);
        }
        if rc <= 0 {
            // 0 (ovector too small) cannot happen: the match data fits the pattern.
            return Err(format!("PCRE2: error matching: {}", message(rc)));
        }
        Ok(self.get(0))
    }

    /// Number of groups, the whole match (group 0) included.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pairs
    }

    /// The offsets of the last match, two per group (group 0 first); an unset group
    /// has [`UNSET`] in both.
    #[inline]
    pub fn ovector(&self) -> &[usize] {
        // SAFETY: the ovector has `2 * pairs` entries and lives as long as `data`,
        // which lives as long as `self`; only `&mut self` methods write it.
        unsafe { std::slice::from_raw_parts(self.ovector, 2 * self.pairs) }
    }

    /// Span of group `i` in the last match; None when it did not take part.
    pub fn get(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.pairs {
            return None;
        }
        // SAFETY: the ovector has `2 * pairs` entries and lives as long as `data`.
        let (s, e) = unsafe { (*self.ovector.add(2 * i), *self.ovector.add(2 * i + 1)) };
        if s == PCRE2_UNSET || e == PCRE2_UNSET {
            None
        } else {
            Some((s, e))
        }
    }
}

impl Drop for JitRegex {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or owned by this value; each is freed once.
        unsafe {
            if !self.stack.is_null() {
                pcre2_jit_stack_free_8(self.stack);
            }
            if !self.ctx.is_null() {
                pcre2_match_context_free_8(self.ctx);
            }
            if !self.data.is_null() {
                pcre2_match_data_free_8(self.data);
            }
            pcre2_code_free_8(self.code);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same spans and groups as the `pcre2` crate (through `pcre2_match`) on the
    /// same byte-mode pattern.
    #[test]
    fn agrees_with_pcre2_match() {
        let patterns = [
            r"^(?P<a>\w+)\s+(?P<b>\S+)$",
            r"(?P<a>\d+)\b(?P<b>\D)?",
            r"^Failed (?:(?P<n>publickey)|\S+) for (?P<c>invalid user )?(?P<u>(?P<cu>\S+)|(?(c)(?:(?! from ).)*?|[^:]+)) from (?P<h>\S+)(?(cu): |(?:(?:(?! from ).)*)$)",
            r"(?i)x(y)?z|(q)",
            r"",
        ];
        let subjects = [
            "",
            "abc def\n",
            "12 x",
            "Failed password for invalid user a b from 1.2.3.4 port 2\n",
            "Failed publickey for root from 1.2.3.4: x\n",
            "XZ q",
            "q",
        ];
        for multi in [false, true] {
            for p in patterns {
                let mut ours = JitRegex::new(p, multi).unwrap();
                let theirs = pcre2::bytes::RegexBuilder::new()
                    .multi_line(multi)
                    .jit(true)
                    .build(p)
                    .unwrap();
                let mut locs = theirs.capture_locations();
                assert_eq!(ours.len(), locs.len(), "{p}");
                for s in subjects {
                    let a = ours.search(s.as_bytes()).unwrap();
                    let b = theirs
                        .captures_read(&mut locs, s.as_bytes())
                        .unwrap()
                        .map(|m| (m.start(), m.end()));
                    assert_eq!(a, b, "{p} on {s:?}");
                    if a.is_some() {
                        for i in 0..locs.len() {
                            assert_eq!(ours.get(i), locs.get(i), "{p} on {s:?}, group {i}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn errors_and_bad_patterns() {
        assert!(JitRegex::new("(", false).is_none());
        let mut re = JitRegex::new(r"(*LIMIT_MATCH=1000)^(\w+\w+)+$", false).unwrap();
        let hostile = format!("{}!\n", "x".repeat(2000));
        let e = re.search(hostile.as_bytes()).unwrap_err();
        assert!(e.starts_with("PCRE2: error matching: "), "{e}");
        assert!(e.contains("limit"), "{e}");
        // Still usable afterwards.
        assert_eq!(re.search(b"xxy\n").unwrap(), Some((0, 3)));
        // Out-of-range groups are None.
        assert_eq!(re.get(99), None);
    }
}
