//! Branch pruning by absent literals: cheaper PCRE2 searches with the same results.
//!
//! A backtracking engine returns the first successful path in its priority order.
//! Taking out paths that cannot succeed on a given subject changes neither which path
//! comes first nor its captures. Many paths of fail2ban's regexes can only succeed
//! when some literal occurs in the buffer: sshd's
//! `^Failed \S+ for (?P<cond_inv>invalid user )?(?P<user>(?P<cond_user>\S+)|…) from
//! <HOST>… (?(cond_user): |…)` reaches the final `: ` through its first `user`
//! alternative only (it sets `cond_user`, so the conditional must take its `: `
//! branch), and on the usual "Failed password for root from 192.0.2.1 port 22 ssh2"
//! PCRE2 backtracks through every shorter `\S+`, every `<HOST>` reading and the
//! port options before it gives up on that alternative. The `ip6` alternative of
//! `<HOST>` needs a `:`.
//!
//! At compile time [`Plan::of`] walks the PCRE2 pattern (after translation) and
//! finds *cuts*: an alternative of a group (or the body of a group that may be skipped,
//! `(…)?`) every successful path through which must match one literal of a set, either
//! inside the cut (module `literals` tells) or later: a cut that sets a capture group
//! `g` on every path through it makes a later mandatory conditional `(?(g)yes|no)`
//! take `yes`, so `yes`'s literals are required too. At search time, when none of a
//! set's literals occurs in the buffer, a variant of the regex runs in which the cuts
//! of that set are replaced by `(*FAIL)` followed by one empty group per capture group
//! they held (same numbers, same names, never set), compiled on first use.
//!
//! Only the cuts PCRE2 cannot already reject at once are kept: one that starts with a
//! literal character fails on its first byte anyway. Patterns the walk does not fully
//! model are left alone: inline flags, verbs, atomic groups and possessive
//! quantifiers (an atomic group commits to the first alternative that matches
//! *locally*, so a cut justified by what follows would change the result), branch
//! reset, subroutine calls, numeric back references.
//!
//! The one visible difference: a variant does less work, so a buffer on which the
//! full regex runs into PCRE2's match limit ([`crate::MATCH_LIMIT`]) may get an answer
//! from the variant instead of the match-limit error. Where both finish, results are
//! identical (test `pruned_variants_agree_with_plain_pcre2` in module `regex`).

use crate::jit::JitRegex;
use crate::literals::Worth;

/// At most this many literal sets (keys) per regex: 2^KEYS variants at most.
const MAX_KEYS: usize = 5;
/// A key's set may hold at most this many literals (each costs one scan).
const MAX_SET: usize = 4;

/// A piece of a branch: an atom and its quantifier.
#[derive(Debug)]
struct Piece {
    /// Offset of the piece (atom and quantifier) in the pattern.
    at: usize,
    min: u32,
    /// None: unbounded.
    max: Option<u32>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A literal character (PCRE2 rejects a path here on its first byte).
    Lit,
    /// A class, an escape class, `.`, an anchor, a back reference.
    Other,
    Group(Group),
}

#[derive(Debug)]
struct Group {
    kind: GKind,
    /// Byte offset of the group's `(` in the pattern.
    open: usize,
    branches: Vec<Branch>,
}

#[derive(Debug, PartialEq)]
enum GKind {
    NonCap,
    Cap(Option<String>),
    /// Lookahead or lookbehind: nothing inside is cut.
    Look,
    /// `(?(name)yes|no)`.
    Cond(String),
}

#[derive(Debug)]
struct Branch {
    /// Byte span of the branch text.
    start: usize,
    end: usize,
    pieces: Vec<Piece>,
}

/// The walk gave up: a construct it does not model.
struct Unsure;

