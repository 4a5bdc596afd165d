//! fail2ban's regex tags (`<HOST>`, `<F-USER>...</F-USER>`, `<SKIPLINES>`...), expanded
//! into plain regex text before compiling.
//!
//! The expansions are ours; what they accept and the group names they define are
//! fail2ban's: `ip4` (dotted quad, optionally after an IPv4-mapped `::ffff:` prefix
//! that is left out of the group), `ip6`, `dns`, `cidr`, `fid`, `fport`, and one group
//! per `<F-NAME>` (lowercased; `F-ID` is `fid`, `F-PORT` is `fport`).

/// Dotted quad; an IPv4-mapped IPv6 prefix may precede it and is not captured.
const IP4: &str = r"(?:::f{4,6}:)?(?P<ip4>\d{1,3}(?:\.\d{1,3}){3})";
/// IPv6 text: one to seven hex groups each closed by `:` or `::` (or a bare `::`), then a
/// last hex group or a final `:` (which can only follow another `:`).
const IP6: &str = r"(?P<ip6>(?:[0-9A-Fa-f]{1,4}::?|::){1,7}(?:[0-9A-Fa-f]{1,4}|:))";
/// Host name: word characters, `-`, `.` and `^`, ending in a word character.
const DNS: &str = r"(?P<dns>[-.^\w]*\w)";
const CIDR: &str = r"(?P<cidr>\d+)";

fn addr() -> String {
    format!(r"\[?(?:{IP4}|{IP6})\]?")
}

fn host() -> String {
    format!(r"(?:{}|{DNS})", addr())
}

fn subnet() -> String {
    format!(r"\[?(?:{IP4}|{IP6})(?:/{CIDR})?\]?")
}

/// Group name for a `<F-NAME>` tag.
pub fn tag_group_name(tag: &str) -> String {
    let low = tag.to_lowercase();
    match low.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => low,
    }
}

fn is_custom_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '-'
}

