//! The `%`-codes a `datepattern` may use: the regex each code expands to and the
//! human name fail2ban-regex prints for it.
//!
//! The regexes are the format's facts: the ones Python's `_strptime` builds for
//! the C/English locale, with fail2ban's overrides and `%Ex…` extensions.

/// One code: what follows `%` in a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Code {
    pub key: &'static str,
    /// Expansion; `None` for `%ExY`, which depends on the reference year.
    pub regex: Option<&'static str>,
    pub name: &'static str,
}

const fn c(key: &'static str, regex: &'static str, name: &'static str) -> Code {
    Code {
        key,
        regex: Some(regex),
        name,
    }
}

/// Multi-letter codes first: they are tried before single letters, in this order.
pub(crate) const CODES: &[Code] = &[
    c("%", "%", "%"),
    c("ExZ", r"(?P<Z>[A-Z](?:[A-Z]{2,4})?)", "ExZone name"),
    c(
        "Exz",
        r"(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01]\d(?::?\d{2})?|[A-Z](?:[A-Z]{2,4})?)",
        "ExZone offset",
    ),
    c("Exd", r"(?P<d>[1-2]\d|0[1-9]|3[0-1])", "ExDay"),
    c("Exm", r"(?P<m>0[1-9]|1[0-2])", "ExMonth"),
    c("ExH", r"(?P<H>[0-1]\d|2[0-3])", "Ex24hour"),
    c("Exk", r" ?(?P<H>[0-1]?\d|2[0-3])", "%Exk"),
    c("Exl", r" ?(?P<I>1[0-2]|\d)", "%Exl"),
    c("ExM", r"(?P<M>[0-5]\d)", "ExMinute"),
    c("ExS", r"(?P<S>[0-5]\d|6[0-1])", "ExSecond"),
    Code {
        key: "ExY",
        regex: None,
        name: "ExYear",
    },
    c("Exy", r"(?P<y>\d{2})", "ExYear2"),
    c("d", r"(?P<d>[1-2]\d|[0 ]?[1-9]|3[0-1])", "Day"),
    c("f", r"(?P<f>[0-9]{1,6})", "Microseconds"),
    c("H", r"(?P<H>[0-1]?\d|2[0-3])", "24hour"),
    c("I", r"(?P<I>1[0-2]|0[1-9]|[1-9])", "12hour"),
    c("G", r"(?P<G>\d\d\d\d)", "%G"),
    c(
        "j",
        r"(?P<j>36[0-6]|3[0-5]\d|[1-2]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9])",
        "Yearday",
    ),
    c("m", r"(?P<m>0?[1-9]|1[0-2])", "Month"),
    c("M", r"(?P<M>[0-5]?\d)", "Minute"),
    c("S", r"(?P<S>[0-5]?\d|6[0-1])", "Second"),
    c("U", r"(?P<U>5[0-3]|[0-4]\d|\d)", "Yearweek"),
    c("w", r"(?P<w>[0-6])", "Weekday"),
    c("u", r"(?P<u>[1-7])", "%u"),
    c("V", r"(?P<V>5[0-3]|0[1-9]|[1-4]\d|\d)", "%V"),
    c("y", r"(?P<y>\d\d)", "Year2"),
    c("Y", r"(?P<Y>\d{4})", "Year"),
    c(
        "z",
        r"(?P<z>Z|UTC|GMT|[+-][01]\d(?::?\d{2})?)",
        "Zone offset",
    ),
    c(
        "A",
        r"(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)",
        "DAYNAME",
    ),
    c("a", r"(?P<a>mon|tue|wed|thu|fri|sat|sun)", "DAY"),
    c(
        "B",
        r"(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)",
        "MONTH",
    ),
    c(
        "b",
        r"(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
        "MON",
    ),
    c("p", r"(?P<p>am|pm)", "AMPM"),
    c("Z", r"(?P<Z>Z|[A-Z]{3,5})", "Zone name"),
    c("W", r"(?P<W>5[0-3]|[0-4]\d|\d)", "Yearweek"),
    c(
        "c",
        r"(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)\s+(?P<Y>\d\d\d\d)",
        "%c",
    ),
    c(
        "x",
        r"(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2]\d|0[1-9]|[1-9]| [1-9])/(?P<y>\d\d)",
        "%x",
    ),
    c(
        "X",
        r"(?P<H>2[0-3]|[0-1]\d|\d):(?P<M>[0-5]\d|\d):(?P<S>6[0-1]|[0-5]\d|\d)",
        "%X",
    ),
    c("k", r" ?(?P<H>[0-2]?\d)", "%k"),
    c("l", r" ?(?P<I>1?\d)", "%l"),
];