struct Parser<'a> {
    p: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.p.get(self.i).copied()
    }

    fn alternation(&mut self) -> Result<Vec<Branch>, Unsure> {
        let mut branches = vec![self.branch()?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            branches.push(self.branch()?);
        }
        Ok(branches)
    }

    fn branch(&mut self) -> Result<Branch, Unsure> {
        let start = self.i;
        let mut pieces = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let at = self.i;
            let kind = self.atom()?;
            let (min, max) = self.quantifier()?;
            pieces.push(Piece { at, min, max, kind });
        }
        Ok(Branch {
            start,
            end: self.i,
            pieces,
        })
    }

    /// The bounds of the quantifier at `self.i` ((1, 1) if none). Possessive: unsure.
    fn quantifier(&mut self) -> Result<(u32, Option<u32>), Unsure> {
        let q = match self.peek() {
            Some(b'?') => (0, Some(1)),
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'{') => {
                let rest = &self.p[self.i + 1..];
                let close = rest.iter().position(|&b| b == b'}').ok_or(Unsure)?;
                let body = std::str::from_utf8(&rest[..close]).map_err(|_| Unsure)?;
                if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || b == b',') {
                    return Err(Unsure);
                }
                let num = |t: &str| t.parse::<u32>().map_err(|_| Unsure);
                let q = match body.split_once(',') {
                    None => (num(body)?, Some(num(body)?)),
                    Some((lo, "")) => (num(lo)?, None),
                    Some((lo, hi)) => (num(lo)?, Some(num(hi)?)),
                };
                self.i += close + 1;
                q
            }
            _ => return Ok((1, Some(1))),
        };
        self.i += 1;
        match self.peek() {
            Some(b'?') => self.i += 1,
            Some(b'+') => return Err(Unsure),
            _ => {}
        }
        if matches!(self.peek(), Some(b'?' | b'*' | b'+' | b'{')) {
            return Err(Unsure);
        }
        Ok(q)
    }

    fn group(&mut self, kind: GKind, open: usize) -> Result<Kind, Unsure> {
        let branches = self.alternation()?;
        if self.peek() != Some(b')') {
            return Err(Unsure);
        }
        self.i += 1;
        if let GKind::Cond(_) = kind {
            if branches.len() > 2 {
                return Err(Unsure);
            }
        }
        Ok(Kind::Group(Group {
            kind,
            open,
            branches,
        }))
    }

    fn atom(&mut self) -> Result<Kind, Unsure> {
        let p = self.p;
        let open = self.i;
        match p[self.i] {
            b'(' => {
                let rest = &p[self.i + 1..];
                if !rest.starts_with(b"?") {
                    if rest.starts_with(b"*") {
                        return Err(Unsure);
                    }
                    self.i += 1;
                    return self.group(GKind::Cap(None), open);
                }
                if rest.starts_with(b"?:") {
                    self.i += 3;
                    return self.group(GKind::NonCap, open);
                }
                for look in [&b"?="[..], b"?!", b"?<=", b"?<!"] {
                    if rest.starts_with(look) {
                        self.i += 1 + look.len();
                        return self.group(GKind::Look, open);
                    }
                }
                let ident = |s: &[u8]| -> Option<String> {
                    let n = s
                        .iter()
                        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))?;
                    let name = std::str::from_utf8(&s[..n]).ok()?;
                    (n > 0 && !name.as_bytes()[0].is_ascii_digit()).then(|| name.to_string())
                };
                if let Some(r) = rest.strip_prefix(b"?P<") {
                    let name = ident(r).ok_or(Unsure)?;
                    if r.get(name.len()) != Some(&b'>') {
                        return Err(Unsure);
                    }
                    self.i += 4 + name.len() + 1;
                    return self.group(GKind::Cap(Some(name)), open);
                }
                if let Some(r) = rest.strip_prefix(b"?P=") {
                    let name = ident(r).ok_or(Unsure)?;
                    if r.get(name.len()) != Some(&b')') {
                        return Err(Unsure);
                    }
                    self.i += 4 + name.len() + 1;
                    return Ok(Kind::Other);
                }
                if let Some(r) = rest.strip_prefix(b"?(") {
                    let name = ident(r).ok_or(Unsure)?;
                    if r.get(name.len()) != Some(&b')') || name == "DEFINE" {
                        return Err(Unsure);
                    }
                    self.i += 3 + name.len() + 1;
                    return self.group(GKind::Cond(name), open);
                }
                // Flags, atomic groups, branch reset, `(?<name>`, comments,
                // subroutine calls...: not modelled.
                Err(Unsure)
            }
            b'[' => {
                self.i = class_end(p, self.i).ok_or(Unsure)? + 1;
                Ok(Kind::Other)
            }
            b'\\' => {
                let e = *p.get(self.i + 1).ok_or(Unsure)?;
                self.i += 2;
                match e {
                    b'd' | b'D' | b's' | b'S' | b'w' | b'W' | b'b' | b'B' | b'A' | b'z' | b'Z'
                    | b'h' | b'H' | b'v' | b'V' | b'R' | b'N' => Ok(Kind::Other),
                    b'n' | b't' | b'r' | b'f' | b'a' | b'e' => Ok(Kind::Lit),
                    b'x' => {
                        if self.peek() == Some(b'{') {
                            let close = p[self.i..].iter().position(|&b| b == b'}');
                            self.i += close.ok_or(Unsure)? + 1;
                        } else {
                            let n = p[self.i..]
                                .iter()
                                .take(2)
                                .take_while(|b| b.is_ascii_hexdigit())
                                .count();
                            self.i += n;
                        }
                        Ok(Kind::Lit)
                    }
                    _ if e.is_ascii_alphanumeric() => Err(Unsure),
                    _ if e.is_ascii() => Ok(Kind::Lit),
                    _ => Err(Unsure),
                }
            }
            b'.' | b'^' | b'$' => {
                self.i += 1;
                Ok(Kind::Other)
            }
            b'*' | b'+' | b'?' | b'{' | b'|' | b')' => Err(Unsure),
            b => {
                // One (UTF-8) character.
                let len = match b {
                    0x00..=0x7f => 1,
                    0xc0..=0xdf => 2,
                    0xe0..=0xef => 3,
                    _ => 4,
                };
                self.i += len;
                Ok(Kind::Lit)
            }
        }
    }
}

/// Index of the `]` closing the class opened at `i` (a `]` right after `[` or `[^` is
/// a member).
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

/// Whether a path entering `b` is rejected by its first byte (a literal comes first).
fn starts_with_literal(b: &Branch) -> bool {
    match b.pieces.first() {
        Some(Piece {
            min: 1..,
            kind: Kind::Lit,
            ..
        }) => true,
        Some(Piece {
            min: 1..,
            kind: Kind::Group(g),
            ..
        }) if g.kind != GKind::Look && !matches!(g.kind, GKind::Cond(_)) => {
            g.branches.iter().all(starts_with_literal)
        }
        _ => false,
    }
}

/// Whether `b` begins with an unbounded repetition (`\S+`, `.*?`, `[^:]+`...): a path
/// through it may consume much of the buffer before the missing literal stops it,
/// and be retried from every length. Only such a region is cut for its own literals:
/// elsewhere PCRE2 gives up on a path about as fast as the scan for the literal.
fn starts_unbounded(b: &Branch) -> bool {
    match b.pieces.first() {
        Some(Piece { max: None, .. }) => true,
        Some(Piece {
            kind: Kind::Group(g),
            ..
        }) if g.kind != GKind::Look && !matches!(g.kind, GKind::Cond(_)) => {
            g.branches.iter().all(starts_unbounded)
        }
        _ => false,
    }
}

