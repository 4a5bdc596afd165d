//! A line-level literal prefilter: the words a line must contain to be worth matching.
//!
//! From each failregex (tag-expanded, Python syntax) [`required`] derives a set of
//! literals of which at least one occurs in every text the regex can match: `^Failed
//! <cmnfailed> for ...` needs `Failed `, `^[iI](?:llegal|nvalid) user` needs one of
//! `Illegal user`, `Invalid user`, `illegal user`, `invalid user`. [`LineLiterals`]
//! puts the literals of all the failregexes (and of the ignoreregexes when they run
//! before the failregexes) into one SIMD multi-literal searcher (Teddy, from the
//! `aho-corasick` crate, used directly: case-sensitive literals, "is there one?"), run
//! over the text the regexes will see. A line with none of them cannot produce anything
//! and is dropped before any regex runs.
//!
//! The drop happens after date detection: the last date, the detector's template
//! order and [`crate::LineResult::date`] stay exactly as without it (fail2ban's date
//! detector is path-dependent, and filters often need a literal that only exists once
//! the date is cut out, such as nginx-botsearch's `[] "GET /`). The regexes see the
//! text before the date joined to the text after it, so the date itself is not
//! searched, and a literal that straddles the joint is looked for across it. Scanning
//! is not free, so the prefilter sits out while it drops too few lines ([`Worth`]).
//!
//! The analysis is conservative: a construct it does not model (numeric
//! backreferences, `(?x)`, unusual escapes, large classes) contributes "no literal",
//! and a regex without any required literal disables the prefilter for its filter.
//! Under `(?i)` (PCRE2 folds Unicode: `K` KELVIN SIGN matches `k`, LONG S `ſ` matches
//! `s`) the letters `k`/`s` and non-ASCII characters are not literals; other letters
//! stand for both their ASCII cases. A literal never contains a newline (the buffer's
//! final `\n` is not in the raw line).

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// Largest cross product kept for a run of exact pieces (`(a|b)(c|d)...`).
const MAX_CROSS: usize = 16;
/// Largest set of alternatives kept for one regex.
const MAX_SET: usize = 64;

/// What the analysis knows about the texts a piece of regex matches.
#[derive(Debug, Clone, PartialEq)]
enum Info {
    /// Exactly one of these strings (`""` for zero-width pieces).
    Exact(Vec<String>),
    /// Some string of the set is a substring of every match (None: nothing known).
    Req(Option<Vec<String>>),
}

struct Parser<'a> {
    p: &'a [u8],
    i: usize,
}

