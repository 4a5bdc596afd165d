//! From a `datepattern` line to a date template: `%`-code expansion, word and line
//! boundaries, the date group, and the special forms (`EPOCH`, `TAI64N`, ...).
//!
//! Everything here is text processing on the pattern, done once when a detector is
//! built. The rules mirror fail2ban's so that the resulting regex, and therefore
//! the matched date text, is the same.

use crate::codes;
use crate::DateError;

/// Template anchored at line start (`^`), so a hit ends the search.
pub(crate) const LINE_BEGIN: u8 = 8;
/// Template anchored at line end (`$`).
pub(crate) const LINE_END: u8 = 4;
pub(crate) const WORD_BEGIN: u8 = 2;
pub(crate) const WORD_END: u8 = 1;

/// How the matched text turns into a time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// strptime-like fields from named groups.
    Fields,
    /// Seconds (or milli/microseconds when `long`) since the epoch in group `group`.
    Epoch { long: bool, group: usize },
    /// `@` + 24 hex digits.
    Tai64n,
}

/// Where the automatic word boundary at the front goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Begin {
    None,
    Word,
    /// `{^LN-BEG}`: at line start, after at most two non-word characters.
    Line,
}

/// A template before compilation: its Python-syntax regex and metadata.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub name: String,
    /// The `datepattern` text it came from (pattern templates only).
    pub pattern: Option<String>,
    /// The regex, in Python `re` syntax, as fail2ban would build it.
    pub regex: String,
    pub flags: u8,
    pub weight: f64,
    pub kind: Kind,
}

// ---------------------------------------------------------------------------
// Small predicates on regex text, each one a rule fail2ban applies to patterns.

fn prev_is_backslash(s: &[u8], i: usize) -> bool {
    i > 0 && s[i - 1] == b'\\'
}

/// The regex already has a capturing group: an unescaped `(` not followed by
/// `?` (a conditional's inner `(` right after `(?` does not count).
fn has_capture_group(re: &str) -> bool {
    let s = re.as_bytes();
    (0..s.len()).any(|i| {
        s[i] == b'('
            && s.get(i + 1) != Some(&b'?')
            && !prev_is_backslash(s, i)
            && !(i >= 2 && &s[i - 2..i] == b"(?")
    })
}

/// Length of a flag group `(?` + word chars + `)` at the start of `s`, if any.
fn flag_group_len(s: &str) -> Option<usize> {
    let rest = s.strip_prefix("(?")?;
    let n = rest
        .char_indices()
        .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
        .map(|(i, c)| i + c.len_utf8())
        .last()?;
    rest[n..].starts_with(')').then_some(n + 3)
}

/// Wrap the whole pattern (between optional leading flags/`^` and a trailing `$`)
/// into group 1.
fn wrap_in_group(re: &str) -> String {
    if re.contains('\n') {
        return re.to_string();
    }
    let mut head = 0;
    if let Some(n) = flag_group_len(re) {
        head += n;
    }
    if re[head..].starts_with('^') {
        head += 1;
    }
    if let Some(n) = flag_group_len(&re[head..]) {
        head += n;
    }
    let (body, tail) = match re[head..].strip_suffix('$') {
        Some(b) => (b, "$"),
        None => (&re[head..], ""),
    };
    format!("{}({}){}", &re[..head], body, tail)
}

/// The first global flag group `(?` + lowercase letters + `)`, anywhere: its span.
fn find_global_flags(re: &str) -> Option<(usize, usize)> {
    let s = re.as_bytes();
    let mut i = 0;
    while i + 3 < s.len() + 1 {
        if s[i] == b'(' && s.get(i + 1) == Some(&b'?') {
            let mut j = i + 2;
            while j < s.len() && s[j].is_ascii_lowercase() {
                j += 1;
            }
            if j > i + 2 && s.get(j) == Some(&b')') {
                return Some((i, j + 1));
            }
        }
        i += 1;
    }
    None
}

/// Skip an optional flag group at the front.
fn skip_flags(s: &str) -> &str {
    match flag_group_len(s) {
        Some(n) => &s[n..],
        None => s,
    }
}