/// Names of the capture groups set on every path through `b` (its mandatory groups,
/// and theirs).
fn always_sets(b: &Branch, out: &mut Vec<String>) {
    for piece in &b.pieces {
        let Kind::Group(g) = &piece.kind else {
            continue;
        };
        if piece.min == 0 {
            continue;
        }
        match &g.kind {
            GKind::Cap(name) => {
                out.extend(name.clone());
                if let [only] = g.branches.as_slice() {
                    always_sets(only, out);
                }
            }
            GKind::NonCap => {
                if let [only] = g.branches.as_slice() {
                    always_sets(only, out);
                }
            }
            _ => {}
        }
    }
}

/// A region of the pattern to replace, and the key (literal set) that justifies it.
#[derive(Debug, Clone, PartialEq)]
struct Cut {
    start: usize,
    end: usize,
    key: usize,
    /// `(*FAIL)` and one empty group per capture group in the region.
    with: String,
}

/// The cuts of one regex and the literal sets they depend on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plan {
    /// The PCRE2 pattern the cuts apply to (offsets are into it).
    pattern: String,
    keys: Vec<Vec<String>>,
    cuts: Vec<Cut>,
}

struct Walk<'a> {
    p: &'a str,
    /// Every cut the analysis can justify, worth it or not (tests).
    every: bool,
    keys: Vec<Vec<String>>,
    cuts: Vec<Cut>,
}

impl Walk<'_> {
    /// The key of a literal set, added if there is room.
    fn key(&mut self, set: Vec<String>) -> Option<usize> {
        if set.len() > MAX_SET || set.iter().any(String::is_empty) {
            return None;
        }
        if let Some(k) = self.keys.iter().position(|s| *s == set) {
            return Some(k);
        }
        if self.keys.len() == MAX_KEYS {
            return None;
        }
        self.keys.push(set);
        Some(self.keys.len() - 1)
    }

    /// The best literal set every successful path through the region `[s, e)` needs:
    /// its own (module `literals`; only when `own`), or the `yes` branch of a mandatory conditional
    /// later on (`after`: the pieces that follow, innermost level first) on a group
    /// the region always sets.
    fn need(
        &self,
        (s, e): (usize, usize),
        own: bool,
        sets: &[String],
        after: &[&[Piece]],
    ) -> Option<Vec<String>> {
        let mut best = if own {
            crate::literals::required(&self.p[s..e])
        } else {
            None
        };
        for level in after {
            for piece in *level {
                let Kind::Group(g) = &piece.kind else {
                    continue;
                };
                let GKind::Cond(name) = &g.kind else { continue };
                if piece.min == 0 || !sets.contains(name) {
                    continue;
                }
                let yes = &g.branches[0];
                let r = crate::literals::required(&self.p[yes.start..yes.end]);
                best = better(best, r);
            }
        }
        best
    }

    fn cut(&mut self, s: usize, e: usize, set: Vec<String>, inner: &[&Branch]) {
        let Some(key) = self.key(set) else { return };
        let mut with = String::from("(*FAIL)");
        let mut groups = Vec::new();
        for b in inner {
            captures(b, &mut groups);
        }
        groups.sort_by_key(|(open, _)| *open);
        for (_, name) in groups {
            match name {
                Some(n) => with.push_str(&format!("(?P<{n}>)")),
                None => with.push_str("()"),
            }
        }
        self.cuts.push(Cut {
            start: s,
            end: e,
            key,
            with,
        });
    }

    /// Walk branch `b`; `after`: the pieces that follow it at each enclosing level.
    fn branch<'b>(&mut self, b: &'b Branch, after: &mut Vec<&'b [Piece]>) {
        for (i, piece) in b.pieces.iter().enumerate() {
            let Kind::Group(g) = &piece.kind else {
                continue;
            };
            if g.kind == GKind::Look {
                continue;
            }
            after.push(&b.pieces[i + 1..]);
            let cond = matches!(g.kind, GKind::Cond(_));
            // The alternatives of a group (conditionals: their own literals only).
            if g.branches.len() > 1 || cond {
                for alt in &g.branches {
                    if (!self.every && starts_with_literal(alt)) || alt.start == alt.end {
                        continue;
                    }
                    let mut sets = Vec::new();
                    if !cond {
                        always_sets(alt, &mut sets);
                    }
                    let lv: Vec<&[Piece]> = after.iter().rev().copied().collect();
                    let own = self.every || starts_unbounded(alt);
                    if let Some(set) = self.need((alt.start, alt.end), own, &sets, &lv) {
                        self.cut(alt.start, alt.end, set, &[alt]);
                    }
                }
            }
            // A group that may be skipped: its whole body.
            if piece.min == 0
                && !cond
                && (self.every || !g.branches.iter().all(starts_with_literal))
            {
                let (s, e) = (g.branches[0].start, g.branches.last().map_or(0, |b| b.end));
                let mut sets = Vec::new();
                if let GKind::Cap(Some(n)) = &g.kind {
                    sets.push(n.clone());
                }
                if let [only] = g.branches.as_slice() {
                    always_sets(only, &mut sets);
                }
                let lv: Vec<&[Piece]> = after.iter().rev().copied().collect();
                let own = self.every || g.branches.iter().all(starts_unbounded);
                if let Some(set) = self.need((s, e), own, &sets, &lv) {
                    let inner: Vec<&Branch> = g.branches.iter().collect();
                    self.cut(s, e, set, &inner);
                }
            }
            for alt in &g.branches {
                self.branch(alt, after);
            }
            after.pop();
        }
    }
}