/// Sorted, deduplicated.
fn norm(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The better of two required sets: the longer shortest literal, then fewer literals.
fn better(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    let score = |s: &Vec<String>| {
        let min = s.iter().map(String::len).min().unwrap_or(0);
        (min, usize::MAX - s.len())
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A usable required set: non-empty, no empty string, not too large. A member that
/// contains another member is dropped (the shorter one occurs wherever it does).
fn usable(v: Vec<String>) -> Option<Vec<String>> {
    let v = norm(v);
    if v.is_empty() || v.len() > MAX_SET || v.iter().any(String::is_empty) {
        return None;
    }
    let keep: Vec<String> = v
        .iter()
        .filter(|a| !v.iter().any(|b| b != *a && a.contains(b.as_str())))
        .cloned()
        .collect();
    Some(keep)
}

fn concat(items: Vec<Info>) -> Info {
    let mut run: Vec<String> = vec![String::new()];
    let mut best: Option<Vec<String>> = None;
    let mut exact = true;
    for it in items {
        match it {
            Info::Exact(s) => {
                if run.len() * s.len() > MAX_CROSS {
                    exact = false;
                    best = better(best, usable(std::mem::take(&mut run)));
                    run = s;
                } else {
                    run = run
                        .iter()
                        .flat_map(|a| s.iter().map(move |b| format!("{a}{b}")))
                        .collect();
                }
            }
            Info::Req(r) => {
                exact = false;
                best = better(
                    best,
                    usable(std::mem::replace(&mut run, vec![String::new()])),
                );
                best = better(best, r);
            }
        }
    }
    if exact {
        return Info::Exact(norm(run));
    }
    Info::Req(better(best, usable(run)))
}

fn alternation(branches: Vec<Info>) -> Info {
    if branches.iter().all(|b| matches!(b, Info::Exact(_))) {
        let all: Vec<String> = branches
            .into_iter()
            .flat_map(|b| match b {
                Info::Exact(s) => s,
                Info::Req(_) => Vec::new(),
            })
            .collect();
        let all = norm(all);
        return if all.len() <= MAX_SET {
            Info::Exact(all)
        } else {
            Info::Req(None)
        };
    }
    let mut all = Vec::new();
    for b in branches {
        match b {
            Info::Exact(s) => all.extend(s),
            Info::Req(Some(r)) => all.extend(r),
            Info::Req(None) => return Info::Req(None),
        }
    }
    Info::Req(usable(all))
}

/// A required set for `{min,max}` repetitions of `a`.
fn repeat(a: Info, min: u32, max: Option<u32>) -> Info {
    match (a, min, max) {
        (a, 1, Some(1)) => a,
        (Info::Exact(mut s), 0, Some(1)) if s.len() < MAX_SET => {
            s.push(String::new());
            Info::Exact(norm(s))
        }
        (_, 0, _) => Info::Req(None),
        (Info::Exact(s), _, _) => Info::Req(usable(s)),
        (r, _, _) => r,
    }
}

/// One literal character (`c` as UTF-8 text) under the case-insensitivity flag.
fn literal(c: &str, ci: bool) -> Info {
    let b = c.as_bytes();
    if b == b"\n" {
        return Info::Req(None);
    }
    if b.len() == 1 && b[0].is_ascii() {
        let l = b[0].to_ascii_lowercase();
        if ci && b[0].is_ascii_alphabetic() {
            if l == b'k' || l == b's' {
                return Info::Req(None);
            }
            let u = l.to_ascii_uppercase();
            return Info::Exact(vec![(u as char).to_string(), (l as char).to_string()]);
        }
        return Info::Exact(vec![(b[0] as char).to_string()]);
    }
    if ci {
        return Info::Req(None);
    }
    Info::Exact(vec![c.to_string()])
}

/// Gave up on the whole regex (a construct whose extent we cannot be sure of).
struct GiveUp;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.p.get(self.i).copied()
    }

    fn alt(&mut self, ci: bool) -> Result<Info, GiveUp> {
        let mut branches = vec![self.concat(ci)?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            branches.push(self.concat(ci)?);
        }
        Ok(alternation(branches))
    }

    fn concat(&mut self, ci: bool) -> Result<Info, GiveUp> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let atom = self.atom(ci)?;
            let (min, max) = self.quantifier()?;
            items.push(repeat(atom, min, max));
        }
        Ok(concat(items))
    }

    /// `?`, `*`, `+`, `{m,n}` (with a lazy `?` or possessive `+`); (1, 1) if none.
    fn quantifier(&mut self) -> Result<(u32, Option<u32>), GiveUp> {
        let q = match self.peek() {
            Some(b'?') => (0, Some(1)),
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'{') => {
                let rest = &self.p[self.i + 1..];
                let close = rest.iter().position(|&b| b == b'}').ok_or(GiveUp)?;
                let body = std::str::from_utf8(&rest[..close]).map_err(|_| GiveUp)?;
                let num = |s: &str| -> Result<Option<u32>, GiveUp> {
                    if s.is_empty() {
                        Ok(None)
                    } else if s.bytes().all(|b| b.is_ascii_digit()) {
                        s.parse().map(Some).map_err(|_| GiveUp)
                    } else {
                        Err(GiveUp)
                    }
                };
                let (min, max) = match body.split_once(',') {
                    Some((a, b)) => (num(a)?.unwrap_or(0), num(b)?),
                    None => {
                        let n = num(body)?.ok_or(GiveUp)?;
                        (n, Some(n))
                    }
                };
                self.i += close + 1;
                (min, max)
            }
            _ => return Ok((1, Some(1))),
        };
        self.i += 1;
        if matches!(self.peek(), Some(b'?') | Some(b'+')) {
            self.i += 1;
        }
        if matches!(self.peek(), Some(b'?' | b'*' | b'+' | b'{')) {
            return Err(GiveUp);
        }
        Ok(q)
    }

    /// The group at `self.i` (just past its `(`... prefix) up to and past its `)`.
    fn group_body(&mut self, ci: bool) -> Result<Info, GiveUp> {
        let inner = self.alt(ci)?;
        if self.peek() != Some(b')') {
            return Err(GiveUp);
        }
        self.i += 1;
        Ok(inner)
    }

    fn atom(&mut self, ci: bool) -> Result<Info, GiveUp> {
        let p = self.p;
        let c = self.peek().ok_or(GiveUp)?;
        match c {
            b'(' => {
                let rest = &p[self.i + 1..];
                if !rest.starts_with(b"?") {
                    self.i += 1;
                    return self.group_body(ci);
                }
                if rest.starts_with(b"?:") {
                    self.i += 3;
                    return self.group_body(ci);
                }
                if rest.starts_with(b"?P<") {
                    let end = rest.iter().position(|&b| b == b'>').ok_or(GiveUp)?;
                    self.i += 1 + end + 1;
                    return self.group_body(ci);
                }
                for look in [&b"?="[..], b"?!", b"?<=", b"?<!"] {
                    if rest.starts_with(look) {
                        self.i += 1 + look.len();
                        self.group_body(ci)?;
                        return Ok(Info::Exact(vec![String::new()]));
                    }
                }
                if rest.starts_with(b"?P=") {
                    // Backreference: its text is not known here.
                    let end = rest.iter().position(|&b| b == b')').ok_or(GiveUp)?;
                    self.i += 1 + end + 1;
                    return Ok(Info::Req(None));
                }
                if rest.starts_with(b"?(") {
                    // Conditional `(?(name)yes|no)`: one of the two branches.
                    let end = rest.iter().position(|&b| b == b')').ok_or(GiveUp)?;
                    let name = &rest[2..end];
                    if name.is_empty()
                        || !name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    {
                        return Err(GiveUp);
                    }
                    self.i += 1 + end + 1;
                    return self.group_body(ci);
                }
                // Inline flags: `(?i)` (handled for the whole regex by the caller) or
                // `(?i:...)`, `(?-i:...)`.
                let flags: Vec<u8> = rest[1..]
                    .iter()
                    .copied()
                    .take_while(|b| b.is_ascii_alphabetic() || *b == b'-')
                    .collect();
                if !flags.is_empty() {
                    if flags.contains(&b'x') {
                        return Err(GiveUp);
                    }
                    let after = 1 + 1 + flags.len();
                    match rest.get(after - 1) {
                        Some(b')') => {
                            self.i += after + 1;
                            return Ok(Info::Exact(vec![String::new()]));
                        }
                        Some(b':') => {
                            self.i += after + 1;
                            return self.group_body(ci || flags.contains(&b'i'));
                        }
                        _ => return Err(GiveUp),
                    }
                }
                // Backreferences, conditionals, comments...: not modelled.
                Err(GiveUp)
            }
            b'[' => {
                let close = class_end(p, self.i).ok_or(GiveUp)?;
                let body = &p[self.i + 1..close];
                self.i = close + 1;
                Ok(class(body, ci))
            }
            b'.' => {
                self.i += 1;
                Ok(Info::Req(None))
            }
            b'^' | b'$' => {
                self.i += 1;
                Ok(Info::Exact(vec![String::new()]))
            }
            b'\\' => {
                let e = *p.get(self.i + 1).ok_or(GiveUp)?;
                self.i += 2;
                match e {
                    b'A' | b'Z' | b'b' | b'B' => Ok(Info::Exact(vec![String::new()])),
                    b'd' | b'D' | b's' | b'S' | b'w' | b'W' | b'n' => Ok(Info::Req(None)),
                    b't' => Ok(literal("\t", ci)),
                    b'r' => Ok(literal("\r", ci)),
                    b'f' => Ok(literal("\x0c", ci)),
                    b'v' => Ok(literal("\x0b", ci)),
                    b'a' => Ok(literal("\x07", ci)),
                    _ if e.is_ascii_alphanumeric() => Err(GiveUp),
                    _ if e.is_ascii() => Ok(literal(&(e as char).to_string(), ci)),
                    _ => {
                        self.i -= 1;
                        self.char_literal(ci)
                    }
                }
            }
            b'*' | b'+' | b'?' | b'{' | b'|' | b')' => Err(GiveUp),
            _ => self.char_literal(ci),
        }
    }

    /// One (UTF-8) character at `self.i` as a literal.
    fn char_literal(&mut self, ci: bool) -> Result<Info, GiveUp> {
        let rest = std::str::from_utf8(&self.p[self.i..]).map_err(|_| GiveUp)?;
        let ch = rest.chars().next().ok_or(GiveUp)?;
        self.i += ch.len_utf8();
        Ok(literal(ch.encode_utf8(&mut [0; 4]), ci))
    }
}

