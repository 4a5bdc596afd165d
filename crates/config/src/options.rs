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
                "unexpected syntax at {} after option {}: {}",
                s[..base].chars().count(),
                crate::jail::py_repr(key),
                after.chars().take(25).collect::<String>()
            ));
        }
        // alternative 2: ,?\s*$
        let r2 = rest.strip_prefix(',').unwrap_or(rest);
        if r2.trim().is_empty() {
            return Ok(());
        }
        return Err(format!(
            "expected option, wrong syntax at {}: {}",
            s[..pos].chars().count(),
            rest.chars().take(25).collect::<String>()
        ));
    }
}

/// An unquoted value stops at `,` or `]`.
fn unquoted(s: &str) -> (&str, usize) {
    let e = s.find([',', ']']).unwrap_or(s.len());
    (&s[..e], e)
}

/// Split an `action =` value into items, as fail2ban does: an item is a name with an
/// optional argument list `[...]` (quoted values may hold spaces, commas and
/// newlines; `][` joins groups; whitespace may precede the `[`), ending at
/// whitespace or the end; anything else falls back to a run of non-space characters.
pub fn split_with_options(s: &str) -> Vec<String> {
    let c: Vec<char> = s.chars().collect();
    let byte: Vec<usize> = s
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(s.len()))
        .collect();
    let n = c.len();
    let mut items = Vec::new();
    let mut i = 0;
    while i < n {
        if c[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut end = None;
        if c[i] != '[' {
            let mut m = i;
            while m < n && !c[m].is_whitespace() && c[m] != '[' {
                m += 1;
            }
            let accept = |e: usize| e == n || c[e].is_whitespace();
            let mut budget = 2_000usize;
            end = group_end(&c, m, &accept, &mut budget);
            if end.is_none() && accept(m) {
                end = Some(m);
            }
        }
        let e = end.unwrap_or_else(|| {
            let mut m = i;
            while m < n && !c[m].is_whitespace() {
                m += 1;
            }
            m
        });
        items.push(s[byte[i]..byte[e]].to_string());
        i = e;
    }
    items
}

/// End of an argument list `\s*[ ... ]` starting at `p` whose end `accept`s, trying
/// the alternatives in the order a backtracking regex engine would.
fn group_end(
    c: &[char],
    p: usize,
    accept: &dyn Fn(usize) -> bool,
    budget: &mut usize,
) -> Option<usize> {
    let n = c.len();
    let mut q = p;
    while q < n && c[q].is_whitespace() {
        q += 1;
    }
    if q >= n || c[q] != '[' {
        return None;
    }
    q += 1;
    while q < n && c[q].is_whitespace() {
        q += 1;
    }
    args_end(c, q, accept, budget)
}

fn skip_ws(c: &[char], mut q: usize) -> usize {
    while q < c.len() && c[q].is_whitespace() {
        q += 1;
    }
    q
}

/// `(?:ARG \s* (?:,|\]\s*\[)? \s*)* \]` from `p` (greedy, backtracking).
fn args_end(
    c: &[char],
    p: usize,
    accept: &dyn Fn(usize) -> bool,
    budget: &mut usize,
) -> Option<usize> {
    if *budget == 0 {
        return None;
    }
    *budget -= 1;
    let n = c.len();
    let mut k = p;
    while k < n && is_key_char(c[k]) {
        k += 1;
    }
    if k > p && k < n && c[k] == '=' {
        let v = k + 1;
        let mut value_ends = Vec::new();
        for q in ['"', '\''] {
            if v < n && c[v] == q {
                if let Some(off) = c[v + 1..].iter().position(|&x| x == q) {
                    value_ends.push(v + 1 + off + 1);
                }
            }
        }
        let mut m = v;
        while m < n && c[m] != ',' && c[m] != ']' {
            m += 1;
        }
        value_ends.extend((v..=m).rev());
        for ve in value_ends {
            let q = skip_ws(c, ve);
            let mut seps = Vec::new();
            if q < n && c[q] == ',' {
                seps.push(q + 1);
            } else if q < n && c[q] == ']' {
                let r = skip_ws(c, q + 1);
                if r < n && c[r] == '[' {
                    seps.push(r + 1);
                }
            }
            seps.push(q);
            for sp in seps {
                let r = skip_ws(c, sp);
                if let Some(e) = args_end(c, r, accept, budget) {
                    return Some(e);
                }
                if *budget == 0 {
                    return None;
                }
            }
        }
    }
    if p < n && c[p] == ']' && accept(p + 1) {
        return Some(p + 1);
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
            "iptables[name=a, port=\"1, 2\"]\n  mail-whois[dest=x]\nplain other a[x=1]b",
        );
        assert_eq!(
            v,
            vec![
                "iptables[name=a, port=\"1, 2\"]",
                "mail-whois[dest=x]",
                "plain",
                "other",
                "a[x=1]b"
            ]
        );
    }
}

#[cfg(test)]
mod limits {
    use super::*;

    #[test]
    fn long_argument_lists_stay_bounded() {
        let many: Vec<String> = (0..5000).map(|i| format!("k{i}=v")).collect();
        let s = format!("act[{}]x other", many.join(","));
        let items = split_with_options(&s);
        assert_eq!(items.len(), 2);
        let ok = format!("act[{}]", many[..100].join(", "));
        assert_eq!(split_with_options(&ok), vec![ok.clone()]);
        assert_eq!(extract_options(&ok).unwrap().1.len(), 100);
    }
}