/// (open offset, name) of every capture group inside `b`.
fn captures(b: &Branch, out: &mut Vec<(usize, Option<String>)>) {
    for piece in &b.pieces {
        if let Kind::Group(g) = &piece.kind {
            if let GKind::Cap(name) = &g.kind {
                out.push((g.open, name.clone()));
            }
            for alt in &g.branches {
                captures(alt, out);
            }
        }
    }
}

/// The better of two literal sets: the longer shortest literal, then fewer literals.
fn better(a: Option<Vec<String>>, b: Option<Vec<String>>) -> Option<Vec<String>> {
    let score = |s: &Vec<String>| {
        let min = s.iter().map(String::len).min().unwrap_or(0);
        (s.len() <= MAX_SET, min, usize::MAX - s.len())
    };
    match (a, b) {
        (Some(a), Some(b)) => Some(if score(&b) > score(&a) { b } else { a }),
        (a, None) => a,
        (None, b) => b,
    }
}

impl Plan {
    /// The cuts of a PCRE2 pattern (as [`crate::translate::python_to_pcre2`] gives it,
    /// with an optional leading `(*LIMIT_MATCH=n)`); None when there are none or the
    /// pattern has a construct the walk does not model.
    pub fn of(pattern: &str) -> Option<Plan> {
        Plan::build(pattern, false)
    }

    /// [`Plan::of`] with every cut the analysis can justify, also those that are
    /// not worth a scan (for tests: more variants to compare).
    #[cfg(test)]
    pub fn every(pattern: &str) -> Option<Plan> {
        Plan::build(pattern, true)
    }

    fn build(pattern: &str, every: bool) -> Option<Plan> {
        let top = parse_whole(pattern)?;
        let mut walk = Walk {
            p: pattern,
            every,
            keys: Vec::new(),
            cuts: Vec::new(),
        };
        for b in &top {
            walk.branch(b, &mut Vec::new());
        }
        // A cut inside another cut with the same key adds nothing.
        let all = walk.cuts.clone();
        walk.cuts.retain(|c| {
            !all.iter()
                .any(|o| o != c && o.key == c.key && o.start <= c.start && c.end <= o.end)
        });
        if walk.cuts.is_empty() {
            return None;
        }
        let used: Vec<usize> = walk.cuts.iter().map(|c| c.key).collect();
        let keys = walk.keys;
        // Keys no cut uses any more are kept (indices stay valid) but never scanned.
        let keys = keys
            .into_iter()
            .enumerate()
            .map(|(k, s)| if used.contains(&k) { s } else { Vec::new() })
            .collect();
        Some(Plan {
            pattern: pattern.to_string(),
            keys,
            cuts: walk.cuts,
        })
    }

    /// The pattern with the cuts of the keys in `absent` (a bit set) applied.
    pub fn variant(&self, absent: u32) -> String {
        let mut cuts: Vec<&Cut> = self
            .cuts
            .iter()
            .filter(|c| absent & (1 << c.key) != 0)
            .collect();
        cuts.sort_by_key(|c| (c.start, std::cmp::Reverse(c.end)));
        let mut out = String::with_capacity(self.pattern.len());
        let mut at = 0;
        for c in cuts {
            if c.start < at {
                // Inside a cut already applied.
                continue;
            }
            out.push_str(&self.pattern[at..c.start]);
            out.push_str(&c.with);
            at = c.end;
        }
        out.push_str(&self.pattern[at..]);
        out
    }

    /// The literal sets (bit `k` of a mask for [`Plan::variant`] is set `k`).
    #[cfg(test)]
    pub fn keys(&self) -> &[Vec<String>] {
        &self.keys
    }
}

/// A regex that ends in `.+$` or `.*$` (alone or as a named group, e.g. a prefregex's
/// `(?P<content>.+)$`), compiled without MULTILINE, with that tail replaced by a stub
/// that does not walk the rest of the line.
///
/// On a buffer with no `\n` before its last byte, `.+$` from a position `q` matches
/// exactly up to `L` (the buffer's length, less one if it ends in `\n`): `.` takes
/// every byte but the newline and `$` holds at `L`; it succeeds iff `q < L` (`.*$`:
/// always, ending at `max(q, L)`; `q` is past `L` only when the pattern already took
/// the final `\n`). The stub `(?=.)` (`.*`: nothing) succeeds at exactly the same
/// positions, so every path before it is tried in the same order and the first that
/// succeeds is the same, with the same groups; only the tail's end (and the whole
/// match's) is not walked: it is `max(q, L)` ([`TailStub::copy_ovector`]). As with the pruned
/// variants, the only visible difference is PCRE2's match limit: the stub takes fewer
/// steps, so it may answer where the full regex would report the limit.
pub(crate) struct TailStub {
    re: Box<JitRegex>,
    /// Capture index of the tail's group (None: a bare `.+$`).
    group: Option<usize>,
    /// The end of the tail in the last search.
    end: usize,
}

