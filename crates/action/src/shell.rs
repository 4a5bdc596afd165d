//! Dynamic (per-ticket) tags, made shell-safe (pure).
//!
//! After static substitution a hook is a shell script that still holds tags such as
//! `<ip>`, `<matches>` or `<F-USER>`. [`render`] walks the script with a small
//! shell lexer that knows the quoting context of every position (plain code,
//! `'...'`, `"..."`, `$(...)`, backticks, comments, here-documents) and:
//!
//! - pastes values that bailiff itself produced and that can only hold
//!   `[0-9A-Za-z.:/-]` (the address, counters, times, the family) as text;
//! - never pastes a value that can come from a log (matches, captured `F-*`
//!   groups, the failure id, DNS names, anything else). Such a value is put in an
//!   environment variable `f2bV_<tag>` and the tag becomes a reference to it,
//!   quoted for its context: `"${f2bV_x}"` in code, `${f2bV_x}` inside double
//!   quotes or an expanding here-document, `'"${f2bV_x}"'` inside single quotes.
//!   The shell expands a variable once and never parses its value as syntax, so
//!   `$(...)`, backticks, quotes, `;`, `|`, `&` and newlines stay plain text.
//!   In a quoted here-document nothing expands and the text is literal, so the
//!   value is pasted (a line equal to the terminator gets a trailing space).
//!
//! This is stricter than fail2ban, which only moves values with special
//! characters into variables and leaves them unquoted.

use crate::tags::tag_end;
use crate::ticket::{Family, Ticket};

/// Longest value passed in one environment variable (bytes).
pub const MAX_VALUE: usize = 100 * 1024;

/// A script ready for `sh -c`, plus the environment its variables come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShellScript {
    pub script: String,
    pub env: Vec<(String, String)>,
}

/// A dynamic value: safe to paste, or to be passed through the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Trusted(String),
    Untrusted(String),
}

/// The per-run inputs of dynamic substitution.
#[derive(Debug, Clone, Copy)]
pub struct Dynamic<'a> {
    pub ticket: Option<&'a Ticket>,
    pub family: Option<Family>,
    /// UNIX time used for `<time>` when there is no ticket.
    pub now: i64,
}

impl Dynamic<'_> {
    /// The value of a dynamic tag, or None when the tag is not dynamic (it is left as is).
    pub fn value(&self, tag: &str) -> Option<Value> {
        if let Some(field) = tag.strip_prefix("F-") {
            if !field.is_empty()
                && field
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
            {
                let v = self.ticket.and_then(|t| t.field(field)).unwrap_or("");
                return Some(Value::Untrusted(v.to_string()));
            }
            return None;
        }
        if tag == "family" {
            return self.family.map(|f| trusted(f.as_str().to_string()));
        }
        let Some(t) = self.ticket else {
            return match tag {
                "time" => Some(trusted(self.now.to_string())),
                _ => None,
            };
        };
        let opt_num = |n: Option<u64>| trusted(n.map(|n| n.to_string()).unwrap_or_default());
        let v = match tag {
            "ip" => trusted(t.ip.map(|i| i.to_string()).unwrap_or_default()),
            "ip-rev" => trusted(t.ip.map(|i| i.reversed()).unwrap_or_default()),
            "ip-host" => Value::Untrusted(t.ip_host.clone().unwrap_or_default()),
            "fid" => match &t.fid {
                Some(f) => Value::Untrusted(f.clone()),
                None => trusted(t.ip.map(|i| i.to_string()).unwrap_or_default()),
            },
            "failures" => trusted(t.failures.to_string()),
            "time" => trusted(t.time.to_string()),
            "bantime" => trusted(t.bantime.to_string()),
            "bancount" => trusted(t.bancount.to_string()),
            "restored" => trusted(if t.restored { "1" } else { "0" }.to_string()),
            "matches" => Value::Untrusted(t.matches.join("\n")),
            "ipmatches" => Value::Untrusted(t.ip_matches.join("\n")),
            "ipjailmatches" => Value::Untrusted(t.ip_jail_matches.join("\n")),
            "ipfailures" => opt_num(t.ip_failures),
            "ipjailfailures" => opt_num(t.ip_jail_failures),
            other => match t.extra.iter().find(|(k, _)| k == other) {
                Some((_, v)) => Value::Untrusted(v.clone()),
                None => return None,
            },
        };
        Some(v)
    }
}

/// A value we produced; demoted to untrusted if it holds anything unexpected.
fn trusted(s: String) -> Value {
    if s.bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b':' | b'/' | b'-'))
    {
        Value::Trusted(s)
    } else {
        Value::Untrusted(s)
    }
}