/// The pattern starts with something that makes a front word boundary pointless:
/// `^`, `(^`, `(?:^` or the `**` "no boundary" marker (after any `(`s and flags).
fn no_word_bound_begin(re: &str) -> bool {
    let opens = re.bytes().take_while(|&b| b == b'(').count();
    (0..=opens).any(|k| {
        let rest = skip_flags(&re[k..]);
        if rest.starts_with('^') {
            return true;
        }
        let after_parens = rest.trim_start_matches('(');
        if after_parens.starts_with("**") {
            return true;
        }
        if let Some(r) = rest.strip_prefix('(') {
            let r = r.strip_prefix("?:").unwrap_or(r);
            return r.starts_with('^');
        }
        false
    })
}

/// The pattern ends with `$`, `$)`, `\b`, `\s` or `**` (+ any `)`), unescaped.
fn no_word_bound_end(re: &str) -> bool {
    let s = re.as_bytes();
    let unescaped_at = |i: usize| !prev_is_backslash(s, i);
    let n = s.len();
    if re.ends_with("$)") && unescaped_at(n - 2) {
        return true;
    }
    if re.ends_with('$') && unescaped_at(n - 1) {
        return true;
    }
    if (re.ends_with("\\b") || re.ends_with("\\s")) && unescaped_at(n - 2) {
        return true;
    }
    let trimmed = re.trim_end_matches(')');
    trimmed.ends_with("**") && unescaped_at(trimmed.len() - 2)
}

/// Drop the `**` markers at the front (after `(`s/flags) and at the end (before `)`s).
fn remove_star_markers(re: &str) -> String {
    let mut out = re.to_string();
    // front: `(`s, an optional flag group, `(`s, then `**`
    let opens = out.bytes().take_while(|&b| b == b'(').count();
    let front = (0..=opens).rev().find_map(|k| {
        let after = &out[k..];
        let flags = flag_group_len(after).unwrap_or(0);
        let after2 = &after[flags..];
        let opens2 = after2.bytes().take_while(|&b| b == b'(').count();
        after2[opens2..]
            .starts_with("**")
            .then_some(k + flags + opens2)
    });
    if let Some(at) = front {
        out.replace_range(at..at + 2, "");
    }
    // end
    let trimmed_len = out.trim_end_matches(')').len();
    if trimmed_len >= 2
        && out[..trimmed_len].ends_with("**")
        && !prev_is_backslash(out.as_bytes(), trimmed_len - 2)
    {
        out.replace_range(trimmed_len - 2..trimmed_len, "");
    }
    out
}

/// Starts with `^`, `(^` or `(?:^` (not `(^|`), after an optional flag group.
fn line_bound_begin(re: &str) -> bool {
    let rest = skip_flags(re);
    if rest.starts_with('^') {
        return true;
    }
    if let Some(r) = rest.strip_prefix('(') {
        let r = r.strip_prefix("?:").unwrap_or(r);
        return r.starts_with('^') && !r[1..].starts_with('|');
    }
    false
}

/// Ends with `$` or `$)` not preceded by `\` or `|`.
fn line_bound_end(re: &str) -> bool {
    let s = re.as_bytes();
    let dollar = if re.ends_with("$)") {
        s.len() - 2
    } else if re.ends_with('$') {
        s.len() - 1
    } else {
        return false;
    };
    !(dollar > 0 && (s[dollar - 1] == b'\\' || s[dollar - 1] == b'|'))
}

// ---------------------------------------------------------------------------