/// A class body (between `[` and `]`): a few plain ASCII characters become a set of
/// one-character literals; anything else (ranges, escapes, negation) is "no literal".
fn class(body: &[u8], ci: bool) -> Info {
    if body.first() == Some(&b'^') || body.len() > 8 {
        return Info::Req(None);
    }
    let mut set = Vec::new();
    for (j, &b) in body.iter().enumerate() {
        let range = b == b'-' && j > 0 && j + 1 < body.len();
        if b == b'\\' || b == b'[' || range || !b.is_ascii() || b == b'\n' {
            return Info::Req(None);
        }
        match literal(&(b as char).to_string(), ci) {
            Info::Exact(s) => set.extend(s),
            Info::Req(_) => return Info::Req(None),
        }
    }
    if set.is_empty() {
        return Info::Req(None);
    }
    Info::Exact(norm(set))
}

/// Index of the `]` closing the class opened at `i` (Python: a `]` right after `[` or
/// `[^` is a member).
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

/// Literals (case-sensitive; `(?i)` letters give each case) of which at least one
/// occurs in any text `re` (tag-expanded, Python syntax) matches; None when the
/// analysis finds none it can vouch for.
pub(crate) fn required(re: &str) -> Option<Vec<String>> {
    let ci = global_ci(re.as_bytes())?;
    let mut parser = Parser {
        p: re.as_bytes(),
        i: 0,
    };
    let info = parser.alt(ci).ok()?;
    if parser.i != re.len() {
        return None;
    }
    match info {
        Info::Exact(s) => usable(s),
        Info::Req(r) => r.and_then(usable),
    }
}

/// Whether a standalone `(?i)` makes the whole regex case-insensitive (Python applies
/// such flags globally); None for `(?x)`, which changes what spaces mean.
fn global_ci(p: &[u8]) -> Option<bool> {
    let mut ci = false;
    let mut k = 0;
    while let Some(off) = p[k..].windows(2).position(|w| w == b"(?") {
        let s = k + off + 2;
        let e = s + p[s..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic() || **b == b'-')
            .count();
        let fl = &p[s..e];
        if e > s && matches!(p.get(e), Some(b')') | Some(b':')) && !fl.starts_with(b"P") {
            if fl.contains(&b'x') {
                return None;
            }
            if p.get(e) == Some(&b')') && fl.contains(&b'i') {
                ci = true;
            }
        }
        k = s;
    }
    Some(ci)
}

/// Every literal set [`required`] can vouch for along the top level of `re`, not only
/// the best one: each set has a member in every text `re` matches (`^HOST - \S+ []
/// "(GET|POST|HEAD) /(roundcube|...|mysqladmin)... 404` needs one of the request
/// methods, one of the block words and `" 404 `). Empty when the regex has a top-level
/// alternative or the analysis gives up.
pub(crate) fn required_sets(re: &str) -> Vec<Vec<String>> {
    let Some(ci) = global_ci(re.as_bytes()) else {
        return Vec::new();
    };
    let mut parser = Parser {
        p: re.as_bytes(),
        i: 0,
    };
    let mut sets = Vec::new();
    let mut run: Vec<String> = vec![String::new()];
    while let Some(c) = parser.peek() {
        if c == b'|' || c == b')' {
            break;
        }
        let Ok(atom) = parser.atom(ci) else {
            return Vec::new();
        };
        let Ok((min, max)) = parser.quantifier() else {
            return Vec::new();
        };
        match repeat(atom, min, max) {
            Info::Exact(s) if run.len() * s.len() <= MAX_CROSS => {
                run = run
                    .iter()
                    .flat_map(|a| s.iter().map(move |b| format!("{a}{b}")))
                    .collect();
            }
            Info::Exact(s) => {
                sets.extend(usable(std::mem::replace(&mut run, s)));
            }
            Info::Req(r) => {
                sets.extend(usable(std::mem::replace(&mut run, vec![String::new()])));
                sets.extend(r);
            }
        }
    }
    if parser.i != re.len() {
        return Vec::new();
    }
    sets.extend(usable(run));
    // A one-byte literal (a space) is in nearly every buffer: not worth a scan.
    let mut sets: Vec<Vec<String>> = sets
        .into_iter()
        .filter(|s| s.iter().all(|l| l.len() > 1))
        .map(norm)
        .collect();
    sets.sort();
    sets.dedup();
    sets
}