/// Expand every tag in `regex`. `with_dns`: `<HOST>` also accepts host names
/// (fail2ban: `usedns` is not `no`).
pub fn expand(regex: &str, with_dns: bool) -> String {
    let mut out = String::with_capacity(regex.len() + 64);
    let mut open: Vec<String> = Vec::new();
    let mut skiplines = 0usize;
    let mut rest = regex;
    while let Some(pos) = rest.find('<') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        // `</?[\w-]+/?>`
        let mut name_start = 0;
        if after.starts_with('/') {
            name_start = 1;
        }
        let body = &after[name_start..];
        let wlen: usize = body
            .char_indices()
            .find(|&(_, c)| !is_tag_char(c))
            .map(|(i, _)| i)
            .unwrap_or(body.len());
        let mut end = name_start + wlen;
        if wlen > 0 && after[end..].starts_with('/') {
            end += 1;
        }
        if wlen == 0 || !after[end..].starts_with('>') {
            out.push('<');
            rest = after;
            continue;
        }
        let tn = &after[..end];
        let whole = &rest[pos..pos + 1 + end + 1];
        rest = &after[end + 1..];
        match tn {
            "HOST" => out.push_str(&if with_dns { host() } else { addr() }),
            "SKIPLINES" => {
                out.push_str(&format!(r"\n(?P<skiplines{skiplines}>(?:(?:.*\n)*?))"));
                skiplines += 1;
            }
            "IP4" | "F-IP4/" => out.push_str(IP4),
            "IP6" | "F-IP6/" => out.push_str(IP6),
            "ADDR" | "F-ADDR/" => out.push_str(&addr()),
            "CIDR" | "F-CIDR/" => out.push_str(CIDR),
            "SUBNET" | "F-SUBNET/" => out.push_str(&subnet()),
            "DNS" | "F-DNS/" => out.push_str(DNS),
            "F-ID/" => out.push_str(r"(?P<fid>\S+)"),
            "F-PORT/" => out.push_str(r"(?P<fport>\w+)"),
            _ => {
                let (closing, name) = match tn.strip_prefix('/') {
                    Some(n) => (true, n),
                    None => (false, tn),
                };
                match name.strip_prefix("F-") {
                    Some(custom) if is_custom_name(custom) => {
                        if closing {
                            if open.iter().any(|o| o == custom) {
                                out.push(')');
                            } else {
                                out.push_str(whole);
                            }
                        } else {
                            open.push(custom.to_string());
                            out.push_str("(?P<");
                            out.push_str(&tag_group_name(custom));
                            out.push('>');
                        }
                    }
                    _ => out.push_str(whole),
                }
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(re: &str) -> pcre2::bytes::Regex {
        pcre2::bytes::RegexBuilder::new()
            .utf(true)
            .ucp(true)
            .build(re)
            .unwrap()
    }

    fn group(re: &str, subject: &str, name: &str) -> Option<String> {
        let r = compile(re);
        let caps = r.captures(subject.as_bytes()).unwrap()?;
        caps.name(name)
            .map(|m| String::from_utf8_lossy(m.as_bytes()).into_owned())
    }

    #[test]
    fn host_accepts_addresses_and_names() {
        let re = format!("^from {}$", expand("<HOST>", true));
        assert_eq!(
            group(&re, "from 1.2.3.4", "ip4").as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(
            group(&re, "from ::ffff:1.2.3.4", "ip4").as_deref(),
            Some("1.2.3.4")
        );
        assert_eq!(
            group(&re, "from [2001:db8::1]", "ip6").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(group(&re, "from ::1", "ip6").as_deref(), Some("::1"));
        assert_eq!(group(&re, "from fe80::", "ip6").as_deref(), Some("fe80::"));
        assert_eq!(
            group(&re, "from host-1.example.com", "dns").as_deref(),
            Some("host-1.example.com")
        );
        let addr_only = format!("^from {}$", expand("<HOST>", false));
        assert!(group(&addr_only, "from example.com", "dns").is_none());
        assert!(!compile(&addr_only).is_match(b"from example.com").unwrap());
    }

    #[test]
    fn subnet_and_cidr() {
        let re = format!("^{}$", expand("<SUBNET>", true));
        assert_eq!(group(&re, "10.0.0.0/8", "cidr").as_deref(), Some("8"));
        assert_eq!(group(&re, "10.0.0.0/8", "ip4").as_deref(), Some("10.0.0.0"));
        assert_eq!(
            group(&re, "[2001:db8::/32]", "ip6").as_deref(),
            Some("2001:db8::")
        );
    }

    #[test]
    fn custom_groups() {
        let re = expand(
            "user <F-USER>\\S+</F-USER> id <F-ID/> port <F-PORT/> <F-ALT_USER1>x</F-ALT_USER1>",
            true,
        );
        assert!(re.contains("(?P<user>\\S+)"));
        assert!(re.contains("(?P<fid>\\S+)"));
        assert!(re.contains("(?P<fport>\\w+)"));
        assert!(re.contains("(?P<alt_user1>x)"));
        // F-ID as open/close pair maps to fid too.
        assert_eq!(expand("<F-ID>a</F-ID>", true), "(?P<fid>a)");
        // Closing tag never opened stays literal; unknown tags stay literal.
        assert_eq!(
            expand("</F-USER> <foo> <F-lower>", true),
            "</F-USER> <foo> <F-lower>"
        );
        assert_eq!(expand("a < b <>", true), "a < b <>");
    }

    #[test]
    fn skiplines_are_numbered() {
        let re = expand("a<SKIPLINES>b<SKIPLINES>c", true);
        assert!(re.contains("(?P<skiplines0>"));
        assert!(re.contains("(?P<skiplines1>"));
    }

    #[test]
    fn flag_tags() {
        assert_eq!(expand("<F-NOFAIL>x</F-NOFAIL>", true), "(?P<nofail>x)");
        assert_eq!(expand("<F-MLFID>x</F-MLFID>", true), "(?P<mlfid>x)");
        assert_eq!(
            expand("<F-MLFFORGET>x</F-MLFFORGET>", true),
            "(?P<mlfforget>x)"
        );
        assert_eq!(
            expand("<F-MLFGAINED>x</F-MLFGAINED>", true),
            "(?P<mlfgained>x)"
        );
        assert_eq!(expand("<F-CONTENT>.+</F-CONTENT>", true), "(?P<content>.+)");
    }
}