/// The stub form of `pattern`'s tail (see [`TailStub`]) and the tail group's name.
pub(crate) fn tail_stub(pattern: &str) -> Option<(String, Option<String>)> {
    let top = parse_whole(pattern)?;
    if top.len() != 1 {
        return None;
    }
    let pieces = &top[0].pieces;
    let [.., tail, dollar] = pieces.as_slice() else {
        return None;
    };
    if &pattern[dollar.at..] != "$" {
        return None;
    }
    let text = &pattern[tail.at..dollar.at];
    let (name, dots) = match text.strip_prefix("(?P<") {
        Some(r) => {
            let (name, rest) = r.split_once('>')?;
            (Some(name.to_string()), rest.strip_suffix(')')?)
        }
        None => (None, text),
    };
    if name
        .as_deref()
        .is_some_and(|n| !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    {
        return None;
    }
    let stub = match dots {
        ".+" => "(?=.)",
        ".*" => "",
        _ => return None,
    };
    let mut out = pattern[..tail.at].to_string();
    match &name {
        Some(n) => out.push_str(&format!("(?P<{n}>){stub}")),
        None => out.push_str(stub),
    }
    Some((out, name))
}

impl TailStub {
    /// The stub of `pattern` (compiled without MULTILINE), `group`: the capture index
    /// of the tail's group when it has one.
    pub fn new(pattern: &str, index_of: impl Fn(&str) -> Option<usize>) -> Option<TailStub> {
        let (stub, name) = tail_stub(pattern)?;
        let group = match name {
            Some(n) => Some(index_of(&n)?),
            None => None,
        };
        let re = JitRegex::new(&stub, false)?;
        Some(TailStub {
            re: Box::new(re),
            group,
            end: 0,
        })
    }

    /// Search `buf` when the stub applies to it (no `\n` before its last byte); None
    /// when it does not.
    #[inline]
    pub fn search(&mut self, buf: &[u8]) -> Option<Result<Option<(usize, usize)>, String>> {
        let (last, head) = buf.split_last()?;
        if memchr::memchr(b'\n', head).is_some() {
            return None;
        }
        self.end = if *last == b'\n' {
            head.len()
        } else {
            buf.len()
        };
        Some(
            self.re
                .search(buf)
                .map(|m| m.map(|(s, e)| (s, e.max(self.end)))),
        )
    }

    /// The offsets of the last search into `ov` (see [`JitRegex::ovector`]), the
    /// end of the whole match and of the tail's group being `max(q, L)`.
    #[inline]
    pub fn copy_ovector(&self, ov: &mut [usize]) {
        let src = self.re.ovector();
        let n = src.len().min(ov.len());
        ov[..n].copy_from_slice(&src[..n]);
        for g in std::iter::once(0).chain(self.group) {
            if 2 * g + 1 < n && ov[2 * g] != crate::jit::UNSET {
                ov[2 * g + 1] = ov[2 * g + 1].max(self.end);
            }
        }
    }
}

/// The branches of `pattern` (after a leading `(*LIMIT_MATCH=n)`), when the parser
/// models all of it.
fn parse_whole(pattern: &str) -> Option<Vec<Branch>> {
    let body_at = if pattern.starts_with("(*LIMIT_MATCH=") {
        pattern.find(')')? + 1
    } else {
        0
    };
    let mut parser = Parser {
        p: pattern.as_bytes(),
        i: body_at,
    };
    let top = parser.alternation().ok()?;
    (parser.i == pattern.len()).then_some(top)
}

/// The pattern with a lookahead for the literal that must follow, put after each
/// repeat that ends a group: `(?P<user>…|[^:]+) from ` becomes
/// `(?P<user>…|[^:]+(?= from )) from `. None when nothing is guarded or the walk
/// does not model the pattern (see the module documentation).
///
/// Why: when a repeat at the end of a group backtracks, PCRE2 leaves every enclosing
/// group again (recording captures, pushing backtracking frames) before it compares
/// the literal that follows, on every step; sshd's "Failed … for root from …" line
/// spends most of its search that way, `[^:]+` giving back one byte at a time from the
/// end of the line to ` from `. The lookahead rejects those steps inside the repeat.
///
/// Why the result is the same: the repeat ends its branch, and each enclosing group
/// up to the one followed by the literal ends its own branch and is matched exactly
/// once (no quantifier), is not a lookaround, and atomic groups are not modelled.
/// So every path that leaves the repeat goes through group ends only, which consume
/// nothing, and must then match the literal at the very position the lookahead
/// tests. A path the lookahead rejects would fail at the literal; the paths that pass
/// are tried in the same order, set the same groups and continue as before. As with
/// the pruned variants, only PCRE2's match limit may see a difference: fewer steps.
pub(crate) fn guard_repeats(pattern: &str) -> Option<String> {
    let top = parse_whole(pattern)?;
    let mut at: Vec<(usize, &str)> = Vec::new();
    for b in &top {
        guard_branch(pattern, b, None, &mut at);
    }
    if at.is_empty() {
        return None;
    }
    at.sort();
    let mut out = String::with_capacity(pattern.len() + 16 * at.len());
    let mut last = 0;
    for (i, lit) in at {
        out.push_str(&pattern[last..i]);
        out.push_str("(?=");
        out.push_str(lit);
        out.push(')');
        last = i;
    }
    out.push_str(&pattern[last..]);
    Some(out)
}

/// The text of the literal characters (each exactly once) starting at piece `j` of
/// `b`, when there is at least one.
fn literal_at<'a>(pattern: &'a str, b: &Branch, j: usize) -> Option<&'a str> {
    let lits = b.pieces[j..]
        .iter()
        .take_while(|q| matches!(q.kind, Kind::Lit) && q.min == 1 && q.max == Some(1))
        .count();
    if lits == 0 {
        return None;
    }
    let end = b.pieces.get(j + lits).map_or(b.end, |q| q.at);
    Some(&pattern[b.pieces[j].at..end])
}

/// [`guard_repeats`] over branch `b`; `after`: the literal that must follow the end of
/// `b` (given by the enclosing groups, None when unknown or not right after).
fn guard_branch<'a>(
    pattern: &'a str,
    b: &Branch,
    after: Option<&'a str>,
    at: &mut Vec<(usize, &'a str)>,
) {
    let n = b.pieces.len();
    for (j, piece) in b.pieces.iter().enumerate() {
        let next = if j + 1 < n {
            literal_at(pattern, b, j + 1)
        } else {
            after
        };
        if let Kind::Group(g) = &piece.kind {
            let once = piece.min == 1 && piece.max == Some(1) && g.kind != GKind::Look;
            for inner in &g.branches {
                guard_branch(pattern, inner, if once { next } else { None }, at);
            }
        }
        // A repeat that ends the branch, with a known literal after its groups.
        if j + 1 == n && piece.max != Some(piece.min) {
            if let Some(lit) = after {
                at.push((b.end, lit));
            }
        }
    }
}

