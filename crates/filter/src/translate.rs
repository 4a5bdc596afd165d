//! Python `re` syntax to PCRE2 syntax.
//!
//! fail2ban's regexes are written for Python's `re` module. PCRE2 (UTF + UCP) reads
//! nearly all of them the same way; this module rewrites the few constructs that it
//! reads differently or rejects:
//!
//! | Python | PCRE2 | why |
//! |---|---|---|
//! | `(?iu)`, `(?u:...)` | `(?i)`, `(?:...)` | `u` is Python's (default) Unicode flag; PCRE2 has none (UCP is set at build time) |
//! | `x{,n}` | `x{0,n}` | PCRE2 before 10.43 reads `{,n}` as literal text |
//! | `{` that is no quantifier | `\{` | literal in both, made explicit |
//! | `\Z` | `\z` | Python's `\Z` is the absolute end; PCRE2's `\Z` also accepts a final newline |
//! | `\uXXXX`, `\UXXXXXXXX` | `\x{XXXX}` | PCRE2 has no `\u` escape |
//! | `[` inside a class | `\[` | Python reads it as a literal; PCRE2 may read `[:name:]` |
//! | `((?i)x)`, `(?:(?i)x)` | `(?i:x)` | fail2ban's own inline-flag rewrite, done before compiling |

