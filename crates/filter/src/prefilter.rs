//! A cheap test in front of PCRE2: the bytes a `^`-anchored regex can start with.
//!
//! Most fail2ban failregexes start with `^` and a literal word (`^Failed `, `^[iI]nvalid
//! user`), and sshd's prefregex hands every line to all of them. Knowing the possible
//! first bytes skips nearly all of those PCRE2 calls. The analysis is conservative: any
//! construct it does not fully understand gives up (no prefilter, PCRE2 decides).

/// Set of possible first bytes of a match.
#[derive(Clone)]
pub(crate) struct FirstBytes([bool; 256]);

impl FirstBytes {
    #[inline]
    pub fn accepts(&self, buf: &[u8]) -> bool {
        buf.first().is_some_and(|&b| self.0[b as usize])
    }
}

impl std::fmt::Debug for FirstBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s: String = (0u8..=255)
            .filter(|&b| self.0[b as usize])
            .map(|b| b as char)
            .collect();
        write!(f, "FirstBytes({s:?})")
    }
}

/// Strings one of which every match begins with (see [`crate::literals::prefixes`]):
/// a subject that starts with none of them is rejected without calling PCRE2.
#[derive(Debug, Clone)]
pub(crate) struct Prefixes(Box<[Box<[u8]>]>);

impl Prefixes {
    /// The prefixes of a (Python-syntax, tag-expanded) regex compiled without
    /// MULTILINE; None when a one-byte prefix would add nothing to [`FirstBytes`].
    pub fn of(re: &str) -> Option<Prefixes> {
        let p = crate::literals::prefixes(re)?;
        if p.iter().all(|s| s.len() < 2) {
            return None;
        }
        Some(Prefixes(
            p.into_iter()
                .map(|s| s.into_bytes().into_boxed_slice())
                .collect(),
        ))
    }

    #[inline]
    pub fn accepts(&self, buf: &[u8]) -> bool {
        self.0.iter().any(|p| buf.starts_with(p))
    }
}

/// Which failregexes may match a buffer, told by its first byte: one table lookup
/// per buffer answers for every regex at once, instead of one call per regex that
/// then looks at the same byte ([`FirstBytes`]). Bit `i` stands for failregex `i`;
/// regexes from the 65th on are not in the table and are always candidates.
pub(crate) struct Dispatch {
    /// Per first byte: the regexes that may match a buffer starting with it.
    table: Box<[u64; 256]>,
    /// The regexes that may match an empty buffer (those without first bytes).
    empty: u64,
}

impl Dispatch {
    /// From each failregex's first bytes, in order (None: may start with anything).
    pub fn new<'a>(firsts: impl IntoIterator<Item = Option<&'a FirstBytes>>) -> Dispatch {
        let mut table = Box::new([0u64; 256]);
        let mut empty = 0u64;
        for (i, first) in firsts.into_iter().enumerate().take(64) {
            let bit = 1u64 << i;
            match first {
                Some(f) => {
                    for (b, row) in table.iter_mut().enumerate() {
                        if f.0[b] {
                            *row |= bit;
                        }
                    }
                }
                None => {
                    empty |= bit;
                    table.iter_mut().for_each(|row| *row |= bit);
                }
            }
        }
        Dispatch { table, empty }
    }

    /// The candidates for `buf` (see [`Dispatch::may`]).
    #[inline]
    pub fn candidates(&self, buf: &[u8]) -> u64 {
        match buf.first() {
            Some(&b) => self.table[b as usize],
            None => self.empty,
        }
    }

    /// Whether failregex `idx` is among `candidates`.
    #[inline]
    pub fn may(candidates: u64, idx: usize) -> bool {
        idx >= 64 || (candidates >> idx) & 1 == 1
    }
}

type Set = [bool; 256];

/// First bytes of a (Python-syntax, tag-expanded) regex compiled without MULTILINE,
/// when it is anchored with a leading `^` and its first atom is plain.
pub(crate) fn first_bytes(re: &str) -> Option<FirstBytes> {
    let p = re.as_bytes();
    if p.first() != Some(&b'^') || has_flag_group(p) || has_top_level_alt(p) != Some(false) {
        return None;
    }
    let (set, _) = alternatives(p, 1)?;
    Some(FirstBytes(set))
}