/// Finish a template's regex: move global flags to the front, add the date group
/// and the word/line boundaries, compute the anchoring flags.
/// Returns (regex, flags, whether the name gets the `{^LN-BEG}` prefix).
pub(crate) fn bound_regex(regex: &str, begin: Begin, word_end: bool) -> (String, u8, bool) {
    let mut regex = regex.trim().to_string();
    let gf = find_global_flags(&regex).map(|(a, b)| {
        let g = regex[a..b].to_string();
        regex.replace_range(a..b, "");
        g
    });
    let bound_begin = begin != Begin::None && !no_word_bound_begin(&regex);
    let bound_end = word_end && !no_word_bound_end(&regex);
    if !has_capture_group(&regex) {
        regex = wrap_in_group(&regex);
    }
    let mut flags = 0;
    let mut line_name = false;
    if bound_begin {
        if begin == Begin::Line {
            flags |= LINE_BEGIN;
            regex = format!(r"^(?:\W{{0,2}})?{regex}");
            line_name = true;
        } else {
            flags |= WORD_BEGIN;
            regex = format!(r"(?=^|\b|\W){regex}");
        }
    }
    if bound_end {
        flags |= WORD_END;
        regex.push_str(r"(?=\b|\W|$)");
    }
    if flags & LINE_BEGIN == 0 && line_bound_begin(&regex) {
        flags |= LINE_BEGIN;
    }
    if flags & LINE_END == 0 && line_bound_end(&regex) {
        flags |= LINE_END;
    }
    regex = remove_star_markers(&regex);
    if let Some(g) = gf {
        regex = g + &regex;
    }
    (regex, flags, line_name)
}

/// `%` followed by one of `aAbBpc`, not itself preceded by `%`: names need `(?iu)`.
fn uses_names(pattern: &str) -> bool {
    let s = pattern.as_bytes();
    (0..s.len().saturating_sub(1))
        .any(|i| s[i] == b'%' && b"aAbBpc".contains(&s[i + 1]) && !(i > 0 && s[i - 1] == b'%'))
}

/// Expand `%`-codes: (regex, name).
fn expand_codes(pattern: &str, year_re: &str) -> Result<(String, String), String> {
    let mut regex = String::with_capacity(pattern.len() * 4);
    let mut name = String::with_capacity(pattern.len() * 2);
    let mut rest = pattern;
    while let Some(p) = rest.find('%') {
        regex.push_str(&rest[..p]);
        name.push_str(&rest[..p]);
        let after = &rest[p + 1..];
        let code = codes::lookup(after).ok_or_else(|| {
            let shown: String = after.chars().take(1).collect();
            format!("unsupported format code '%{shown}' (write '%%' for a literal percent)")
        })?;
        regex.push_str(code.regex.unwrap_or(year_re));
        name.push_str(code.name);
        rest = &after[code.key.len()..];
    }
    regex.push_str(rest);
    name.push_str(rest);
    Ok((regex, name))
}

pub(crate) fn strip_prefix_unb(p: &str) -> Option<&str> {
    p.strip_prefix("{UNB}")
}

pub(crate) fn strip_prefix_ln_beg(p: &str) -> Option<&str> {
    p.strip_prefix("{^LN-BEG}")
}

/// A pattern template (strptime-like `%`-codes in a regex).
pub(crate) fn pattern_spec(pattern: &str, year_re: &str) -> Result<Spec, DateError> {
    let original = pattern.to_string();
    let mut begin = Begin::Word;
    let mut word_end = true;
    let mut p = pattern;
    if let Some(r) = strip_prefix_unb(p) {
        p = r;
        begin = Begin::None;
        word_end = false;
    }
    if begin != Begin::None {
        if let Some(r) = strip_prefix_ln_beg(p) {
            p = r;
            begin = Begin::Line;
        }
    }
    let (mut regex, mut name) = expand_codes(p, year_re)
        .map_err(|e| DateError::new(format!("bad datepattern {original:?}: {e}")))?;
    if uses_names(p) {
        regex = format!("(?iu){regex}");
    }
    let (regex, flags, line_name) = bound_regex(&regex, begin, word_end);
    if line_name && !name.starts_with("{^LN-BEG}") {
        name = format!("{{^LN-BEG}}{name}");
    }
    Ok(Spec {
        name,
        pattern: Some(original),
        regex,
        flags,
        weight: 1.0,
        kind: Kind::Fields,
    })
}

const EPOCH_RE: &str = r"\d{10,11}\b(?:\.\d{3,6})?";
const LEPOCH_RE: &str = r"\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?";