/// Which code starts `rest` (the text right after a `%`), longest keys first.
pub(crate) fn lookup(rest: &str) -> Option<&'static Code> {
    CODES
        .iter()
        .filter(|c| c.key.len() == 3)
        .chain(CODES.iter().filter(|c| c.key.len() == 1))
        .find(|c| rest.starts_with(c.key))
}

/// The alternation of year "centuries" (first three digits) `%ExY` accepts:
/// the decade of last year and of three years ahead, plus every third year from
/// 2000 up to the reference year (fail2ban's "alternate now" is capped at 2001,
/// so the floor is always 2000).
pub(crate) fn year_regex(reference_year: i32) -> String {
    let alternate = 2001;
    let mut years = vec![reference_year - 1, reference_year + 3];
    let mut y = alternate - 1;
    while y < reference_year + 1 {
        years.push(y);
        y += 3;
    }
    let mut cents: Vec<String> = years
        .iter()
        .map(|y| y.to_string().chars().take(3).collect::<String>())
        .collect();
    cents.sort();
    cents.dedup();
    format!("(?P<Y>{}\\d)", compress(&cents))
}

/// Factor a sorted set of equal-length strings into a compact regex.
fn compress(set: &[String]) -> String {
    if set.len() > 1 {
        // a prefix shared by all: everything but the last char, else the first char
        let all_but_last = |s: &String| s[..s.len().saturating_sub(1)].to_string();
        let first = all_but_last(&set[0]);
        let mut prefix = if !first.is_empty() && set.iter().all(|s| all_but_last(s) == first) {
            first
        } else {
            String::new()
        };
        if prefix.is_empty() {
            let head = set[0].chars().next().map(String::from).unwrap_or_default();
            if !head.is_empty() && set.iter().all(|s| s.starts_with(&head)) {
                prefix = head;
            }
        }
        if !prefix.is_empty() {
            let rest: Vec<String> = set.iter().map(|s| s[prefix.len()..].to_string()).collect();
            return format!("{prefix}{}", compress(&rest));
        }
        if set[0].len() > 1 {
            format!("(?:{})", set.join("|"))
        } else {
            format!("[{}]", set.concat())
        }
    } else {
        set.concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn year_regex_for_2026_covers_2000_to_2029() {
        assert_eq!(year_regex(2026), r"(?P<Y>20[012]\d)");
    }

    #[test]
    fn year_regex_near_century_boundary() {
        // 2098: last year 2097, +3 = 2101 -> "209" and "210" plus 200..209
        let r = year_regex(2098);
        assert!(r.starts_with("(?P<Y>2(?:"), "{r}");
        assert!(r.contains("10"), "{r}");
    }

    #[test]
    fn lookup_prefers_extended_codes() {
        assert_eq!(lookup("ExYfoo").map(|c| c.key), Some("ExY"));
        assert_eq!(lookup("Ex").map(|c| c.key), None);
        assert_eq!(lookup("Y").map(|c| c.key), Some("Y"));
        assert_eq!(lookup("%d").map(|c| c.key), Some("%"));
        assert_eq!(lookup("q").map(|c| c.key), None);
    }
}