/// A regex's own literal check (see [`required_sets`]): the buffer must hold a member
/// of each set. Each set is tried only while it rejects enough buffers to pay for its
/// scan ([`Worth`]), and its searcher is built on first use (a regex that is never
/// reached costs nothing); results never depend on either.
pub(crate) struct Needs(Vec<Need>);

struct Need {
    set: Vec<String>,
    finder: Option<Finder>,
    worth: Worth,
}

enum Finder {
    One(Box<memchr::memmem::Finder<'static>>),
    Many(AhoCorasick),
    /// The automaton could not be built: the set is not used.
    Off,
}

impl Finder {
    fn new(set: &[String]) -> Finder {
        if let [one] = set {
            return Finder::One(Box::new(
                memchr::memmem::Finder::new(one.as_bytes()).into_owned(),
            ));
        }
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostFirst)
            .build(set)
            .map_or(Finder::Off, Finder::Many)
    }
}

impl Needs {
    /// None when `re` has no literal set.
    pub fn of(re: &str) -> Option<Needs> {
        let sets: Vec<Need> = required_sets(re)
            .into_iter()
            .map(|set| Need {
                set,
                finder: None,
                worth: Worth::default(),
            })
            .collect();
        (!sets.is_empty()).then_some(Needs(sets))
    }

    /// False when `buf` lacks every member of one of the sets (no match possible).
    #[inline]
    pub fn may_match(&mut self, buf: &str) -> bool {
        for need in &mut self.0 {
            if !need.worth.scan_next() {
                continue;
            }
            let finder = need.finder.get_or_insert_with(|| Finder::new(&need.set));
            let found = match finder {
                Finder::One(f) => f.find(buf.as_bytes()).is_some(),
                Finder::Many(ac) => ac.is_match(buf),
                Finder::Off => true,
            };
            need.worth.record(!found);
            if !found {
                return false;
            }
        }
        true
    }
}

/// Strings one of which every match of `re` (tag-expanded, Python syntax, compiled
/// without MULTILINE) begins with, when `re` starts with `^` and has no top-level
/// alternative; None when that is not known or some match may begin with anything.
///
/// The leading pieces whose texts are exactly known (literals, small classes, groups
/// of such alternatives, `?` of one, zero-width assertions) are multiplied out, up to
/// [`MAX_CROSS`] strings; the first other piece ends the prefix. Every match consumes
/// one of the products first, so a subject that starts with none of them cannot
/// match. Zero-width pieces (`\b`, lookarounds) add nothing: dropping a condition
/// only weakens the test.
pub(crate) fn prefixes(re: &str) -> Option<Vec<String>> {
    let p = re.as_bytes();
    if p.first() != Some(&b'^') {
        return None;
    }
    // Inline flags other than a scoped `(?i:` change what the analysis sees (`(?m)`
    // lets `^` match after any newline, `(?x)` changes spaces): give up on any.
    let mut k = 0;
    while let Some(off) = p[k..].windows(2).position(|w| w == b"(?") {
        let s = k + off + 2;
        let e = s + p[s..]
            .iter()
            .take_while(|b| b.is_ascii_alphabetic() || **b == b'-')
            .count();
        if e > s && matches!(p.get(e), Some(b')') | Some(b':')) && p[s] != b'P' {
            return None;
        }
        k = s;
    }
    let mut parser = Parser { p, i: 1 };
    let mut run: Vec<String> = vec![String::new()];
    let mut open = true;
    while let Some(c) = parser.peek() {
        if c == b'|' || c == b')' {
            break;
        }
        let atom = parser.atom(false).ok()?;
        let (min, max) = parser.quantifier().ok()?;
        if !open {
            continue;
        }
        match repeat(atom, min, max) {
            Info::Exact(s) if run.len() * s.len() <= MAX_CROSS => {
                run = run
                    .iter()
                    .flat_map(|a| s.iter().map(move |b| format!("{a}{b}")))
                    .collect();
            }
            _ => open = false,
        }
    }
    // The whole regex parsed: no top-level `|` (it would stop the loop early).
    if parser.i != p.len() {
        return None;
    }
    let run = norm(run);
    if run.iter().any(String::is_empty) {
        return None;
    }
    // A string that starts with another member adds nothing.
    let keep = run
        .iter()
        .filter(|a| !run.iter().any(|b| b != *a && a.starts_with(b.as_str())))
        .cloned()
        .collect();
    Some(keep)
}

/// Length of the pieces [`cover`] searches for instead of whole literals.
const COVER_LEN: usize = 6;