/// Positions of `{EPOCH}` / `{LEPOCH}` (any case, not after a backslash).
fn epoch_tokens(pattern: &str) -> Vec<(usize, usize)> {
    let upper = pattern.to_ascii_uppercase();
    let b = upper.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' && !prev_is_backslash(b, i) {
            for tok in ["{EPOCH}", "{LEPOCH}"] {
                if upper[i..].starts_with(tok) {
                    out.push((i, i + tok.len()));
                    i += tok.len() - 1;
                    break;
                }
            }
        }
        i += 1;
    }
    out
}

fn epoch_spec(long: bool, pattern: Option<&str>, line_begin_only: bool) -> Spec {
    let num = if long { LEPOCH_RE } else { EPOCH_RE };
    let mut name = match (pattern, long) {
        (Some(p), _) => p.to_string(),
        (None, false) => "Epoch".to_string(),
        (None, true) => "LongEpoch".to_string(),
    };
    let (regex, flags, line_name, group) = if let Some(p) = pattern {
        let mut body = String::new();
        let mut last = 0;
        for (a, b) in epoch_tokens(p) {
            body.push_str(&p[last..a]);
            body.push('(');
            body.push_str(num);
            body.push(')');
            last = b;
        }
        body.push_str(&p[last..]);
        let (r, f, l) = bound_regex(&format!("({body})"), Begin::Word, true);
        (r, f, l, 2)
    } else if !line_begin_only {
        let re = r"((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))%s)(?:(?(selinux)(?=:\d+\)))|(?(square)(?=\])))"
            .replace("%s", num);
        let (r, f, l) = bound_regex(&re, Begin::None, true);
        (r, f, l, 1)
    } else {
        let re = r"((?P<square>(?<=^\[))?%s)(?(square)(?=\]))".replace("%s", num);
        let (r, f, l) = bound_regex(&re, Begin::Line, true);
        (r, f, l, 1)
    };
    if line_name && !name.starts_with("{^LN-BEG}") {
        name = format!("{{^LN-BEG}}{name}");
    }
    Spec {
        name,
        pattern: None,
        regex,
        flags,
        weight: 1.0,
        kind: Kind::Epoch { long, group },
    }
}

fn tai64n_spec(line_begin: bool) -> Spec {
    let begin = if line_begin { Begin::Line } else { Begin::None };
    let (regex, flags, line_name) = bound_regex("@[0-9a-f]{24}", begin, true);
    Spec {
        name: if line_name {
            "{^LN-BEG}TAI64N".into()
        } else {
            "TAI64N".into()
        },
        pattern: None,
        regex,
        flags,
        weight: 1.0,
        kind: Kind::Tai64n,
    }
}

/// The lookup key fail2ban uses for a pattern: as is when it has `%`-codes,
/// upper-cased otherwise (so `epoch` and `Epoch` are `EPOCH`).
pub(crate) fn pattern_key(pattern: &str) -> String {
    if pattern.contains('%') {
        pattern.to_string()
    } else {
        pattern.to_uppercase()
    }
}

/// Any single pattern line (not the `{DEFAULT}`/`{^LN-BEG}`/`{DATE}`/`{NONE}` forms).
pub(crate) fn template_spec(pattern: &str, year_re: &str) -> Result<Spec, DateError> {
    let key = pattern_key(pattern);
    if key.contains("EPOCH") {
        if !epoch_tokens(pattern).is_empty() {
            return Ok(epoch_spec(key.contains("LEPOCH"), Some(pattern), false));
        }
        match key.as_str() {
            "EPOCH" | "{^LN-BEG}EPOCH" | "^EPOCH" => {
                return Ok(epoch_spec(false, None, key != "EPOCH"))
            }
            "LEPOCH" | "{^LN-BEG}LEPOCH" | "^LEPOCH" => {
                return Ok(epoch_spec(true, None, key != "LEPOCH"))
            }
            _ => {}
        }
    }
    match key.as_str() {
        "TAI64N" | "{^LN-BEG}TAI64N" | "^TAI64N" => Ok(tai64n_spec(key != "TAI64N")),
        _ => pattern_spec(pattern, year_re),
    }
}