/// fail2ban's inline-flag rewrite: an unescaped `(`, optionally `?:`, directly followed
/// by a flag group `(?flags)` becomes the scoped group `(?flags:`.
pub fn scope_inline_flags(re: &str) -> String {
    let b = re.as_bytes();
    let mut out = String::with_capacity(re.len());
    let mut i = 0;
    let mut copied = 0;
    while i < b.len() {
        if b[i] == b'(' && (i == 0 || b[i - 1] != b'\\') {
            let mut j = i + 1;
            if b[j..].starts_with(b"?:") {
                j += 2;
            }
            if b[j..].starts_with(b"(?") {
                let fstart = j + 2;
                let mut k = fstart;
                while k < b.len() && b[k].is_ascii_lowercase() {
                    k += 1;
                }
                if k > fstart && k < b.len() && b[k] == b')' {
                    out.push_str(&re[copied..i]);
                    out.push_str(&re[j..k]);
                    out.push(':');
                    i = k + 1;
                    copied = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&re[copied..]);
    out
}

/// Rewrite a Python regex (after tag expansion) into PCRE2 syntax with the same meaning.
pub fn python_to_pcre2(re: &str) -> String {
    let re = scope_inline_flags(re);
    let chars: Vec<char> = re.chars().collect();
    let mut out = String::with_capacity(re.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    // Position right after `[` or `[^`: a `]` there is a literal.
    let mut class_start = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                out.push('\\');
                break;
            };
            class_start = false;
            match n {
                'Z' if !in_class => out.push_str("\\z"),
                'u' | 'U' => {
                    let len = if n == 'u' { 4 } else { 8 };
                    let hex: String = chars[i + 2..].iter().take(len).collect();
                    if hex.chars().count() == len && hex.chars().all(|h| h.is_ascii_hexdigit()) {
                        out.push_str("\\x{");
                        out.push_str(&hex);
                        out.push('}');
                        i += 2 + len;
                        continue;
                    }
                    out.push('\\');
                    out.push(n);
                }
                _ => {
                    out.push('\\');
                    out.push(n);
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' && !class_start {
                in_class = false;
                out.push(']');
            } else if c == '[' {
                out.push_str("\\[");
            } else {
                out.push(c);
            }
            class_start = false;
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                class_start = true;
                out.push('[');
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                i += 1;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                // Flag group `(?flags)` or `(?flags:`; drop Python's `u`.
                let mut k = i + 2;
                while k < chars.len() && chars[k].is_ascii_alphabetic() {
                    k += 1;
                }
                let flags: String = chars[i + 2..k].iter().collect();
                let term = chars.get(k).copied();
                if !flags.is_empty()
                    && flags.chars().all(|f| "aiLmsux".contains(f))
                    && (term == Some(')') || term == Some(':') || term == Some('-'))
                {
                    let kept: String = flags.chars().filter(|&f| f != 'u').collect();
                    if kept.is_empty() && term == Some(')') {
                        // `(?u)` alone: nothing left to say.
                        i = k + 1;
                        continue;
                    }
                    out.push_str("(?");
                    out.push_str(&kept);
                    i = k;
                    continue;
                }
                out.push_str("(?");
                i += 2;
            }
            '{' => {
                // Python quantifier: {m}, {m,}, {,n}, {m,n}, {,}; anything else is literal.
                let mut k = i + 1;
                let mut lo = String::new();
                while k < chars.len() && chars[k].is_ascii_digit() {
                    lo.push(chars[k]);
                    k += 1;
                }
                let mut comma = false;
                let mut hi = String::new();
                if chars.get(k) == Some(&',') {
                    comma = true;
                    k += 1;
                    while k < chars.len() && chars[k].is_ascii_digit() {
                        hi.push(chars[k]);
                        k += 1;
                    }
                }
                if chars.get(k) == Some(&'}') && (!lo.is_empty() || comma) {
                    out.push('{');
                    out.push_str(if lo.is_empty() { "0" } else { &lo });
                    if comma {
                        out.push(',');
                        out.push_str(&hi);
                    }
                    out.push('}');
                    i = k + 1;
                } else {
                    out.push_str("\\{");
                    i += 1;
                }
            }
            '}' => {
                out.push_str("\\}");
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_flag_is_dropped() {
        assert_eq!(python_to_pcre2("(?iu)abc"), "(?i)abc");
        assert_eq!(python_to_pcre2("(?u)abc"), "abc");
        assert_eq!(python_to_pcre2("(?u:abc)"), "(?:abc)");
        assert_eq!(python_to_pcre2("(?:x)(?P<n>y)(?=z)"), "(?:x)(?P<n>y)(?=z)");
    }

    #[test]
    fn open_lower_bound_gets_zero() {
        assert_eq!(python_to_pcre2(r"\(\d{,3}\)"), r"\(\d{0,3}\)");
        assert_eq!(python_to_pcre2(r"a{2,}b{3}c{1,4}"), r"a{2,}b{3}c{1,4}");
        assert_eq!(python_to_pcre2(r"a{,}"), r"a{0,}");
    }

    #[test]
    fn literal_braces_are_escaped() {
        assert_eq!(python_to_pcre2(r"{[^}]+}"), r"\{[^}]+\}");
        assert_eq!(python_to_pcre2(r"a{x}"), r"a\{x\}");
        assert_eq!(python_to_pcre2(r"a{}"), r"a\{\}");
    }

    #[test]
    fn end_of_string() {
        assert_eq!(python_to_pcre2(r"error\Z"), r"error\z");
        assert_eq!(python_to_pcre2(r"\\Z"), r"\\Z");
    }

    #[test]
    fn unicode_escapes() {
        assert_eq!(
            python_to_pcre2(r"\u00e9\U0001F600"),
            r"\x{00e9}\x{0001F600}"
        );
    }

    #[test]
    fn bracket_inside_class() {
        assert_eq!(python_to_pcre2(r"[^[]+"), r"[^\[]+");
        assert_eq!(python_to_pcre2(r"[]a]"), r"[]a]");
        assert_eq!(python_to_pcre2(r"[^]a]x"), r"[^]a]x");
        assert_eq!(python_to_pcre2(r"[\]]{2}"), r"[\]]{2}");
    }

    #[test]
    fn inline_flags_are_scoped() {
        assert_eq!(scope_inline_flags("a((?i)bc)d"), "a(?i:bc)d");
        assert_eq!(scope_inline_flags("a(?:(?i)bc)d"), "a(?i:bc)d");
        assert_eq!(scope_inline_flags(r"a\((?i)b"), r"a\((?i)b");
        assert_eq!(python_to_pcre2("x(?:(?iu)y)"), "x(?i:y)");
    }

    #[test]
    fn translated_regexes_behave_like_python() {
        let cases: &[(&str, &str, bool)] = &[
            (r"\(\d{,3}\)", "(12)", true),
            (r"error\Z", "error\n", false),
            (r"error$", "error\n", true),
            (r"x{[^}]+}", "x{abc}", true),
            (r"a((?i)BC)d", "abcd", true),
            (r"a((?i)BC)D", "abcd", false),
            (r"[^[]+\[", "ab[", true),
            (r"\w+ü", "jürgü", true),
        ];
        for (py, subject, want) in cases {
            let re = pcre2::bytes::RegexBuilder::new()
                .utf(true)
                .ucp(true)
                .build(&python_to_pcre2(py))
                .unwrap();
            assert_eq!(
                re.is_match(subject.as_bytes()).unwrap(),
                *want,
                "{py} on {subject:?}"
            );
        }
    }
}