/// `(?i)`, `(?x)`... anywhere: case or layout changes we do not model.
fn has_flag_group(p: &[u8]) -> bool {
    p.windows(3)
        .any(|w| w[0] == b'(' && w[1] == b'?' && b"aiLmsux".contains(&w[2]))
}

/// Whether the regex has a `|` outside any group (None: could not tell).
fn has_top_level_alt(p: &[u8]) -> Option<bool> {
    let mut depth = 0i32;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' => i += 1,
            b'[' => i = class_end(p, i)?,
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'|' if depth == 0 => return Some(true),
            _ => {}
        }
        i += 1;
    }
    Some(false)
}

/// Index of the `]` closing the class opened at `i`, if well formed.
fn class_end(p: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if p.get(j) == Some(&b'^') {
        j += 1;
    }
    if p.get(j) == Some(&b']') {
        j += 1;
    }
    while j < p.len() {
        match p[j] {
            b'\\' => j += 2,
            b']' => return Some(j),
            _ => j += 1,
        }
    }
    None
}

/// Index just past the atom starting at `i` (a group, class, escape or byte).
fn atom_end(p: &[u8], i: usize) -> Option<usize> {
    match p.get(i)? {
        b'\\' => Some(i + 2),
        b'[' => class_end(p, i).map(|e| e + 1),
        b'(' => {
            let mut depth = 0;
            let mut j = i;
            while j < p.len() {
                match p[j] {
                    b'\\' => j += 1,
                    b'[' => j = class_end(p, j)?,
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => Some(i + 1),
    }
}

/// Whether the atom ending at `i` may repeat zero times.
fn optional_quantifier(p: &[u8], i: usize) -> bool {
    match p.get(i) {
        Some(b'?') | Some(b'*') => true,
        Some(b'{') => matches!(p.get(i + 1), Some(b'0') | Some(b',')),
        _ => false,
    }
}

/// First bytes of the alternatives starting at `i`, up to the `)` closing their group
/// (or the end). Returns the set and the index of that `)`.
fn alternatives(p: &[u8], mut i: usize) -> Option<(Set, usize)> {
    let mut set = [false; 256];
    loop {
        let first = first_of_atom(p, i)?;
        for b in 0..256 {
            set[b] |= first[b];
        }
        // Skip the rest of this alternative.
        loop {
            match p.get(i) {
                None => return Some((set, i)),
                Some(b')') => return Some((set, i)),
                Some(b'|') => {
                    i += 1;
                    break;
                }
                Some(_) => i = atom_end(p, i)?,
            }
        }
    }
}

fn first_of_atom(p: &[u8], i: usize) -> Option<Set> {
    let mut set = [false; 256];
    let c = *p.get(i)?;
    let end;
    match c {
        b'\\' => {
            let e = *p.get(i + 1)?;
            if e.is_ascii_alphanumeric() || !e.is_ascii() {
                return None;
            }
            set[e as usize] = true;
            end = i + 2;
        }
        b'[' => {
            let close = class_end(p, i)?;
            let mut j = i + 1;
            if p.get(j) == Some(&b'^') {
                return None;
            }
            while j < close {
                let a = p[j];
                if a == b'\\' || !a.is_ascii() {
                    return None;
                }
                if p.get(j + 1) == Some(&b'-') && j + 2 < close {
                    let z = p[j + 2];
                    if z == b'\\' || !z.is_ascii() || z < a {
                        return None;
                    }
                    for b in a..=z {
                        set[b as usize] = true;
                    }
                    j += 3;
                } else {
                    set[a as usize] = true;
                    j += 1;
                }
            }
            end = close + 1;
        }
        b'(' => {
            let inner = if p[i + 1..].starts_with(b"?:") {
                i + 3
            } else if p[i + 1..].starts_with(b"?P<") {
                i + 3 + p[i + 3..].iter().position(|&b| b == b'>')? + 1
            } else if p.get(i + 1) == Some(&b'?') {
                return None;
            } else {
                i + 1
            };
            let (s, close) = alternatives(p, inner)?;
            if p.get(close) != Some(&b')') {
                return None;
            }
            set = s;
            end = close + 1;
        }
        b'.' | b'^' | b'$' | b'|' | b')' | b'*' | b'+' | b'?' | b'{' => return None,
        _ if !c.is_ascii() => return None,
        _ => {
            set[c as usize] = true;
            end = i + 1;
        }
    }
    if optional_quantifier(p, end) {
        return None;
    }
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fb(re: &str) -> Option<String> {
        first_bytes(re).map(|s| {
            (0u8..=255)
                .filter(|&b| s.0[b as usize])
                .map(|b| b as char)
                .collect()
        })
    }

    #[test]
    fn anchored_literals() {
        assert_eq!(fb("^Failed (?:x|y)").as_deref(), Some("F"));
        assert_eq!(fb("^[aA]uthentication").as_deref(), Some("Aa"));
        assert_eq!(fb("^[iI](?:llegal|nvalid) user").as_deref(), Some("Ii"));
        assert_eq!(
            fb("^(?P<nofail>(?P<mlfforget>(Connection (?:closed|reset)|Disconnected)))").as_deref(),
            Some("CD")
        );
        assert_eq!(fb(r"^\[x\]").as_deref(), Some("["));
        assert_eq!(fb("^(?P<user>ROOT) LOGIN").as_deref(), Some("R"));
    }

    #[test]
    fn gives_up_when_unsure() {
        for re in [
            "Failed",      // not anchored
            "^a|b",        // top-level alternative
            "^(?i)failed", // case-insensitive
            "^x?y",        // optional first atom
            "^(?:a|)b",    // empty alternative
            "^\\s*x",      // class escape
            "^.x",
            "^[^a]",
            "^(?=a)a",
            "^x{0,2}y",
            "^(?:a|b)*c",
        ] {
            assert!(first_bytes(re).is_none(), "{re}");
        }
    }

    /// The table answers as each regex's own first-byte test does, for every first
    /// byte and the empty buffer; regexes without first bytes and those past the 64th
    /// are always candidates.
    #[test]
    fn dispatch_agrees_with_first_bytes() {
        let mut res: Vec<&str> = vec!["^Failed", "^x?y", "^[aA]uth", "^(?:C|Dis)c", "^.x"];
        res.extend(std::iter::repeat_n("^q", 70));
        let firsts: Vec<Option<FirstBytes>> = res.iter().map(|r| first_bytes(r)).collect();
        let d = Dispatch::new(firsts.iter().map(Option::as_ref));
        for b in 0u8..=255 {
            let buf = [b, b'z'];
            let cand = d.candidates(&buf);
            for (i, f) in firsts.iter().enumerate() {
                let want = i >= 64 || f.as_ref().is_none_or(|f| f.accepts(&buf));
                assert_eq!(Dispatch::may(cand, i), want, "regex {i} on byte {b}");
            }
        }
        let cand = d.candidates(b"");
        for (i, f) in firsts.iter().enumerate() {
            assert_eq!(Dispatch::may(cand, i), i >= 64 || f.is_none(), "regex {i}");
        }
    }

    #[test]
    fn prefilter_agrees_with_pcre2() {
        let subjects = [
            "Failed x",
            "failed x",
            "Authentication",
            "authentication",
            "Illegal user",
            "Disconnected",
            "Connection closed",
            "[x]",
            "",
            "ROOT LOGIN",
        ];
        for re in [
            "^Failed",
            "^[aA]uthentication",
            "^[iI](?:llegal|nvalid) user",
            "^(?:Connection (?:closed|reset)|Disconnected)",
            r"^\[x\]",
            "^(?P<user>ROOT) LOGIN",
        ] {
            let f = first_bytes(re).unwrap();
            let pc = pcre2::bytes::Regex::new(re).unwrap();
            for s in subjects {
                if pc.is_match(s.as_bytes()).unwrap() {
                    assert!(f.accepts(s.as_bytes()), "{re} rejects {s:?}");
                }
            }
        }
    }
}
