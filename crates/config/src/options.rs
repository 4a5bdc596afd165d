//! Call syntax `name[k=v, k2="a, b"][k3='x']` and splitting an `action =` value into
//! its items.

use crate::omap::OMap;

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_key_char(c: char) -> bool {
    is_word(c) || c == '-' || c == '.'
}

/// Split `name[args]` into the name and the ordered arguments. A key given twice keeps
/// its first position and its last value. Errors carry a short description.
pub fn extract_options(spec: &str) -> Result<(String, OMap<String>), String> {
    // name: everything up to the first '[' (at least one char); the argument list runs
    // to the last ']' that is followed only by whitespace.
    let (name, optstr) = match spec.find('[') {
        None => {
            if spec.is_empty() {
                return Err("unexpected option syntax".into());
            }
            // `[^\[]+` then `\s*$`: the name keeps trailing whitespace
            (spec.to_string(), None)
        }
        Some(0) => return Err("unexpected option syntax".into()),
        Some(b) => {
            let tail = spec.trim_end();
            if !tail.ends_with(']') || tail.len() <= b {
                return Err("unexpected option syntax".into());
            }
            (spec[..b].to_string(), Some(&spec[b + 1..tail.len() - 1]))
        }
    };
    let mut out = OMap::new();
    if let Some(s) = optstr {
        parse_args(s, &mut out)?;
    }
    Ok((name, out))
}

fn parse_args(s: &str, out: &mut OMap<String>) -> Result<(), String> {
    let mut pos = 0;
    loop {
        let rest = &s[pos..];
        // alternative 1: \s*key=value terminator
        let ws = rest.len() - rest.trim_start().len();
        let after_ws = &rest[ws..];
        let klen = after_ws
            .find(|c: char| !is_key_char(c))
            .unwrap_or(after_ws.len());
        if klen > 0 && after_ws[klen..].starts_with('=') {
            let key = &after_ws[..klen];
            let vstart = &after_ws[klen + 1..];
            let (value, consumed) = if let Some(q) = vstart.strip_prefix('"') {
                match q.find('"') {
                    Some(e) => (&q[..e], e + 2),
                    None => unquoted(vstart),
                }
            } else if let Some(q) = vstart.strip_prefix('\'') {
                match q.find('\'') {
                    Some(e) => (&q[..e], e + 2),
                    None => unquoted(vstart),
                }
            } else {
                unquoted(vstart)
            };
            let after = &vstart[consumed..];
            out.insert(key.trim(), value.trim().to_string());
            let base = pos + ws + klen + 1 + consumed;
            if after.is_empty() || after == "\n" {
                return Ok(());
            }
            if let Some(r) = after.strip_prefix(',') {
                let _ = r;
                pos = base + 1;
                continue;
            }
            if let Some(r) = after.strip_prefix(']') {
                let t = r.trim_start();
                if let Some(r2) = t.strip_prefix('[') {
                    pos = s.len() - r2.len();
                    continue;
                }
            }
            return Err(format!(
                "unexpected syntax after option {key:?}: {}",
                after.chars().take(25).collect::<String>()
            ));
        }
        // alternative 2: ,?\s*$
        let r2 = rest.strip_prefix(',').unwrap_or(rest);
        if r2.trim().is_empty() {
            return Ok(());
        }
        return Err(format!(
            "expected option, wrong syntax: {}",
            rest.chars().take(25).collect::<String>()
        ));
    }
}

/// An unquoted value stops at `,` or `]`.
fn unquoted(s: &str) -> (&str, usize) {
    let e = s.find([',', ']']).unwrap_or(s.len());
    (&s[..e], e)
}

/// Split an `action =` value into items: whitespace separates items, but an argument
/// list `[...]` (which may hold quoted values with spaces, commas and newlines) stays
/// with its name, even when whitespace precedes the `[`.
pub fn split_with_options(s: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let mut items = Vec::new();
    let mut i = 0;
    let n = chars.len();
    while i < n {
        if chars[i].1.is_whitespace() {
            i += 1;
            continue;
        }
        let start = chars[i].0;
        // name: non-space, non-'['
        while i < n && !chars[i].1.is_whitespace() && chars[i].1 != '[' {
            i += 1;
        }
        // optional whitespace then '[' args ']'
        let mut j = i;
        while j < n && chars[j].1.is_whitespace() {
            j += 1;
        }
        if j < n && chars[j].1 == '[' && j > 0 {
            if let Some(end) = scan_brackets(&chars, j) {
                i = end;
            } else {
                // not a well-formed list: take the rest of the word
                while i < n && !chars[i].1.is_whitespace() {
                    i += 1;
                }
            }
        } else if i < n && chars[i].1 == '[' {
            while i < n && !chars[i].1.is_whitespace() {
                i += 1;
            }
        }
        let end = if i < n { chars[i].0 } else { s.len() };
        items.push(s[start..end].to_string());
    }
    items
}

/// From a `[` at `open`, skip groups `[k=v, ...]` (with `][` between groups) and
/// return the index after the final `]`.
fn scan_brackets(chars: &[(usize, char)], open: usize) -> Option<usize> {
    let n = chars.len();
    let mut i = open + 1;
    let mut quote: Option<char> = None;
    while i < n {
        let c = chars[i].1;
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                ']' => {
                    // another group directly after?
                    let mut j = i + 1;
                    while j < n && chars[j].1.is_whitespace() {
                        j += 1;
                    }
                    if j < n && chars[j].1 == '[' {
                        i = j + 1;
                        continue;
                    }
                    return Some(i + 1);
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<(String, String)> {
        let (_, m) = extract_options(s).unwrap();
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    #[test]
    fn call_syntax() {
        assert_eq!(extract_options("sshd").unwrap().0, "sshd");
        assert_eq!(
            args(r#"a[x=1, y="p, q]", z='w'][k=v ]"#),
            vec![
                ("x".into(), "1".into()),
                ("y".into(), "p, q]".into()),
                ("z".into(), "w".into()),
                ("k".into(), "v".into())
            ]
        );
        assert!(extract_options("a[x=\"1\" junk]").is_err());
        assert!(extract_options("a[junk]").is_err());
        assert_eq!(args("a[]"), vec![]);
    }

    #[test]
    fn action_items() {
        let v = split_with_options(
            "iptables[name=a, port=\"1, 2\"]\n  mail-whois[dest=x]\nplain other",
        );
        assert_eq!(
            v,
            vec![
                "iptables[name=a, port=\"1, 2\"]",
                "mail-whois[dest=x]",
                "plain",
                "other"
            ]
        );
    }
}