/// fail2ban's 17 default date patterns, in order.
pub(crate) const DEFAULT_PATTERNS: [&str; 17] = [
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    r"EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"TAI64N",
];

/// Derive a template from another by rewriting its pattern (or, for Epoch/TAI64N
/// templates, its name) with `wrap`, as fail2ban does for the `{^LN-BEG}` twins
/// and for `{DATE}`.
pub(crate) fn derived_spec(
    base: &Spec,
    wrap: &dyn Fn(&str) -> String,
    year_re: &str,
) -> Result<Spec, DateError> {
    match &base.pattern {
        Some(p) => template_spec(&wrap(p), year_re),
        None => template_spec(&wrap(&base.name), year_re),
    }
}

/// Remove the boundary markers from a pattern before it is put inside `{DATE}`.
pub(crate) fn unbound_pattern(p: &str) -> String {
    let mut s = strip_prefix_unb(p).unwrap_or(p);
    s = strip_prefix_ln_beg(s).unwrap_or(s);
    let mut s = s.to_string();
    for start in [r"(^|\b|\W)", r"(?:^|\b|\W)"] {
        if let Some(r) = s.strip_prefix(start) {
            s = r.to_string();
            break;
        }
    }
    if let Some(r) = s.strip_suffix(r"(?=\b|\W|$)") {
        s = r.to_string();
    }
    s
}

/// Replace each `{DATE}` (any case, not after a backslash) in `pre` by `with`.
pub(crate) fn replace_date_token(pre: &str, with: &str) -> String {
    let upper = pre.to_ascii_uppercase();
    let b = pre.as_bytes();
    let mut out = String::with_capacity(pre.len() + with.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' && upper[i..].starts_with("{DATE}") && !prev_is_backslash(b, i) {
            out.push_str(&pre[last..i]);
            out.push_str(with);
            i += 6;
            last = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&pre[last..]);
    out
}

