//! `<tag>` substitution in filter and action options (fail2ban's recursive tag
//! replacement). Unknown tags stay as they are, so `<HOST>` and `<ip>` survive.

use std::collections::{HashMap, HashSet};

use crate::omap::OMap;
use crate::ConfigError;

/// How often one tag may be replaced inside another before it counts as a loop.
pub const MAX_TAG_REPLACE: usize = 25;

/// Bound on a substituted value (a guard against exponential tag nesting).
pub const MAX_VALUE_LEN: usize = 4 << 20;

/// Find the next `<name>` (name without space, `<` or `>`) at or after `from`.
/// Returns (start, end, name).
pub fn find_tag(s: &str, from: usize) -> Option<(usize, usize, &str)> {
    let bytes = s.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        let rel = s[i..].find('<')?;
        let start = i + rel;
        let body = &s[start + 1..];
        let len = body.find([' ', '<', '>']).unwrap_or(body.len());
        if len > 0 && body[len..].starts_with('>') {
            return Some((start, start + 1 + len + 1, &body[..len]));
        }
        i = start + 1;
    }
    None
}

/// Substitute tags in every value of `tags` using the other values, repeating while
/// replacements introduce new tags. `ignore` names tags that are neither substituted
/// nor replaced; `conditional` (e.g. `family=inet6`) prefers `tag?conditional` values;
/// `addrepl` supplies values for tags not in the map (`None` = leave the tag).
pub fn substitute_recursive_tags(
    tags: &mut OMap<Option<String>>,
    conditional: &str,
    ignore: &HashSet<String>,
    addrepl: &mut dyn FnMut(&str) -> Result<Option<String>, ConfigError>,
) -> Result<(), ConfigError> {
    let mut done: HashSet<String> = HashSet::new();
    let mut rep_counts: HashMap<String, HashMap<String, usize>> = HashMap::new();
    let keys: Vec<String> = tags.keys().cloned().collect();
    loop {
        let mut rep_flag = false;
        for tag in &keys {
            if ignore.contains(tag) || done.contains(tag) {
                continue;
            }
            let Some(Some(orgval)) = tags.get(tag).cloned() else {
                continue;
            };
            let mut value = orgval.clone();
            let existed = rep_counts.contains_key(tag);
            let mut rplc = rep_counts.get(tag).cloned().unwrap_or_default();
            let mut m = find_tag(&value, 0).map(|(s, e, n)| (s, e, n.to_string()));
            while let Some((start, end, rtag)) = m {
                if ignore.contains(&rtag) {
                    m = find_tag(&value, end).map(|(s, e, n)| (s, e, n.to_string()));
                    continue;
                }
                if &rtag == tag || rplc.get(&rtag).copied().unwrap_or(1) > MAX_TAG_REPLACE {
                    return Err(ConfigError::at(
                        "<tags>",
                        0,
                        "",
                        tag,
                        format!(
                            "properties contain self referencing definitions and cannot be resolved: <{rtag}> in {tag}"
                        ),
                    ));
                }
                let mut repl: Option<String> = None;
                if !conditional.is_empty() {
                    repl = tags
                        .get(&format!("{rtag}?{conditional}"))
                        .cloned()
                        .flatten();
                }
                if repl.is_none() {
                    repl = tags.get(&rtag).cloned().flatten();
                    if repl.is_none() {
                        repl = addrepl(&rtag)?;
                    }
                }
                let Some(repl) = repl else {
                    m = find_tag(&value, end).map(|(s, e, n)| (s, e, n.to_string()));
                    continue;
                };
                value = value.replace(&format!("<{rtag}>"), &repl);
                if value.len() > MAX_VALUE_LEN {
                    return Err(ConfigError::at(
                        "<tags>",
                        0,
                        "",
                        tag,
                        format!("substituting <{rtag}> makes the value larger than {MAX_VALUE_LEN} bytes"),
                    ));
                }
                *rplc.entry(rtag).or_insert(0) += 1;
                m = find_tag(&value, start).map(|(s, e, n)| (s, e, n.to_string()));
            }
            if orgval != value {
                if find_tag(&value, 0).is_some() {
                    rep_counts.insert(tag.clone(), rplc.clone());
                    rep_flag = true;
                } else if existed {
                    rep_counts.insert(tag.clone(), rplc.clone());
                }
                tags.insert(tag.clone(), Some(value.clone()));
            } else if existed {
                rep_counts.insert(tag.clone(), rplc);
            }
            if !value.contains('<') {
                done.insert(tag.clone());
            }
        }
        if !rep_flag {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(pairs: &[(&str, &str)]) -> Result<OMap<Option<String>>, ConfigError> {
        let mut m: OMap<Option<String>> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.to_string())))
            .collect();
        substitute_recursive_tags(&mut m, "", &HashSet::new(), &mut |_| Ok(None))?;
        Ok(m)
    }

    #[test]
    fn nested_and_unknown() {
        let m = run(&[
            ("a", "3"),
            ("b", "<a>_<HOST>"),
            ("c", "<x<a>>"),
            ("x3", "X"),
        ])
        .unwrap();
        assert_eq!(m.get("b").unwrap().as_deref(), Some("3_<HOST>"));
        assert_eq!(m.get("c").unwrap().as_deref(), Some("X"));
    }

    #[test]
    fn loops_are_errors() {
        assert!(run(&[("a", "<a>")]).is_err());
        assert!(run(&[("a", "<b>"), ("b", "<a>")]).is_err());
    }

    #[test]
    fn tag_syntax() {
        assert_eq!(find_tag("x <a b> <c>", 0).map(|t| t.2), Some("c"));
        assert_eq!(find_tag("<<d>>", 0).map(|t| t.2), Some("d"));
        assert_eq!(find_tag("<>", 0), None);
    }
}