/// Environment variable name for a tag: `f2bV_` + the tag with non-word characters as `_`.
pub fn var_name(tag: &str) -> String {
    let mut s = String::from("f2bV_");
    s.extend(tag.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    }));
    s
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closer {
    Top,
    Paren,
    Backtick,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct HereDoc {
    delim: String,
    strip_tabs: bool,
    expand: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ctx {
    Code(Closer),
    Single,
    Double,
    Here(HereDoc),
}

/// Substitute dynamic tags in `script` (already statically substituted).
pub fn render(script: &str, dynamic: &Dynamic<'_>) -> ShellScript {
    let mut r = Renderer {
        dynamic,
        out: String::with_capacity(script.len() + 32),
        env: Vec::new(),
    };
    r.run(script);
    ShellScript {
        script: r.out,
        env: r.env,
    }
}

struct Renderer<'a, 'b> {
    dynamic: &'a Dynamic<'b>,
    out: String,
    env: Vec<(String, String)>,
}

impl Renderer<'_, '_> {
    /// Register `value` under the tag's variable; returns the variable name.
    fn var(&mut self, tag: &str, value: &str) -> String {
        let name = var_name(tag);
        // NUL cannot travel in the environment; drop it. The kernel refuses single
        // environment strings over 128 KiB, so very long values are cut.
        let mut clean: String = value.chars().filter(|&c| c != '\0').collect();
        if clean.len() > MAX_VALUE {
            let mut end = MAX_VALUE;
            while !clean.is_char_boundary(end) {
                end -= 1;
            }
            clean.truncate(end);
        }
        if !self.env.iter().any(|(k, _)| *k == name) {
            self.env.push((name.clone(), clean));
        }
        name
    }

    /// Try to substitute a tag at byte `i`; returns the index after it when done.
    fn try_tag(&mut self, s: &str, i: usize, ctx: &Ctx) -> Option<usize> {
        let b = s.as_bytes();
        let end = tag_end(b, i)?;
        let tag = &s[i + 1..end];
        let value = self.dynamic.value(tag)?;
        match value {
            Value::Trusted(v) => self.out.push_str(&v),
            Value::Untrusted(v) => match ctx {
                Ctx::Code(_) => {
                    let n = self.var(tag, &v);
                    self.out.push_str(&format!("\"${{{n}}}\""));
                }
                Ctx::Double => {
                    let n = self.var(tag, &v);
                    self.out.push_str(&format!("${{{n}}}"));
                }
                Ctx::Single => {
                    let n = self.var(tag, &v);
                    self.out.push_str(&format!("'\"${{{n}}}\"'"));
                }
                Ctx::Here(h) if h.expand => {
                    let n = self.var(tag, &v);
                    self.out.push_str(&format!("${{{n}}}"));
                }
                Ctx::Here(h) => {
                    // literal body: paste, but never let a line end the document early
                    let clean: String = v.chars().filter(|&c| c != '\0').collect();
                    let mut first = true;
                    for line in clean.split('\n') {
                        if !first {
                            self.out.push('\n');
                        }
                        first = false;
                        self.out.push_str(line);
                        let cmp = if h.strip_tabs {
                            line.trim_start_matches('\t')
                        } else {
                            line
                        };
                        if cmp == h.delim {
                            self.out.push(' ');
                        }
                    }
                }
            },
        }
        Some(end + 1)
    }

    fn run(&mut self, s: &str) {
        let b = s.as_bytes();
        let mut stack: Vec<Ctx> = vec![Ctx::Code(Closer::Top)];
        let mut pending: Vec<HereDoc> = Vec::new();
        let mut i = 0;
        while i < b.len() {
            let ctx = stack.last().cloned().unwrap_or(Ctx::Code(Closer::Top));
            if let Ctx::Here(h) = &ctx {
                // line-based: one body line at a time
                let eol = s[i..].find('\n').map(|p| i + p).unwrap_or(b.len());
                let line = &s[i..eol];
                let cmp = if h.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if cmp == h.delim {
                    self.out.push_str(line);
                    stack.pop();
                    if !pending.is_empty() {
                        stack.push(Ctx::Here(pending.remove(0)));
                    }
                } else {
                    let mut j = i;
                    let mut copied = i;
                    while j < eol {
                        if b[j] == b'\\' && h.expand {
                            j += 2;
                            continue;
                        }
                        if b[j] == b'<' {
                            let before = self.out.len();
                            self.out.push_str(&s[copied..j]);
                            if let Some(next) = self.try_tag(s, j, &ctx) {
                                j = next;
                                copied = next;
                                continue;
                            }
                            self.out.truncate(before);
                        }
                        j += 1;
                    }
                    let j = j.min(eol);
                    if copied < j {
                        self.out.push_str(&s[copied..j]);
                    }
                }
                if eol < b.len() {
                    self.out.push('\n');
                }
                i = eol + 1;
                continue;
            }
            let c = b[i];
            if c == b'<' {
                if let Some(next) = self.try_tag(s, i, &ctx) {
                    i = next;
                    continue;
                }
            }
            match ctx {
                Ctx::Single => {
                    if c == b'\'' {
                        stack.pop();
                    }
                    i = self.copy_char(s, i);
                }
                Ctx::Double => match c {
                    b'\\' => i = self.copy_escaped(s, i),
                    b'"' => {
                        stack.pop();
                        i = self.copy_char(s, i);
                    }
                    b'$' if b.get(i + 1) == Some(&b'(') => {
                        self.out.push_str("$(");
                        stack.push(Ctx::Code(Closer::Paren));
                        i += 2;
                    }
                    b'`' => {
                        stack.push(Ctx::Code(Closer::Backtick));
                        i = self.copy_char(s, i);
                    }
                    _ => i = self.copy_char(s, i),
                },
                Ctx::Code(closer) => match c {
                    b'\\' => i = self.copy_escaped(s, i),
                    b'\'' => {
                        stack.push(Ctx::Single);
                        i = self.copy_char(s, i);
                    }
                    b'"' => {
                        stack.push(Ctx::Double);
                        i = self.copy_char(s, i);
                    }
                    b'`' => {
                        if closer == Closer::Backtick {
                            stack.pop();
                        } else {
                            stack.push(Ctx::Code(Closer::Backtick));
                        }
                        i = self.copy_char(s, i);
                    }
                    b'(' => {
                        stack.push(Ctx::Code(Closer::Paren));
                        i = self.copy_char(s, i);
                    }
                    b')' => {
                        if closer == Closer::Paren {
                            stack.pop();
                        }
                        i = self.copy_char(s, i);
                    }
                    b'#' if i == 0
                        || matches!(b[i - 1], b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(') =>
                    {
                        let eol = s[i..].find('\n').map(|p| i + p).unwrap_or(b.len());
                        self.out.push_str(&s[i..eol]);
                        i = eol;
                    }
                    b'<' if b.get(i + 1) == Some(&b'<') && b.get(i + 2) != Some(&b'<') => {
                        i = self.here_operator(s, i, &mut pending);
                    }
                    b'\n' => {
                        self.out.push('\n');
                        i += 1;
                        if !pending.is_empty() {
                            stack.push(Ctx::Here(pending.remove(0)));
                        }
                    }
                    _ => i = self.copy_char(s, i),
                },
                Ctx::Here(_) => unreachable!("handled above"),
            }
        }
    }

    /// Copy one (possibly multi-byte) character starting at `i`.
    fn copy_char(&mut self, s: &str, i: usize) -> usize {
        let ch = s[i..].chars().next().map(char::len_utf8).unwrap_or(1);
        self.out.push_str(&s[i..i + ch]);
        i + ch
    }

    /// Copy a backslash and the character it escapes.
    fn copy_escaped(&mut self, s: &str, i: usize) -> usize {
        let j = self.copy_char(s, i);
        if j < s.len() {
            self.copy_char(s, j)
        } else {
            j
        }
    }

    /// `<<` or `<<-` followed by a delimiter word; records the here-document.
    fn here_operator(&mut self, s: &str, i: usize, pending: &mut Vec<HereDoc>) -> usize {
        let b = s.as_bytes();
        let mut j = i + 2;
        let strip_tabs = b.get(j) == Some(&b'-');
        if strip_tabs {
            j += 1;
        }
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        let start = j;
        let mut delim = String::new();
        let mut quoted = false;
        let mut q: Option<u8> = None;
        while j < b.len() {
            let c = b[j];
            match q {
                Some(qc) if c == qc => {
                    q = None;
                    j += 1;
                }
                Some(_) => {
                    delim.push(c as char);
                    j += 1;
                }
                None => match c {
                    b'\'' | b'"' => {
                        quoted = true;
                        q = Some(c);
                        j += 1;
                    }
                    b'\\' => {
                        quoted = true;
                        if let Some(&n) = b.get(j + 1) {
                            delim.push(n as char);
                        }
                        j += 2;
                    }
                    b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
                    _ => {
                        delim.push(c as char);
                        j += 1;
                    }
                },
            }
        }
        let j = j.min(b.len());
        self.out.push_str(&s[i..j]);
        if j > start && !delim.is_empty() {
            pending.push(HereDoc {
                delim,
                strip_tabs,
                expand: !quoted,
            });
        }
        j
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::Target;

    fn ticket() -> Ticket {
        let mut t = Ticket::new("192.0.2.7".parse::<Target>().unwrap());
        t.failures = 5;
        t.time = 1_700_000_000;
        t.bantime = 600;
        t.matches = vec!["line one".into(), "line $(two)".into()];
        t.fields = vec![("USER".into(), "bob'; rm -rf /".into())];
        t
    }

    #[test]
    fn quoting_depends_on_context() {
        let t = ticket();
        let d = Dynamic {
            ticket: Some(&t),
            family: Some(Family::Inet4),
            now: 0,
        };
        let cases: &[(&str, &str)] = &[
            (
                "ban <ip> <failures> <time> <bantime> <family>",
                "ban 192.0.2.7 5 1700000000 600 inet4",
            ),
            ("echo <F-USER>", "echo \"${f2bV_F_USER}\""),
            ("echo \"u=<F-USER>\"", "echo \"u=${f2bV_F_USER}\""),
            ("echo 'u=<F-USER>'", "echo 'u='\"${f2bV_F_USER}\"''"),
            (
                "echo \"$(printf '<matches>')\"",
                "echo \"$(printf ''\"${f2bV_matches}\"'')\"",
            ),
            ("echo `echo <fid>`", "echo `echo 192.0.2.7`"),
            ("echo <F-MISSING>x", "echo \"${f2bV_F_MISSING}\"x"),
            (
                "# it's a comment <F-USER>\necho '<ip>'",
                "# it's a comment <F-USER>\necho '192.0.2.7'",
            ),
            (
                "cat <<EOF\n<matches>\nEOF\necho <F-USER>",
                "cat <<EOF\n${f2bV_matches}\nEOF\necho \"${f2bV_F_USER}\"",
            ),
            (
                "cat <<'EOF'\n<matches>\nEOF",
                "cat <<'EOF'\nline one\nline $(two)\nEOF",
            ),
            ("x <unknown> <known/chain> y", "x <unknown> <known/chain> y"),
            ("a \\<F-USER>", "a \\<F-USER>"),
        ];
        for (input, want) in cases {
            let r = render(input, &d);
            assert_eq!(r.script, *want, "{input}");
        }
    }

    #[test]
    fn literal_heredoc_cannot_be_closed_by_a_value() {
        let mut t = ticket();
        t.matches = vec!["EOF".into(), "touch /tmp/x".into()];
        let d = Dynamic {
            ticket: Some(&t),
            family: None,
            now: 0,
        };
        let r = render("cat <<'EOF'\n<matches>\nEOF", &d);
        assert_eq!(r.script, "cat <<'EOF'\nEOF \ntouch /tmp/x\nEOF");
    }

    #[test]
    fn untrusted_values_go_to_the_environment() {
        let mut t = ticket();
        t.fid = Some("a\0b".into());
        let d = Dynamic {
            ticket: Some(&t),
            family: None,
            now: 0,
        };
        let r = render("<matches> <fid> <F-user> <F-USER>", &d);
        assert_eq!(
            r.env,
            vec![
                (
                    "f2bV_matches".to_string(),
                    "line one\nline $(two)".to_string()
                ),
                ("f2bV_fid".to_string(), "ab".to_string()),
                ("f2bV_F_user".to_string(), "bob'; rm -rf /".to_string()),
                ("f2bV_F_USER".to_string(), "bob'; rm -rf /".to_string()),
            ]
        );
    }

    #[test]
    fn huge_values_are_cut_to_fit_the_environment() {
        let mut t = ticket();
        t.matches = vec!["é".repeat(MAX_VALUE)];
        let d = Dynamic {
            ticket: Some(&t),
            family: None,
            now: 0,
        };
        let r = render("x <matches>", &d);
        assert!(r.env[0].1.len() <= MAX_VALUE && r.env[0].1.len() > MAX_VALUE - 4);
        let out = crate::exec::run(
            &["/bin/sh".into(), "-c".into()],
            &ShellScript {
                script: "printf %s \"$f2bV_matches\" | wc -c".into(),
                env: r.env.clone(),
            },
            std::time::Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout.trim(), r.env[0].1.len().to_string());
    }

    #[test]
    fn no_ticket_leaves_ticket_tags() {
        let d = Dynamic {
            ticket: None,
            family: Some(Family::Inet6),
            now: 42,
        };
        let r = render("start <family> <time> <ip>", &d);
        assert_eq!(r.script, "start inet6 42 <ip>");
    }
}