/// A smaller set of byte strings that stands for `lits`: every literal contains one of
/// them, so a text without any of them holds no literal either. Each literal longer
/// than `k` bytes is covered by one of its `k`-byte pieces, chosen greedily to cover
/// as many literals as possible (case variants and shared words collapse:
/// `Authentication failure for `, `authentication error for ` and
/// `maximum authentication attempts` all hold `uthent`); shorter literals stand for
/// themselves. Fewer, shorter needles make the SIMD search cheaper (fewer candidates
/// to verify) at the price of a few more lines kept.
fn cover(lits: &[String], k: usize) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut open: Vec<&[u8]> = Vec::new();
    for l in lits {
        if l.len() <= k {
            out.push(l.as_bytes().to_vec());
        } else {
            open.push(l.as_bytes());
        }
    }
    // Covered already by a short literal.
    open.retain(|l| {
        !out.iter()
            .any(|p| l.windows(p.len()).any(|w| w == p.as_slice()))
    });
    // Piece -> the open literals holding it.
    let mut holders: std::collections::BTreeMap<&[u8], Vec<usize>> = Default::default();
    for (i, l) in open.iter().enumerate() {
        for w in l.windows(k) {
            let v = holders.entry(w).or_default();
            if v.last() != Some(&i) {
                v.push(i);
            }
        }
    }
    let mut covered = vec![false; open.len()];
    let mut left = open.len();
    while left > 0 {
        // A piece without spaces first (a piece of a word is rarer in log text than
        // one spanning two, like ` user `: `nvalid` drops more lines), then the piece
        // held by the most literals still open, then the first in byte order, so the
        // choice does not vary from run to run.
        let mut best: Option<(&[u8], (bool, usize))> = None;
        for (w, v) in &holders {
            let n = v.iter().filter(|&&i| !covered[i]).count();
            let score = (!w.contains(&b' '), n);
            if n > 0 && best.is_none_or(|b| score > b.1) {
                best = Some((w, score));
            }
        }
        let Some((w, _)) = best else { break };
        for &i in &holders[w] {
            if !covered[i] {
                covered[i] = true;
                left -= 1;
            }
        }
        out.push(w.to_vec());
    }
    out.sort();
    out.dedup();
    // A piece holding another one adds nothing.
    let all = out.clone();
    out.retain(|p| {
        !all.iter()
            .any(|q| q.len() < p.len() && p.windows(q.len()).any(|w| w == q.as_slice()))
    });
    out
}

/// The literal searcher of a filter: whether a line may match any failregex (or an
/// ignoreregex that runs on every line).
pub(crate) struct LineLiterals {
    scan: Scan,
    /// Longest literal, bytes.
    max_len: usize,
}

/// How a [`LineLiterals`] looks for its literals.
enum Scan {
    /// The SIMD searcher (Teddy) alone: no automaton walk per candidate, and nothing
    /// to build beyond the searcher.
    Packed(aho_corasick::packed::Searcher),
    /// An Aho-Corasick automaton, where the packed searcher is not available (too
    /// many literals, no SIMD support).
    Automaton(AhoCorasick),
}

impl Scan {
    fn found(&self, hay: &[u8]) -> bool {
        match self {
            Scan::Packed(p) => p.find(hay).is_some(),
            Scan::Automaton(ac) => ac.is_match(hay),
        }
    }
}

impl LineLiterals {
    /// `fail`, `ignore`: tag-expanded regexes; `ignore` only when the ignoreregexes run
    /// on every line (fail2ban's early ignore). None when some regex has no literal
    /// (then no line can be skipped).
    pub fn new(fail: &[&str], ignore: &[&str]) -> Option<LineLiterals> {
        let mut pats: Vec<String> = Vec::new();
        for re in fail.iter().chain(ignore) {
            pats.extend(required(&crate::translate::scope_inline_flags(re))?);
        }
        let pats = norm(pats);
        if pats.is_empty() {
            return None;
        }
        let pats = cover(&pats, COVER_LEN);
        let max_len = pats.iter().map(Vec::len).max().unwrap_or(0);
        // Only "is there one?" is asked: leftmost-first allows the SIMD searcher.
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(&pats)
            .build();
        let scan = match packed {
            Some(p) => Scan::Packed(p),
            None => Scan::Automaton(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&pats)
                    .or_else(|_| {
                        AhoCorasickBuilder::new()
                            .match_kind(MatchKind::LeftmostFirst)
                            .build(&pats)
                    })
                    .ok()?,
            ),
        };
        Some(LineLiterals { scan, max_len })
    }

    /// Whether `line` holds a literal once the date text at `cut` is cut out of it
    /// (false: no failregex, nor early ignoreregex, can match the line). The regexes
    /// see the text before the date joined to the text after it, so that is all that
    /// is searched: each side, then the joint.
    pub fn may_match(&self, line: &str, cut: (usize, usize)) -> bool {
        let b = line.as_bytes();
        let (s, e) = cut;
        if e <= s || e > b.len() {
            // Nothing cut out.
            return self.scan.found(b);
        }
        if self.scan.found(&b[..s]) || self.scan.found(&b[e..]) {
            return true;
        }
        if s == 0 || e >= b.len() || self.max_len < 2 {
            return false;
        }
        // Cutting the date out joins its two sides: a literal may straddle the joint.
        // (No literal lies within either side, so any match here straddles it.)
        let w = self.max_len - 1;
        let left = &b[s.saturating_sub(w)..s];
        let right = &b[e..(e + w).min(b.len())];
        let n = left.len() + right.len();
        let mut stack = [0u8; 256];
        let mut heap = Vec::new();
        let joined: &mut [u8] = if n <= stack.len() {
            &mut stack[..n]
        } else {
            heap.resize(n, 0);
            &mut heap
        };
        joined[..left.len()].copy_from_slice(left);
        joined[left.len()..].copy_from_slice(right);
        self.scan.found(joined)
    }
}

/// Lines tried per probe of the prefilter's worth.
const PROBE: u32 = 512;
/// Lines the prefilter sits out after a probe where it dropped too few lines.
const PAUSE: u32 = 100_000;

/// Whether the prefilter pays: scanning a line costs about a sixth of the regex work
/// it saves when it drops one (sshd; measured with callgrind), so it only runs while
/// it drops at least an eighth of the lines (a log of nothing but matching traffic
/// gains nothing from it). It is probed again every [`PAUSE`] lines. Results never depend on it.
#[derive(Debug, Default)]
pub(crate) struct Worth {
    tried: u32,
    dropped: u32,
    idle: u32,
}

impl Worth {
    /// Whether to scan the next line (counts the lines sat out).
    #[inline]
    pub fn scan_next(&mut self) -> bool {
        if self.idle == 0 {
            return true;
        }
        self.idle -= 1;
        false
    }