/// A regex's pruned variants at search time: which keys' literals are absent from a
/// buffer, and the variant compiled for that combination (on first use).
pub(crate) struct Pruner {
    plan: Plan,
    finders: Vec<Vec<memchr::memmem::Finder<'static>>>,
    /// Per key: whether its scan pays (a key whose literals are nearly always there
    /// costs a scan and never selects a variant). Results never depend on it.
    worth: Vec<Worth>,
    multi_line: bool,
    /// Indexed by mask; None: not compiled yet; Some(None): does not compile.
    variants: Vec<Option<Option<Box<JitRegex>>>>,
    /// The variant the last search ran on.
    last: usize,
}

impl Pruner {
    pub fn new(plan: Plan, multi_line: bool) -> Pruner {
        let finders = plan
            .keys
            .iter()
            .map(|set| {
                set.iter()
                    .map(|l| memchr::memmem::Finder::new(l.as_bytes()).into_owned())
                    .collect()
            })
            .collect();
        let n = 1usize << plan.keys.len();
        Pruner {
            worth: plan.keys.iter().map(|_| Worth::default()).collect(),
            plan,
            finders,
            multi_line,
            variants: (0..n).map(|_| None).collect(),
            last: 0,
        }
    }

    /// The keys none of whose literals occur in `buf`, as a bit set (a key whose
    /// scan is sitting out counts as present: no cut of it is made).
    #[inline]
    pub fn absent(&mut self, buf: &[u8]) -> u32 {
        let mut mask = 0;
        for (k, set) in self.finders.iter().enumerate() {
            if set.is_empty() || !self.worth[k].scan_next() {
                continue;
            }
            let absent = set.iter().all(|f| f.find(buf).is_none());
            self.worth[k].record(absent);
            if absent {
                mask |= 1 << k;
            }
        }
        mask
    }

    /// Search `buf` with the variant for its absent literals. None when no key is
    /// absent or the variant is not available: the caller runs the full regex.
    pub fn search(&mut self, buf: &[u8]) -> Option<Result<Option<(usize, usize)>, String>> {
        let mask = self.absent(buf) as usize;
        if mask == 0 {
            return None;
        }
        let slot = &mut self.variants[mask];
        if slot.is_none() {
            let pattern = self.plan.variant(mask as u32);
            *slot = Some(JitRegex::new(&pattern, self.multi_line).map(Box::new));
        }
        let re = slot.as_mut()?.as_mut()?;
        self.last = mask;
        Some(re.search(buf))
    }

    /// The offsets of the last search of [`Pruner::search`] that ran (see
    /// [`JitRegex::ovector`]).
    #[inline]
    pub fn ovector(&self) -> &[usize] {
        match self.variants.get(self.last) {
            Some(Some(Some(re))) => re.ovector(),
            _ => &[],
        }
    }

    #[cfg(test)]
    pub fn plan(&self) -> &Plan {
        &self.plan
    }
}

#[cfg(test)]
mod cost {
    //! Instruction cost of each regex of a filter over a log, for callgrind:
    //! `BAILIFF_COST_LOG=... BAILIFF_COST_FILTER=sshd[mode=aggressive] valgrind
    //! --tool=callgrind --toggle-collect='*prune::cost::x*' <test binary> --ignored
    //! --exact prune::cost::regex_cost --test-threads=1`, then `callgrind_annotate
    //! --inclusive=yes` lists `xNN` per regex (0 = prefregex, N = failregex N-1).
    use crate::regex::Compiled;
    use crate::{Filter, FilterConfig, UseDns, Zone};

    macro_rules! calls {
        ($($n:ident),*) => {
            $(
                #[inline(never)]
                fn $n(c: &mut Compiled, buf: &str, ascii: Option<bool>) -> bool {
                    // A distinct body per function, so that none are merged.
                    std::hint::black_box(stringify!($n));
                    matches!(c.search_ascii(buf, ascii), Ok(Some(_)))
                }
            )*
            const CALLS: &[fn(&mut Compiled, &str, Option<bool>) -> bool] = &[$($n),*];
        };
    }
    macro_rules! jcalls {
        ($($n:ident),*) => {
            $(
                #[inline(never)]
                fn $n(re: &mut crate::jit::JitRegex, buf: &[u8]) -> bool {
                    std::hint::black_box(stringify!($n));
                    matches!(re.search(buf), Ok(Some(_)))
                }
            )*
            pub(super) const JCALLS: &[fn(&mut crate::jit::JitRegex, &[u8]) -> bool] = &[$($n),*];
        };
    }
    calls!(
        x00, x01, x02, x03, x04, x05, x06, x07, x08, x09, x10, x11, x12, x13, x14, x15, x16, x17,
        x18, x19, x20, x21, x22, x23, x24, x25, x26, x27, x28, x29, x30, x31, x32, x33, x34, x35,
        x36, x37, x38, x39
    );
    mod j {
        jcalls!(
            x00, x01, x02, x03, x04, x05, x06, x07, x08, x09, x10, x11, x12, x13, x14, x15, x16,
            x17, x18, x19, x20, x21, x22, x23, x24, x25, x26, x27, x28, x29, x30, x31, x32, x33,
            x34, x35, x36, x37, x38, x39
        );
    }
    use j::JCALLS;