/// Python `re` syntax to PCRE2 syntax for the few places they differ.
pub(crate) fn to_pcre2(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut rest = re;
    // leading global flags: drop `u` (PCRE2 gets UTF+UCP at build time), `L`, `a`
    if let Some((a, b)) = find_global_flags(re).filter(|(a, _)| *a == 0) {
        let flags: String = re[a + 2..b - 1]
            .chars()
            .filter(|c| !matches!(c, 'u' | 'a' | 'L'))
            .collect();
        if !flags.is_empty() {
            out.push_str("(?");
            out.push_str(&flags);
            out.push(')');
        }
        rest = &re[b..];
    }
    let s = rest.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    let mut start = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => {
                if !in_class && s.get(i + 1) == Some(&b'Z') {
                    out.push_str(&rest[start..i]);
                    out.push_str("\\z");
                    start = i + 2;
                }
                i += 2;
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                // a `]` right after `[` or `[^` is literal
                if s.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if s.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if in_class => in_class = false,
            b'{' if !in_class && s.get(i + 1) == Some(&b',') => {
                let digits = s[i + 2..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 && s.get(i + 2 + digits) == Some(&b'}') {
                    out.push_str(&rest[start..i]);
                    out.push_str("{0");
                    start = i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&rest[start.min(rest.len())..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const Y: &str = r"(?P<Y>20[012]\d)";

    #[test]
    fn group_detection() {
        assert!(has_capture_group("a(b)"));
        assert!(!has_capture_group("a(?:b)"));
        assert!(!has_capture_group(r"a\(b"));
        assert!(!has_capture_group("(?(x)a|b)"));
        assert!(!has_capture_group("(?P<x>a)"));
    }

    #[test]
    fn wrap_group_keeps_anchors_outside() {
        assert_eq!(wrap_in_group("^abc$"), "^(abc)$");
        assert_eq!(wrap_in_group("(?iu)^abc"), "(?iu)^(abc)");
        assert_eq!(wrap_in_group("^"), "^()");
        assert_eq!(wrap_in_group("abc"), "(abc)");
    }

    #[test]
    fn boundaries() {
        assert!(no_word_bound_begin("^x"));
        assert!(no_word_bound_begin("(^x)"));
        assert!(no_word_bound_begin("(?:^x)"));
        assert!(no_word_bound_begin("**x"));
        assert!(no_word_bound_begin("((**x"));
        assert!(!no_word_bound_begin("x^"));
        assert!(no_word_bound_end("x$"));
        assert!(no_word_bound_end("x$)"));
        assert!(no_word_bound_end(r"x\b"));
        assert!(no_word_bound_end(r"x\s"));
        assert!(no_word_bound_end("x**)"));
        assert!(!no_word_bound_end(r"x\$"));
        assert_eq!(remove_star_markers("**x**"), "x");
        assert_eq!(remove_star_markers("(**x**)"), "(x)");
        assert_eq!(remove_star_markers(r"x\**"), r"x\**");
    }

    #[test]
    fn line_bounds() {
        assert!(line_bound_begin("^x"));
        assert!(line_bound_begin("(?i)^x"));
        assert!(line_bound_begin("(^x)"));
        assert!(!line_bound_begin("(^|x)"));
        assert!(line_bound_end("x$"));
        assert!(!line_bound_end(r"x\$"));
        assert!(!line_bound_end("(x|$)"));
    }

    #[test]
    fn syslog_template_regex() {
        let s = pattern_spec(DEFAULT_PATTERNS[1], Y).unwrap();
        assert_eq!(
            s.name,
            "(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?"
        );
        assert!(s.regex.starts_with("(?iu)(?=^|\\b|\\W)("), "{}", s.regex);
        assert!(s.regex.ends_with(")(?=\\b|\\W|$)"), "{}", s.regex);
        assert_eq!(s.flags, WORD_BEGIN | WORD_END);
        let t = pattern_spec(&format!("{{^LN-BEG}}{}", DEFAULT_PATTERNS[1]), Y).unwrap();
        assert!(t.name.starts_with("{^LN-BEG}"));
        assert!(t.regex.starts_with("(?iu)^(?:\\W{0,2})?("), "{}", t.regex);
        assert_eq!(t.flags, LINE_BEGIN | WORD_END);
    }

    #[test]
    fn unknown_code_is_an_error() {
        assert!(pattern_spec("%Q", Y).is_err());
        assert!(pattern_spec("100%", Y).is_err());
        assert!(pattern_spec("100%%", Y).is_ok());
    }

    #[test]
    fn epoch_forms() {
        let e = template_spec("EPOCH", Y).unwrap();
        assert_eq!(e.name, "Epoch");
        assert_eq!(e.flags & LINE_BEGIN, 0);
        let l = template_spec("{^LN-BEG}Epoch", Y).unwrap();
        assert_eq!(l.name, "{^LN-BEG}Epoch");
        assert_ne!(l.flags & LINE_BEGIN, 0);
        let p = template_spec(r"^\[{LEPOCH}\]", Y).unwrap();
        assert_eq!(
            p.kind,
            Kind::Epoch {
                long: true,
                group: 2
            }
        );
        let t = template_spec("^TAI64N", Y).unwrap();
        assert_eq!(t.name, "{^LN-BEG}TAI64N");
    }

    #[test]
    fn pcre2_translation() {
        assert_eq!(to_pcre2("(?iu)abc"), "(?i)abc");
        assert_eq!(to_pcre2("(?u)abc"), "abc");
        assert_eq!(to_pcre2(r"a\Z"), r"a\z");
        assert_eq!(to_pcre2(r"a{,3}"), r"a{0,3}");
        assert_eq!(to_pcre2(r"[{,3}]"), r"[{,3}]");
    }

    #[test]
    fn date_token() {
        assert_eq!(
            replace_date_token(r"^[^\[]*\[({DATE})", "X"),
            r"^[^\[]*\[(X)"
        );
        assert_eq!(replace_date_token(r"a\{DATE}", "X"), r"a\{DATE}");
        assert_eq!(unbound_pattern("{^LN-BEG}%H"), "%H");
    }
}
