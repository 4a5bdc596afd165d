//! The expanded regex text fail2ban-regex shows for a prefregex.
//!
//! The filter crate expands tags into regexes that are equivalent but not written
//! the same way; the report shows the reference's spelling, so the expansion is
//! redone here for display only (never compiled).

const IP4: &str = r"(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})";
const IP6: &str = r"(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))";
const DNS: &str = r"(?P<dns>[\w\-.^_]*\w)";
const CIDR: &str = r"(?P<cidr>\d+)";

fn addr() -> String {
    format!(r"\[?(?:{IP4}|{IP6})\]?")
}

/// Expand `<HOST>`, `<ADDR>`, `<F-NAME>`..., `<SKIPLINES>` and scope inline flags,
/// as the reference prints the result.
pub fn expand(re: &str, with_dns: bool) -> String {
    expand_tags(&scope_flags(re), with_dns)
}

/// The tags alone expanded, inline flags left where they are (what the reference
/// puts in its debuggex.com links).
pub fn expand_tags(re: &str, with_dns: bool) -> String {
    let re = re.to_string();
    let mut out = String::with_capacity(re.len() + 64);
    let mut open: Vec<String> = Vec::new();
    let mut skiplines = 0;
    let mut rest = re.as_str();
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let Some(len) = tag_len(after) else {
            out.push('<');
            rest = after;
            continue;
        };
        let tag = &after[..len];
        rest = &after[len + 1..];
        match replacement(tag, with_dns, &mut open, &mut skiplines) {
            Some(r) => out.push_str(&r),
            None => {
                out.push('<');
                out.push_str(tag);
                out.push('>');
            }
        }
    }
    out.push_str(rest);
    out
}

/// Length of a tag body `/?[\w-]+/?` followed by `>`, if `s` starts with one.
fn tag_len(s: &str) -> Option<usize> {
    let mut n = 0;
    let mut chars = s.char_indices().peekable();
    if let Some((_, '/')) = chars.peek() {
        chars.next();
        n = 1;
    }
    let mut word = 0;
    while let Some(&(i, c)) = chars.peek() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            word += 1;
            n = i + c.len_utf8();
            chars.next();
        } else {
            break;
        }
    }
    if word == 0 {
        return None;
    }
    if let Some(&(i, '/')) = chars.peek() {
        n = i + 1;
        chars.next();
    }
    match chars.peek() {
        Some(&(_, '>')) => Some(n),
        _ => None,
    }
}

fn replacement(
    tag: &str,
    with_dns: bool,
    open: &mut Vec<String>,
    skiplines: &mut usize,
) -> Option<String> {
    let fixed = match tag {
        "HOST" if with_dns => format!("(?:{}|{DNS})", addr()),
        "HOST" => addr(),
        "SKIPLINES" => {
            let s = format!(r"\n(?P<skiplines{skiplines}>(?:(?:.*\n)*?))");
            *skiplines += 1;
            s
        }
        "IP4" | "F-IP4/" => IP4.to_string(),
        "IP6" | "F-IP6/" => IP6.to_string(),
        "ADDR" | "F-ADDR/" => addr(),
        "CIDR" | "F-CIDR/" => CIDR.to_string(),
        "SUBNET" | "F-SUBNET/" => format!(r"\[?(?:{IP4}|{IP6})(?:/{CIDR})?\]?"),
        "DNS" | "F-DNS/" => DNS.to_string(),
        "F-ID/" => r"(?P<fid>\S+)".to_string(),
        "F-PORT/" => r"(?P<fport>\w+)".to_string(),
        _ => String::new(),
    };
    if !fixed.is_empty() {
        return Some(fixed);
    }
    let (closing, body) = match tag.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, tag),
    };
    let name = body.strip_prefix("F-")?;
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return None;
    }
    if closing {
        return open.iter().any(|o| o == name).then(|| ")".to_string());
    }
    open.push(name.to_string());
    let key = name.to_ascii_lowercase();
    let key = match key.as_str() {
        "id" => "fid",
        "port" => "fport",
        k => k,
    };
    Some(format!("(?P<{key}>"))
}

/// `((?i)x)` and `(?:(?i)x)` become `(?i:x)`, as the reference rewrites them.
fn scope_flags(re: &str) -> String {
    let b = re.as_bytes();
    let mut out = String::with_capacity(re.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'(' && (i == 0 || b[i - 1] != b'\\') {
            let mut j = i + 1;
            if b[j..].starts_with(b"?:") {
                j += 2;
            }
            if b[j..].starts_with(b"(?") {
                let k = j + 2;
                let n = b[k..].iter().take_while(|c| c.is_ascii_lowercase()).count();
                if n > 0 && b.get(k + n) == Some(&b')') {
                    out.push_str(&re[last..i]);
                    out.push_str(&re[j..k + n]);
                    out.push(':');
                    i = k + n + 1;
                    last = i;
                    continue;
                }
            }
        }
        i += 1;
    }
    out.push_str(&re[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_ftags() {
        let got = expand(
            "^<F-MLFID>x</F-MLFID> <HOST> <F-CONTENT>.+</F-CONTENT>$",
            true,
        );
        assert_eq!(
            got,
            format!("^(?P<mlfid>x) (?:\\[?(?:{IP4}|{IP6})\\]?|{DNS}) (?P<content>.+)$")
        );
        assert_eq!(expand("<HOST>", false), format!("\\[?(?:{IP4}|{IP6})\\]?"));
    }

    #[test]
    fn unopened_and_unknown_tags_stay() {
        assert_eq!(
            expand("a</F-USER> <foo> <F-ID/> <F-PORT/>", true),
            r"a</F-USER> <foo> (?P<fid>\S+) (?P<fport>\w+)"
        );
        assert_eq!(expand("<F-ID>x</F-ID>", true), "(?P<fid>x)");
    }

    #[test]
    fn skiplines_are_numbered() {
        assert_eq!(
            expand("a<SKIPLINES>b<SKIPLINES>", true),
            r"a\n(?P<skiplines0>(?:(?:.*\n)*?))b\n(?P<skiplines1>(?:(?:.*\n)*?))"
        );
    }

    #[test]
    fn inline_flags_are_scoped() {
        assert_eq!(scope_flags("((?i)abc)"), "(?i:abc)");
        assert_eq!(scope_flags("x(?:(?is)abc)y"), "x(?is:abc)y");
        assert_eq!(scope_flags(r"\((?i)abc)"), r"\((?i)abc)");
    }
}