    /// The outcome of one scan.
    #[inline]
    pub fn record(&mut self, dropped: bool) {
        self.tried += 1;
        self.dropped += u32::from(dropped);
        if self.tried == PROBE {
            if self.dropped * 8 < self.tried {
                self.idle = PAUSE;
            }
            self.tried = 0;
            self.dropped = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `re` (Python syntax) compiled as the filter compiles it, for checking an
    /// analysis against real matches.
    fn python_regex(re: &str) -> pcre2::bytes::Regex {
        pcre2::bytes::RegexBuilder::new()
            .utf(true)
            .ucp(true)
            .build(&crate::translate::python_to_pcre2(re))
            .unwrap()
    }

    fn req(re: &str) -> Option<Vec<String>> {
        required(re)
    }

    fn v(s: &[&str]) -> Option<Vec<String>> {
        Some(s.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn literals_of_common_shapes() {
        assert_eq!(req(r"^Failed \S+ for"), v(&["Failed "]));
        assert_eq!(
            req(r"^[iI](?:llegal|nvalid) user (?P<user>.*?) from"),
            v(&[
                "Illegal user ",
                "Invalid user ",
                "illegal user ",
                "invalid user "
            ])
        );
        assert_eq!(
            req(
                r"^(?P<nofail>(?P<mlfforget>(Connection (?:closed|reset)|Disconnected))) (?:by|from)"
            ),
            v(&[
                "Connection closed by",
                "Connection closed from",
                "Connection reset by",
                "Connection reset from",
                "Disconnected by",
                "Disconnected from"
            ])
        );
        assert_eq!(req(r"^x\.y"), v(&["x.y"]));
        assert_eq!(req(r"ab(?: cd)?"), v(&["ab"]));
    }

    #[test]
    fn nothing_when_unsure() {
        for re in [
            r"^\S+ from",       // " from" is required, but...
            r"(?x)^Failed",     // verbose mode
            r"^(a|)b",          // fine: "b" required
            r"^(?P<x>a)(?P=x)", // fine: "a" required
            r".*",
            r"^\d+$",
            r"(?:abc)*",
            r"a|.*",
            r"\x41bc",
            r"(?(x)a|.)",
            r"(?#x)a",
        ] {
            let r = req(re);
            match re {
                r"^\S+ from" => assert_eq!(r, v(&[" from"])),
                r"^(a|)b" => assert_eq!(r, v(&["b"])),
                r"^(?P<x>a)(?P=x)" => assert_eq!(r, v(&["a"])),
                _ => assert_eq!(r, None, "{re}"),
            }
        }
    }

    #[test]
    fn case_insensitive_letters_that_fold_beyond_ascii() {
        // `k`/`s` match KELVIN SIGN / LONG S under (?i) with Unicode folding.
        let top = req(r"(?i)desk top").unwrap();
        assert_eq!(top.len(), 8);
        assert!(top.contains(&" top".to_string()) && top.contains(&" ToP".to_string()));
        let failed = req(r"^(?i:fail)ed").unwrap();
        assert_eq!(failed.len(), 16);
        assert!(failed
            .iter()
            .all(|f| f.eq_ignore_ascii_case("failed") && f.ends_with("ed")));
        assert_eq!(req(r"^(?i:ks)"), None);
    }

    /// Soundness against PCRE2 itself: whenever the compiled regex matches a line, one
    /// of the literals occurs in it (ignoring ASCII case).
    #[test]
    fn prefixes_of_anchored_regexes() {
        let pre = |re: &str| prefixes(re);
        assert_eq!(pre(r"^Failed \S+ for"), v(&["Failed "]));
        assert_eq!(
            pre(r"^Failed (?:(?P<nofail>publickey)|\S+) for"),
            v(&["Failed "])
        );
        assert_eq!(
            pre(r"^[iI](?:llegal|nvalid) user (?P<user>.*?) from"),
            v(&[
                "Illegal user ",
                "Invalid user ",
                "illegal user ",
                "invalid user "
            ])
        );
        assert_eq!(
            pre(r"^(?P<n>(Connection (?:closed|reset)|Disconnected)) (?:by|from)(?: x)?\b"),
            v(&[
                "Connection closed by",
                "Connection closed from",
                "Connection reset by",
                "Connection reset from",
                "Disconnected by",
                "Disconnected from",
            ])
        );
        // `?` multiplies; a zero-width assertion adds nothing.
        assert_eq!(pre(r"^ab?(?=c)c\d"), v(&["abc", "ac"]));
        // Stops at the first piece whose text is not known.
        assert_eq!(pre(r"^ab{2}c"), v(&["a"]));
        assert_eq!(pre(r"^x+yz"), None);
    }

    #[test]
    fn no_prefixes_when_unsure() {
        for re in [
            "Failed",       // not anchored
            "^a|b",         // top-level alternative
            "^(?i)failed",  // flags
            "^(?m)x",       // `^` after any newline
            "^(?i:f)ailed", // scoped flags too
            "^x?y?",        // may begin with anything
            r"^\s*x",       // class escape first
            "^(?:a|)",      // empty alternative
            "^(?:a|b",      // does not parse
        ] {
            assert_eq!(prefixes(re), None, "{re}");
        }
    }

    #[test]
    fn prefixes_agree_with_pcre2() {
        let regexes = [
            r"^Failed (?:(?P<nofail>publickey)|\S+) for (?P<c>invalid user )?(?P<u>\S+)",
            r"^[iI](?:llegal|nvalid) user (?P<user>.*?) from",
            r"^(?P<x>(Connection (?:closed|reset)|Disconnected)) (?:by|from)",
            r"^ab(?: cd)?e{2,3}",
            r"^x[yY]?z\b",
            r"^F (?P<c>i )?(?P<u>\S+) (?(c)x|y) from",
            r"^é(?=t)t\w",
        ];
        let subjects = [
            "Failed password for root",
            "Failed publickey for invalid user x",
            "Failed  for x",
            "FailedX",
            "Illegal user x from y",
            "invalid user x from y",
            "Connection reset by 1.2.3.4",
            "Connection from 1.2.3.4",
            "Disconnected from 1.2.3.4",
            "abee",
            "ab cdeee",
            "ab ce",
            "xYz",
            "xz",
            "xyzz",
            "F i u x from",
            "F u y from",
            "F i u y from",
            "été",
            "nothing",
            "",
        ];
        for re in regexes {
            let pre = prefixes(&crate::translate::scope_inline_flags(re)).unwrap();
            let pc = python_regex(re);
            for s in subjects {
                let l = format!("{s}\n");
                if pc.is_match(l.as_bytes()).unwrap() {
                    assert!(
                        pre.iter().any(|x| l.starts_with(x.as_str())),
                        "{re} matches {l:?} but it starts with none of {pre:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_required_set() {
        let sets = |re: &str| required_sets(re);
        assert_eq!(
            sets(
                r#"^(?P<h>\S+) \- \S+ \[\] "(GET|POST) /(roundcube|(ext)?mail|cgi-bin)[^,]* \S+" 404 .+$"#
            ),
            vec![
                v(&[" - "]).unwrap(),
                v(&[
                    " [] \"GET /cgi-bin",
                    " [] \"GET /extmail",
                    " [] \"GET /mail",
                    " [] \"GET /roundcube",
                    " [] \"POST /cgi-bin",
                    " [] \"POST /extmail",
                    " [] \"POST /mail",
                    " [] \"POST /roundcube",
                ])
                .unwrap(),
                v(&["\" 404 "]).unwrap(),
            ]
        );
        assert_eq!(
            sets(r"^Failed \S+ for (?P<u>\S+) from"),
            vec![
                v(&[" for "]).unwrap(),
                v(&[" from"]).unwrap(),
                v(&["Failed "]).unwrap()
            ]
        );
        // Case-insensitive letters give both cases.
        assert_eq!(
            sets(r"(?i)ab\d+"),
            vec![v(&["AB", "Ab", "aB", "ab"]).unwrap()]
        );
        for re in [r"a|b", r"(?x)a b", r"\S+", r"a\1"] {
            assert!(sets(re).is_empty(), "{re}");
        }
    }

    #[test]
    fn required_sets_agree_with_pcre2() {
        let regexes = [
            r#"^(?P<h>\S+) \- \S+ \[\] "(GET|POST) /(roundcube|(ext)?mail|cgi-bin)[^,]* \S+" 404 .+$"#,
            r"^Failed (?:(?P<n>publickey)|\S+) for (?P<c>invalid user )?(?P<u>\S+) from",
            r"(?i)user (?:unknown|not known)\b",
            r"x[yY]?z(?=!)",
            r"^F (?P<c>i )?(?P<u>\S+) (?(c)x|y) from",
        ];
        let subjects = [
            r#"1.2.3.4 - - [] "GET /roundcube/ HTTP/1.1" 404 12"#,
            r#"1.2.3.4 - - [] "POST /extmail HTTP/1.1" 404 12"#,
            r#"1.2.3.4 - - [] "GET /index HTTP/1.1" 404 12"#,
            r#"1.2.3.4 - - [] "GET /cgi-bin/x HTTP/1.1" 200 12"#,
            "Failed password for root from 1.2.3.4",
            "Failed publickey for invalid user x from 1.2.3.4",
            "USER Not Known",
            "user unknownx",
            "xz!",
            "xYz",
            "F i u x from",
            "F u y from",
            "nothing",
        ];
        for re in regexes {
            let sets = required_sets(&crate::translate::scope_inline_flags(re));
            assert!(!sets.is_empty(), "{re}");
            let pc = python_regex(re);
            let mut needs = Needs::of(&crate::translate::scope_inline_flags(re)).unwrap();
            for s in subjects {
                let l = format!("{s}\n");
                if pc.is_match(l.as_bytes()).unwrap() {
                    for set in &sets {
                        assert!(
                            set.iter().any(|x| l.contains(x.as_str())),
                            "{re} matches {l:?} but none of {set:?} occurs"
                        );
                    }
                    assert!(needs.may_match(&l), "{re} on {l:?}");
                }
            }
        }
    }

    #[test]
    fn literals_agree_with_pcre2() {
        let regexes = [
            r"^Failed \S+ for (?P<user>\S+) from (?P<ip>\S+)",
            r"^[iI](?:llegal|nvalid) user (?P<user>.*?) from",
            r"^(?P<x>(Connection (?:closed|reset)|Disconnected)) (?:by|from)",
            r"(?i)user unknown",
            r"^(?i:fAiL)ed",
            r"ab(?: cd)?e{2,3}",
            r"x[yY]z",
            r"^F (?P<c>i )?(?P<u>\S+)|(?(c)x|y) from",
        ];
        let lines = [
            "Failed password for root from 1.2.3.4",
            "failed password for root from 1.2.3.4",
            "Illegal user x from y",
            "invalid user x from y",
            "Connection reset by 1.2.3.4",
            "Disconnected from 1.2.3.4",
            "USER UNKNOWN",
            "FAILed",
            "abee",
            "ab cdeee",
            "xYz",
            "F i u from",
            "F u from",
            "nothing",
        ];
        for re in regexes {
            let lits = required(&crate::translate::scope_inline_flags(re)).unwrap();
            let pc = python_regex(re);
            for l in lines {
                if pc.is_match(l.as_bytes()).unwrap() {
                    assert!(
                        lits.iter().any(|x| l.contains(x.as_str())),
                        "{re} matches {l:?} but none of {lits:?} occurs"
                    );
                }
            }
        }
    }

    #[test]
    fn cover_pieces_stand_for_every_literal() {
        let lits: Vec<String> = [
            "Authentication failure for ",
            "authentication failure for ",
            "maximum authentication attempts exceeded for ",
            "Failed ",
            "Invalid user ",
            "invalid user ",
            "Accepted ",
            "ab",
            "xxabyy",
        ]
        .iter()
        .map(|x| x.to_string())
        .collect();
        let pieces = cover(&lits, 6);
        for l in &lits {
            assert!(
                pieces
                    .iter()
                    .any(|p| l.as_bytes().windows(p.len()).any(|w| w == p.as_slice())),
                "{l:?} not covered by {pieces:?}"
            );
        }
        // Case variants and shared words collapse; short literals stand for themselves
        // and cover the longer ones holding them.
        assert!(pieces.len() <= 5, "{pieces:?}");
        assert!(pieces.contains(&b"ab".to_vec()));
        assert!(pieces.iter().all(|p| p.len() <= 6));
    }

    #[test]
    fn literal_across_the_date_cut() {
        let ll = LineLiterals::new(&["^Failed "], &[]).unwrap();
        assert!(ll.may_match("Failed x", (0, 0)));
        assert!(!ll.may_match("nothing here", (0, 0)));
        // "Fai" + date + "led " becomes "Failed " once the date is cut out.
        let line = "Fai2024-01-01 10:00:00led x";
        assert!(ll.may_match(line, (3, 22)));
        assert!(!ll.may_match("Fa 2024-01-01 10:00:00led x", (3, 22)));
        // Literal text inside the date is cut out with it; either side still counts.
        assert!(!ll.may_match("[Failed ] x", (0, 9)));
        assert!(ll.may_match("x [2024] Failed x", (2, 8)));
        assert!(ll.may_match("Failed [2024] x", (7, 13)));
        // A regex without literals: no line may be skipped.
        assert!(LineLiterals::new(&["^Failed ", r"^\S+$"], &[]).is_none());
        // An early ignoreregex's literals count too.
        let ll = LineLiterals::new(&["^Failed "], &["^Accepted"]).unwrap();
        assert!(ll.may_match("Accepted x", (0, 0)));
    }

    #[test]
    fn sits_out_when_it_drops_too_few_lines() {
        let mut w = Worth::default();
        // Drops every second line: stays on.
        for i in 0..10 * PROBE {
            assert!(w.scan_next());
            w.record(i % 2 == 0);
        }
        // Drops one line in twenty: off for PAUSE lines after the probe, then probed
        // again.
        for i in 0..PROBE {
            assert!(w.scan_next());
            w.record(i % 20 == 0);
        }
        for _ in 0..PAUSE {
            assert!(!w.scan_next());
        }
        assert!(w.scan_next());
    }

    /// The prefilter changes nothing: every stock filter (sshd in each mode too) gives
    /// the same results, line by line, with and without it over fail2ban's sample logs
    /// (all of them fed to each filter, so most lines are foreign to it).
    #[test]
    fn same_results_with_and_without_prefilter() {
        use crate::{Filter, FilterConfig, UseDns, Zone};
        let confdir = std::path::Path::new("/etc/fail2ban");
        let logs = std::path::Path::new("/usr/lib/python3/dist-packages/fail2ban/tests/files/logs");
        if !confdir.join("filter.d").is_dir() || !logs.is_dir() {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "fail2ban's configuration and sample logs are required under CI"
            );
            eprintln!("SKIPPED: no /etc/fail2ban or fail2ban sample logs");
            return;
        }
        let mut lines: Vec<String> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        for e in std::fs::read_dir(logs).unwrap().flatten() {
            let p = e.path();
            if p.is_file() {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                lines.extend(
                    text.lines()
                        .filter(|l| !l.starts_with('#'))
                        .map(str::to_string),
                );
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                if confdir.join(format!("filter.d/{n}.conf")).is_file() {
                    names.push(n);
                }
            }
        }
        names.sort();
        let mut cases: Vec<(String, Vec<(String, String)>)> =
            names.iter().map(|n| (n.clone(), Vec::new())).collect();
        for mode in ["ddos", "extra", "aggressive"] {
            cases.push(("sshd".into(), vec![("mode".into(), mode.into())]));
        }
        let (mut filters, mut dropped) = (0, 0usize);
        for (name, args) in &cases {
            let Ok(def) = bailiff_config::read_filter(confdir, name, args) else {
                continue;
            };
            for check_all in [false, true] {
                let cfg = FilterConfig {
                    prefregex: def.prefregex.clone(),
                    failregex: def.failregex.clone(),
                    ignoreregex: def.ignoreregex.clone(),
                    maxlines: def.maxlines.unwrap_or(1),
                    datepattern: def.datepattern.clone(),
                    usedns: UseDns::Warn,
                    check_all,
                    ..FilterConfig::default()
                };
                let now = 1_700_000_000.0;
                let Ok(mut with) = Filter::new(&cfg, Zone::utc(), now) else {
                    continue;
                };
                let mut without = Filter::new(&cfg, Zone::utc(), now).unwrap();
                without.set_line_prefilter(false);

                if !with.line_prefilter() {
                    continue;
                }
                filters += 1;
                for l in &lines {
                    let a = with.process_line(l, now);
                    let b = without.process_line(l, now);

                    assert_eq!(
                        format!("{a:?}"),
                        format!("{b:?}"),
                        "filter {name} {args:?} check_all={check_all}, line {l:?}"
                    );
                    let lit = with.lits.as_ref().unwrap();
                    let cut = a.date.as_ref().map_or((0, 0), |d| (d.start, d.end));
                    dropped += usize::from(!lit.may_match(l, cut));
                }
            }
        }
        eprintln!(
            "{filters} filters, {} lines each, {dropped} lines dropped",
            lines.len()
        );
        assert!(filters > 50, "only {filters} filters have a prefilter");
        assert!(dropped > filters * lines.len() / 2);
    }
}