    /// Patterns (one per line of the file `$BAILIFF_COST_PATS`) each searched
    /// 10,000 times over the buffer `$BAILIFF_COST_BUF` (a trailing newline added),
    /// through their own `xNN` (byte mode JIT, as the ASCII twin).
    #[test]
    #[ignore]
    fn pattern_cost() {
        let (Ok(pats), Ok(buf)) = (
            std::env::var("BAILIFF_COST_PATS"),
            std::env::var("BAILIFF_COST_BUF"),
        ) else {
            eprintln!("SKIPPED: set BAILIFF_COST_PATS and BAILIFF_COST_BUF");
            return;
        };
        let buf = format!("{buf}\n");
        let pats = std::fs::read_to_string(pats).unwrap();
        for (i, p) in pats.lines().enumerate() {
            let mut re = crate::jit::JitRegex::new(p, false).expect(p);
            let mut n = 0;
            for _ in 0..10_000 {
                n += usize::from(JCALLS[i](&mut re, buf.as_bytes()));
            }
            eprintln!("x{i:02}: {n} matches, {:?}", re.get(0));
        }
    }

    #[test]
    #[ignore]
    fn regex_cost() {
        let (Ok(log), Ok(spec)) = (
            std::env::var("BAILIFF_COST_LOG"),
            std::env::var("BAILIFF_COST_FILTER"),
        ) else {
            eprintln!("SKIPPED: set BAILIFF_COST_LOG and BAILIFF_COST_FILTER");
            return;
        };
        let (name, args) = match spec.split_once('[') {
            Some((n, a)) => {
                let a = a.trim_end_matches(']');
                let args: Vec<(String, String)> = a
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                (n.to_string(), args)
            }
            None => (spec.clone(), Vec::new()),
        };
        let confdir = std::path::Path::new("/etc/fail2ban");
        let def = bailiff_config::read_filter(confdir, &name, &args).unwrap();
        let cfg = FilterConfig {
            prefregex: def.prefregex.clone(),
            failregex: def.failregex.clone(),
            ignoreregex: def.ignoreregex.clone(),
            maxlines: 1,
            datepattern: def.datepattern.clone(),
            usedns: UseDns::Warn,
            ..FilterConfig::default()
        };
        let now = 1_800_000_000.0;
        let mut f = Filter::new(&cfg, Zone::utc(), now).unwrap();
        if std::env::var("BAILIFF_COST_NOPRUNE").is_ok() {
            f.fail
                .iter_mut()
                .chain(f.pref.as_mut())
                .for_each(|c| c.prune = None);
        }
        let text = std::fs::read_to_string(&log).unwrap();
        let mut buf = String::new();
        let mut content = String::new();
        let (mut lines, mut hits) = (0usize, vec![0usize; 40]);
        for line in text.lines() {
            lines += 1;
            let res = f.process_line(line, now);
            let cut = res.date.as_ref().map_or((0, 0), |d| (d.start, d.end));
            if let Some(l) = &f.lits {
                if !l.may_match(line, cut) {
                    continue;
                }
            }
            buf.clear();
            buf.push_str(&line[..cut.0]);
            buf.push_str(&line[cut.1..]);
            buf.push('\n');
            let ascii = buf.is_ascii().then_some(true);
            let mut cbuf: &str = &buf;
            if let Some(p) = f.pref.as_mut() {
                if !CALLS[0](p, &buf, ascii) {
                    continue;
                }
                hits[0] += 1;
                if let Some((s, e)) = p.group_span("content").filter(|(s, e)| e > s) {
                    content.clear();
                    content.push_str(&buf[s..e]);
                    content.push('\n');
                    cbuf = &content;
                }
            }
            for (i, c) in f.fail.iter_mut().enumerate() {
                if CALLS[i + 1](c, cbuf, ascii) {
                    hits[i + 1] += 1;
                    break;
                }
            }
        }
        eprintln!("{lines} lines; hits per regex (0 = prefregex): {hits:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stock sshd's "Failed ..." failregex after tag expansion and translation.
    pub(crate) fn sshd_failed() -> String {
        let re = r"^Failed (?:<F-NOFAIL>publickey</F-NOFAIL>|\S+) for (?P<cond_inv>invalid user )?<F-USER>(?P<cond_user>\S+)|(?(cond_inv)(?:(?! from ).)*?|[^:]+)</F-USER> from <HOST>(?: (?:port \d+|on \S+)){0,2}(?: ssh\d*)?(?(cond_user): |(?:(?:(?! from ).)*)$)";
        format!(
            "(*LIMIT_MATCH=2000000){}",
            crate::translate::python_to_pcre2(&crate::tags::expand(re, true))
        )
    }

    /// Where lookaheads go: after a repeat that ends its groups, when a literal
    /// follows them; not after a group that repeats, inside a lookaround, at the top
    /// level or before a non-literal.
    #[test]
    fn guards_repeats_before_literals() {
        let g = sshd_failed();
        let guarded = guard_repeats(&g).expect("sshd's Failed regex is guarded");
        assert!(
            guarded.contains(r"(?:(?! from ).)*?(?= from )|[^:]+(?= from ))) from "),
            "{guarded}"
        );
        assert_eq!(
            guard_repeats(r"^(?P<u>a|\S+) x\.").as_deref(),
            Some(r"^(?P<u>a|\S+(?= x\.)) x\.")
        );
        assert_eq!(
            guard_repeats(r"^(?:(?P<u>\S*?)):(?:y)").as_deref(),
            Some(r"^(?:(?P<u>\S*?(?=:))):(?:y)")
        );
        for p in [
            r"^a+ from",           // no group to leave: PCRE2 does well alone
            r"^(?:a[^:]+)+ from",  // the group repeats
            r"^(?:a[^:]+)? from",  // the group may be skipped
            r"^(?=a[^:]+) from",   // a lookahead
            r"^(?:a[^:]+)\s from", // no literal next
            r"^(?:a[^:]+)$",
            r"^(?:a[^:]b) from", // no repeat at the end
            r"(?i)^(?:a[^:]+) from",
        ] {
            assert_eq!(guard_repeats(p), None, "{p}");
        }
    }

    /// Every stock filter's regexes (and sshd's modes) guarded against the plain
    /// pattern: the same match and groups, byte mode and UTF mode, on the filter's
    /// sample log and the hostile corpus (whole lines and after the first `: `).
    #[test]
    fn guarded_patterns_agree_with_plain_pcre2() {
        let Some((confdir, logs)) = crate::stock::reference() else {
            return;
        };
        let corpus = crate::stock::hostile_corpus();
        let (mut guarded, mut searches, mut matches) = (0usize, 0usize, 0usize);
        for (name, def) in crate::stock::definitions(confdir) {
            let subjects = crate::stock::subjects(logs, &name, &corpus);
            let regexes = crate::stock::regexes(&def);
            for r in regexes {
                let pattern = format!(
                    "(*LIMIT_MATCH=2000000){}",
                    crate::translate::python_to_pcre2(&crate::tags::expand(r, true))
                );
                let Some(fast) = guard_repeats(&pattern) else {
                    continue;
                };
                guarded += 1;
                for utf in [false, true] {
                    let build = |p: &str| {
                        pcre2::bytes::RegexBuilder::new()
                            .utf(utf)
                            .ucp(utf)
                            .jit_if_available(true)
                            .build(p)
                            .unwrap()
                    };
                    let (plain, fast) = (build(&pattern), build(&fast));
                    let (mut lp, mut lf) = (plain.capture_locations(), fast.capture_locations());
                    for subj in subjects.iter().filter(|s| utf || s.is_ascii()) {
                        searches += 1;
                        let want = plain
                            .captures_read(&mut lp, subj.as_bytes())
                            .map(|m| m.map(|m| (m.start(), m.end())));
                        let got = fast
                            .captures_read(&mut lf, subj.as_bytes())
                            .map(|m| m.map(|m| (m.start(), m.end())));
                        match (&want, &got) {
                            (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}: {r} on {subj:?}"),
                            // The match limit: the guarded pattern takes fewer steps.
                            (Err(_), _) => continue,
                            (Ok(_), Err(e)) => panic!("{name}: {r} on {subj:?}: {e}"),
                        }
                        if matches!(want, Ok(Some(_))) {
                            matches += 1;
                            for i in 0..lp.len() {
                                assert_eq!(
                                    lf.get(i),
                                    lp.get(i),
                                    "{name}: {r} on {subj:?}, group {i}"
                                );
                            }
                        }
                    }
                }
            }
        }
        eprintln!("{guarded} guarded regexes, {searches} searches, {matches} matches");
        assert!(guarded > 20 && searches > 10_000 && matches > 1_000);
    }

    #[test]
    fn sshd_failed_prunes_cond_user_and_ip6() {
        let pat = sshd_failed();
        let cut = |plan: &Plan, with: &str| {
            let c = plan.cuts.iter().find(|c| c.with == with);
            c.map(|c| plan.keys[c.key].clone())
        };
        let plan = Plan::of(&pat).expect("a plan for sshd's Failed regex");
        // `cond_user` makes the final conditional take `: `.
        assert_eq!(
            cut(&plan, "(*FAIL)(?P<cond_user>)"),
            Some(vec![": ".to_string()])
        );
        // Every IPv6 reading of `<HOST>` holds a `:`; PCRE2 leaves that branch about
        // as fast as a scan would find out, so it is only cut when asked for all.
        assert_eq!(cut(&plan, "(*FAIL)(?P<ip6>)"), None);
        let host = crate::translate::python_to_pcre2(&crate::tags::expand("from <HOST>$", true));
        let every = Plan::every(&host).unwrap();
        assert_eq!(cut(&every, "(*FAIL)(?P<ip6>)"), Some(vec![":".to_string()]));
        // The variant without `: ` keeps the other alternative of `user`.
        let k = plan.keys.iter().position(|s| s == &[": "]).unwrap();
        let v = plan.variant(1 << k);
        assert!(
            v.contains(r"(?P<user>(*FAIL)(?P<cond_user>)|(?(cond_inv)"),
            "{v}"
        );
    }
}
#[cfg(test)]
mod dump {
    #[test]
    #[ignore]
    fn dump_plans() {
        let spec = std::env::var("BAILIFF_COST_FILTER").unwrap_or("sshd".into());
        let (name, args) = match spec.split_once('[') {
            Some((n, a)) => (
                n.to_string(),
                a.trim_end_matches(']')
                    .split(',')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            None => (spec.clone(), Vec::new()),
        };
        let def = bailiff_config::read_filter(std::path::Path::new("/etc/fail2ban"), &name, &args)
            .unwrap();
        for (i, r) in def.prefregex.iter().chain(&def.failregex).enumerate() {
            let c = crate::regex::Compiled::new(r, true, false).unwrap();
            let pat = format!(
                "(*LIMIT_MATCH=1){}",
                crate::translate::python_to_pcre2(c.expanded())
            );
            match super::Plan::of(&pat) {
                Some(p) => {
                    eprintln!("x{i:02}: keys {:?}", p.keys);
                    for c in &p.cuts {
                        eprintln!("    key {} {:?} -> {}", c.key, &pat[c.start..c.end], c.with);
                    }
                }
                None => eprintln!("x{i:02}: none"),
            }
        }
    }
}
