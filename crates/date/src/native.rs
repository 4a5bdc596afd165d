//! A small backtracking matcher for template regexes, used on ASCII lines instead
//! of PCRE2 when the regex only uses the constructs below.
//!
//! The date templates are short sequences of digit fields with a few alternations
//! and optional parts; running them through PCRE2 costs more in call overhead
//! than in matching. This matcher parses the template's (PCRE2-syntax) regex once
//! and matches it the way a backtracking engine does: alternatives left to right,
//! greedy quantifiers longest first, captures restored on backtracking. Because
//! PCRE2 returns the first successful path in that same order, the match span and
//! every group span are the same as PCRE2's (`tests/native.rs` checks this on
//! millions of generated strings).
//!
//! Supported: literals, `.`, classes (`[...]`, `\d \D \s \S \w \W`), `^ $ \b \B \z`,
//! groups (`(...)`, `(?:...)`, `(?P<n>...)`, `(?<n>...)`), alternation, greedy
//! `? * + {n} {n,} {n,m}`, back-references `(?P=n)`, lookaheads made of
//! zero-width or one-character alternatives (`(?=^|\b|\W)`), and a leading `(?i)`.
//! Anything else (lookbehind, conditionals, lazy or possessive quantifiers, other
//! flags, non-ASCII) makes [`Program::compile`] return `None` and PCRE2 is used.
//!
//! Semantics are PCRE2's without UTF/UCP (what PCRE2 does on ASCII text), so the
//! caller must only use it on ASCII subjects.

/// A set of bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Set([u64; 4]);

impl Set {
    const EMPTY: Set = Set([0; 4]);
    const ALL: Set = Set([!0; 4]);

    fn byte(b: u8) -> Set {
        let mut s = Set::EMPTY;
        s.add(b);
        s
    }
    fn add(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1 << (b & 63);
    }
    fn range(&mut self, a: u8, b: u8) {
        for c in a..=b {
            self.add(c);
        }
    }
    fn pred(f: impl Fn(u8) -> bool) -> Set {
        let mut s = Set::EMPTY;
        for c in 0..=255u8 {
            if f(c) {
                s.add(c);
            }
        }
        s
    }
    #[inline(always)]
    fn has(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] >> (b & 63) & 1 != 0
    }
    fn union(&mut self, o: &Set) {
        for i in 0..4 {
            self.0[i] |= o.0[i];
        }
    }
    fn negate(&self) -> Set {
        Set([!self.0[0], !self.0[1], !self.0[2], !self.0[3]])
    }
    /// Add the other case of every ASCII letter in the set.
    fn fold(&self) -> Set {
        let mut s = *self;
        for c in b'a'..=b'z' {
            let u = c.to_ascii_uppercase();
            if self.has(c) || self.has(u) {
                s.add(c);
                s.add(u);
            }
        }
        s
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_space(b: u8) -> bool {
    // PCRE2's \s: HT, LF, VT, FF, CR, space
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

/// A zero-width test at a position.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Test {
    /// `^` (no multiline): subject start.
    Begin,
    /// `$`: end, or before a final newline.
    End,
    /// `\z`.
    EndOnly,
    WordBoundary,
    NotWordBoundary,
    /// A one-character lookahead alternative: the next byte is in the set.
    Next(Set),
}

impl Test {
    #[inline]
    fn holds(&self, s: &[u8], pos: usize) -> bool {
        match self {
            Test::Begin => pos == 0,
            Test::End => pos == s.len() || (pos + 1 == s.len() && s[pos] == b'\n'),
            Test::EndOnly => pos == s.len(),
            Test::WordBoundary | Test::NotWordBoundary => {
                let before = pos > 0 && is_word(s[pos - 1]);
                let after = pos < s.len() && is_word(s[pos]);
                (before != after) == (*self == Test::WordBoundary)
            }
            Test::Next(set) => pos < s.len() && set.has(s[pos]),
        }
    }
}

/// Parsed regex.
#[derive(Clone, Debug)]
enum Ast {
    Set(Set),
    Seq(Vec<Ast>),
    Alt(Vec<Ast>),
    /// Capture group number (1-based) or None.
    Group(Option<usize>, Box<Ast>),
    Repeat(Box<Ast>, u32, Option<u32>),
    BackRef(usize),
    /// Any of the tests holds (a single test for `^`, `$`, `\b`...).
    Assert(Vec<Test>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    caseless: bool,
    groups: usize,
    names: Vec<(String, usize)>,
}

/// Most paths a capture-free piece may expand to.
const MAX_PATHS: usize = 48;
/// Longest path (tried lengths are kept in a 64-bit mask).
const MAX_PATH_LEN: usize = 60;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn starts(&self, p: &str) -> bool {
        self.s[self.i..].starts_with(p.as_bytes())
    }

    fn alt(&mut self) -> Option<Ast> {
        let mut alts = vec![self.seq()?];
        while self.eat(b'|') {
            alts.push(self.seq()?);
        }
        Some(if alts.len() == 1 {
            alts.pop()?
        } else {
            Ast::Alt(alts)
        })
    }

    fn seq(&mut self) -> Option<Ast> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let atom = self.atom()?;
            let atom = self.quantifier(atom)?;
            items.push(atom);
        }
        Some(Ast::Seq(items))
    }

    fn quantifier(&mut self, atom: Ast) -> Option<Ast> {
        let (min, max) = match self.peek() {
            Some(b'?') => (0, Some(1)),
            Some(b'*') => (0, None),
            Some(b'+') => (1, None),
            Some(b'{') => {
                let save = self.i;
                self.i += 1;
                let num = |p: &mut Self| -> Option<u32> {
                    let st = p.i;
                    while p.peek().is_some_and(|c| c.is_ascii_digit()) {
                        p.i += 1;
                    }
                    std::str::from_utf8(&p.s[st..p.i]).ok()?.parse().ok()
                };
                let Some(min) = num(self) else {
                    // not a quantifier: a literal `{` (PCRE2 reads it so); keep it simple
                    self.i = save;
                    return None;
                };
                let max = if self.eat(b',') {
                    if self.peek() == Some(b'}') {
                        None
                    } else {
                        Some(num(self)?)
                    }
                } else {
                    Some(min)
                };
                if self.peek() != Some(b'}') {
                    return None;
                }
                if max.is_some_and(|m| m < min) || min > 64 || max.is_some_and(|m| m > 64) {
                    return None;
                }
                (min, max)
            }
            _ => return Some(atom),
        };
        self.i += 1;
        // lazy or possessive: not supported
        if matches!(self.peek(), Some(b'?') | Some(b'+')) {
            return None;
        }
        if matches!(atom, Ast::Assert(_)) {
            return None;
        }
        Some(Ast::Repeat(Box::new(atom), min, max))
    }

    fn name(&mut self, end: u8) -> Option<String> {
        let st = self.i;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            self.i += 1;
        }
        let n = std::str::from_utf8(&self.s[st..self.i]).ok()?.to_string();
        (self.eat(end) && !n.is_empty()).then_some(n)
    }

    fn group_body(&mut self, cap: Option<usize>) -> Option<Ast> {
        let body = self.alt()?;
        self.eat(b')').then(|| Ast::Group(cap, Box::new(body)))
    }

    fn atom(&mut self) -> Option<Ast> {
        let c = self.peek()?;
        if !c.is_ascii() {
            return None;
        }
        self.i += 1;
        let lit = |p: &Self, b: u8| {
            let s = Set::byte(b);
            Some(Ast::Set(if p.caseless { s.fold() } else { s }))
        };
        match c {
            b'(' => {
                if self.eat(b'?') {
                    if self.eat(b':') {
                        return self.group_body(None);
                    }
                    if self.starts("P<")
                        || (self.starts("<") && !self.starts("<=") && !self.starts("<!"))
                    {
                        self.i += if self.starts("P<") { 2 } else { 1 };
                        let n = self.name(b'>')?;
                        self.groups += 1;
                        let g = self.groups;
                        self.names.push((n, g));
                        return self.group_body(Some(g));
                    }
                    if self.starts("P=") {
                        self.i += 2;
                        let n = self.name(b')')?;
                        let g = self.names.iter().find(|(m, _)| *m == n)?.1;
                        return Some(Ast::BackRef(g));
                    }
                    if self.eat(b'=') {
                        return self.lookahead();
                    }
                    return None;
                }
                self.groups += 1;
                let g = self.groups;
                self.group_body(Some(g))
            }
            b'[' => self.class().map(Ast::Set),
            b'.' => Some(Ast::Set(Set::byte(b'\n').negate())),
            b'^' => Some(Ast::Assert(vec![Test::Begin])),
            b'$' => Some(Ast::Assert(vec![Test::End])),
            b'\\' => {
                let e = self.peek()?;
                self.i += 1;
                match e {
                    b'b' => Some(Ast::Assert(vec![Test::WordBoundary])),
                    b'B' => Some(Ast::Assert(vec![Test::NotWordBoundary])),
                    b'z' => Some(Ast::Assert(vec![Test::EndOnly])),
                    _ => {
                        if let Some(s) = escape_class(e) {
                            Some(Ast::Set(s))
                        } else if e.is_ascii_punctuation() || e == b' ' {
                            lit(self, e)
                        } else {
                            None
                        }
                    }
                }
            }
            b')' | b'|' | b'?' | b'*' | b'+' | b'{' => None,
            _ => lit(self, c),
        }
    }

    /// `(?=` already read: alternatives that are each one test or one character.
    fn lookahead(&mut self) -> Option<Ast> {
        let body = self.alt()?;
        if !self.eat(b')') {
            return None;
        }
        let alts = match body {
            Ast::Alt(a) => a,
            other => vec![other],
        };
        let mut tests = Vec::new();
        for a in alts {
            let a = match a {
                Ast::Seq(mut v) if v.len() == 1 => v.pop()?,
                other => other,
            };
            match a {
                Ast::Assert(t) => tests.extend(t),
                Ast::Set(s) => tests.push(Test::Next(s)),
                _ => return None,
            }
        }
        Some(Ast::Assert(tests))
    }

    /// After `[`.
    fn class(&mut self) -> Option<Set> {
        let neg = self.eat(b'^');
        let mut set = Set::EMPTY;
        let mut first = true;
        loop {
            let c = self.peek()?;
            if !c.is_ascii() {
                return None;
            }
            if c == b']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            if c == b'[' && self.s.get(self.i + 1) == Some(&b':') {
                return None;
            }
            let lo = self.class_atom()?;
            let lo = match lo {
                Err(s) => {
                    set.union(&s);
                    continue;
                }
                Ok(b) => b,
            };
            if self.peek() == Some(b'-') && self.s.get(self.i + 1).is_some_and(|&n| n != b']') {
                self.i += 1;
                match self.class_atom()? {
                    Ok(hi) if hi >= lo => set.range(lo, hi),
                    _ => return None,
                }
            } else {
                set.add(lo);
            }
        }
        // PCRE2 folds the listed characters, then negates
        let set = if self.caseless { set.fold() } else { set };
        Some(if neg { set.negate() } else { set })
    }

    /// One class member: a byte (Ok) or an escape class (Err).
    fn class_atom(&mut self) -> Option<Result<u8, Set>> {
        let c = self.peek()?;
        self.i += 1;
        if c != b'\\' {
            return c.is_ascii().then_some(Ok(c));
        }
        let e = self.peek()?;
        self.i += 1;
        if let Some(s) = escape_class(e) {
            return Some(Err(s));
        }
        (e.is_ascii_punctuation() || e == b' ').then_some(Ok(e))
    }
}

fn escape_class(e: u8) -> Option<Set> {
    Some(match e {
        b'd' => Set::pred(|b| b.is_ascii_digit()),
        b'D' => Set::pred(|b| !b.is_ascii_digit()),
        b's' => Set::pred(is_space),
        b'S' => Set::pred(|b| !is_space(b)),
        b'w' => Set::pred(is_word),
        b'W' => Set::pred(|b| !is_word(b)),
        _ => return None,
    })
}

fn has_captures(a: &Ast) -> bool {
    match a {
        Ast::Set(_) | Ast::Assert(_) => false,
        Ast::BackRef(_) => true,
        Ast::Seq(v) | Ast::Alt(v) => v.iter().any(has_captures),
        Ast::Group(g, b) => g.is_some() || has_captures(b),
        Ast::Repeat(b, _, _) => has_captures(b),
    }
}

/// The ways a capture-free, assertion-free piece matches, in priority order.
fn paths(a: &Ast) -> Option<Vec<Vec<Set>>> {
    let out = match a {
        Ast::Set(s) => vec![vec![*s]],
        Ast::Seq(v) => {
            let mut acc = vec![Vec::new()];
            for x in v {
                let px = paths(x)?;
                let mut next = Vec::new();
                for p in &acc {
                    for q in &px {
                        let mut r = p.clone();
                        r.extend_from_slice(q);
                        next.push(r);
                    }
                }
                if next.len() > MAX_PATHS {
                    return None;
                }
                acc = next;
            }
            acc
        }
        Ast::Alt(v) => {
            let mut out = Vec::new();
            for x in v {
                out.extend(paths(x)?);
            }
            out
        }
        Ast::Group(None, b) => paths(b)?,
        Ast::Repeat(b, min, Some(max)) => {
            let pb = paths(b)?;
            // x{min,max} greedy: min copies, then (x (x (...)?)?)? nested
            let mut tail: Vec<Vec<Set>> = vec![Vec::new()];
            for _ in *min..*max {
                let mut next = Vec::new();
                for q in &pb {
                    for t in &tail {
                        let mut r = q.clone();
                        r.extend_from_slice(t);
                        next.push(r);
                    }
                }
                next.push(Vec::new());
                if next.len() > MAX_PATHS {
                    return None;
                }
                tail = next;
            }
            let mut acc = vec![Vec::new()];
            for _ in 0..*min {
                let mut next = Vec::new();
                for p in &acc {
                    for q in &pb {
                        let mut r = p.clone();
                        r.extend_from_slice(q);
                        next.push(r);
                    }
                }
                if next.len() > MAX_PATHS {
                    return None;
                }
                acc = next;
            }
            let mut out = Vec::new();
            for p in &acc {
                for t in &tail {
                    let mut r = p.clone();
                    r.extend_from_slice(t);
                    out.push(r);
                }
            }
            out
        }
        _ => return None,
    };
    if out.len() > MAX_PATHS || out.iter().any(|p| p.len() > MAX_PATH_LEN) {
        return None;
    }
    Some(out)
}

/// One step of a flattened template regex.
#[derive(Debug)]
enum Step {
    /// A capture-free piece with finitely many ways to match, each a sequence of
    /// sets, in the order a backtracking engine tries them; optionally the span
    /// is a capture group.
    Paths(Option<usize>, Vec<Vec<Set>>),
    /// `set{min,}` greedy, optionally a capture group.
    Star(Option<usize>, Set, usize),
    Open(usize),
    Close(usize),
    /// Greedy `(...)?`: enter, else go to the step given.
    Opt(usize),
    /// Alternation: branch starts, in order.
    Split(Vec<usize>),
    Jump(usize),
    BackRef(usize),
    /// Any of the tests holds.
    Assert(Vec<Test>),
}

/// Span of a capture-free piece: a single step.
fn leaf(a: &Ast, cap: Option<usize>) -> Option<Step> {
    if has_captures(a) || matches!(a, Ast::Assert(_)) {
        return None;
    }
    if let Some(p) = paths(a) {
        return Some(Step::Paths(cap, p));
    }
    let (body, min) = match a {
        Ast::Repeat(b, min, None) => (b, *min),
        Ast::Group(None, g) => return leaf(g, cap),
        _ => return None,
    };
    let ps = paths(body)?;
    (ps.len() == 1 && ps[0].len() == 1).then(|| Step::Star(cap, ps[0][0], min as usize))
}

fn flatten(a: &Ast, steps: &mut Vec<Step>) -> Option<()> {
    if let Some(st) = leaf(a, None) {
        steps.push(st);
        return Some(());
    }
    match a {
        Ast::Set(s) => steps.push(Step::Paths(None, vec![vec![*s]])),
        Ast::Seq(v) => {
            for x in v {
                flatten(x, steps)?;
            }
        }
        Ast::Group(None, b) => flatten(b, steps)?,
        Ast::Group(Some(g), b) => match leaf(b, Some(*g)) {
            Some(st) => steps.push(st),
            None => {
                steps.push(Step::Open(*g));
                flatten(b, steps)?;
                steps.push(Step::Close(*g));
            }
        },
        Ast::Alt(v) => {
            let split = steps.len();
            steps.push(Step::Split(Vec::new()));
            let mut starts = Vec::new();
            let mut jumps = Vec::new();
            for x in v {
                starts.push(steps.len());
                flatten(x, steps)?;
                jumps.push(steps.len());
                steps.push(Step::Jump(0));
            }
            let end = steps.len();
            for j in jumps {
                steps[j] = Step::Jump(end);
            }
            steps[split] = Step::Split(starts);
        }
        // a repeat with groups inside: only `?` (no other template needs more)
        Ast::Repeat(b, 0, Some(1)) => {
            let at = steps.len();
            steps.push(Step::Opt(0));
            flatten(b, steps)?;
            steps[at] = Step::Opt(steps.len());
        }
        Ast::Repeat(..) => return None,
        Ast::BackRef(g) => steps.push(Step::BackRef(*g)),
        Ast::Assert(t) => steps.push(Step::Assert(t.clone())),
    }
    Some(())
}

/// First bytes a match can start with, and whether it can start without one.
fn first_set(steps: &[Step], i: usize, depth: usize) -> (Set, bool) {
    if depth > 64 {
        return (Set::ALL, true);
    }
    let Some(st) = steps.get(i) else {
        return (Set::EMPTY, true);
    };
    let rest = |s: Set| {
        let (f, n) = first_set(steps, i + 1, depth + 1);
        let mut s = s;
        s.union(&f);
        (s, n)
    };
    match st {
        Step::Paths(_, ps) => {
            let mut s = Set::EMPTY;
            let mut null = false;
            for p in ps {
                match p.first() {
                    Some(f) => s.union(f),
                    None => null = true,
                }
            }
            if null {
                rest(s)
            } else {
                (s, false)
            }
        }
        Step::Star(_, set, min) => {
            if *min == 0 {
                rest(*set)
            } else {
                (*set, false)
            }
        }
        Step::Open(_) | Step::Close(_) | Step::Assert(_) => rest(Set::EMPTY),
        Step::Opt(skip) => {
            let (a, na) = first_set(steps, i + 1, depth + 1);
            let (b, nb) = first_set(steps, *skip, depth + 1);
            let mut s = a;
            s.union(&b);
            (s, na || nb)
        }
        Step::Split(starts) => {
            let mut s = Set::EMPTY;
            let mut null = false;
            for &t in starts {
                let (f, n) = first_set(steps, t, depth + 1);
                s.union(&f);
                null |= n;
            }
            (s, null)
        }
        Step::Jump(t) => first_set(steps, *t, depth + 1),
        Step::BackRef(_) => (Set::ALL, true),
    }
}

/// A step as it runs: sets are bit numbers in [`Program::bits`], paths are runs
/// of set numbers in [`Program::arena`].
#[derive(Debug)]
enum Run {
    /// Capture group, paths (start, length in the arena), whether two paths
    /// have the same length (then a length already tried is skipped).
    Paths(Option<usize>, Box<[(u32, u32)]>, bool),
    Star(Option<usize>, u32, usize),
    Open(usize),
    Close(usize),
    Opt(usize),
    Split(Box<[usize]>),
    Jump(usize),
    BackRef(usize),
    Assert(Box<[Test]>),
}

/// A compiled template regex.
#[derive(Debug)]
pub(crate) struct Program {
    /// Tells programs apart for [`Memo`].
    id: u64,
    steps: Vec<Run>,
    /// For each byte, the sets (by number) it belongs to, and its value in the
    /// top 8 bits.
    bits: Box<[u64; 256]>,
    /// The paths of all `Paths` steps, as set numbers.
    arena: Vec<u8>,
    caseless: bool,
    /// Number of capture groups (without group 0).
    groups: usize,
    /// Starts with `^`: only position 0 can match.
    anchored: bool,
    /// Starts with `^[set]*` (no group) followed by a step that needs a first
    /// byte outside the set: the set's number and the first sets' bits of that
    /// step (see [`Memo`]).
    lead: Option<(u32, u64)>,
    /// The one byte outside the leading run's set, when there is just one
    /// (`[^\[]*`): the run ends at its first occurrence.
    lead_stop: Option<u8>,
    /// Bytes a match can start with (None: any position).
    first: Option<Set>,
}

/// Group spans of a match (index 0 = the whole match).
pub(crate) type Caps = Vec<Option<(usize, usize)>>;

/// Working memory of [`Program::search`], kept between calls.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    caps: Caps,
    open: Vec<usize>,
    /// Choices to come back to: step, position, next choice, lengths a `Paths`
    /// step already tried, undo log length.
    back: Vec<(usize, usize, usize, u64, usize)>,
    /// Group values to restore on backtracking.
    undo: Vec<(usize, Option<(usize, usize)>)>,
    /// What the last search read, to answer the next one without running when
    /// it would read the same (see [`Memo`]); its groups are the answer.
    memo: Memo,
    /// The search before that one (one kind of line often alternates with
    /// another: access and error lines in one log).
    older: Memo,
    /// Searches answered by the memo (for tests).
    pub(crate) memo_hits: u64,
    /// Searches that ran (not answered by a memo).
    runs: u64,
    /// End of the leading run in the line the memo last answered (the memo's
    /// groups and result hold the positions of the line that ran, whose leading
    /// run ended at `memo.base`).
    at: usize,
}

/// The last search of a program and what its outcome depended on: the sets each
/// byte was tested against (a bit per set, [`EXACT`] when the byte itself was
/// compared), and the line length. The search is a deterministic function of
/// those test outcomes, so a line whose bytes give the same outcomes (and whose
/// length is the same, or long enough when no test reached the end) has the same
/// match and the same groups. Consecutive log lines mostly differ only in digits
/// that the same sets accept (seconds, fractions), and then nothing runs.
///
/// Programs that start with `^[set]*` followed by a byte outside the set (as
/// `^[^\[]*\[` does) are compared from the end of that run instead of from the
/// line start: the run's length varies from line to line (an address before
/// the date), what follows it does not.
#[derive(Debug, Default)]
struct Memo {
    valid: bool,
    /// [`Program::id`] of the program that ran.
    program: u64,
    from: usize,
    /// Where the compared bytes start: 0, or the end of the leading run.
    base: usize,
    /// Bytes `[0, horizon)` may have been read.
    horizon: usize,
    /// Some test depended on where the line ends: the length must be the same.
    len_dep: bool,
    /// Line length minus `base`.
    len: usize,
    /// Per position (absolute, while a search runs): the sets tested (bits),
    /// [`EXACT`] for byte compares.
    tested: Vec<u64>,
    /// From `base` on: (sets tested, the byte's sets).
    sig: Vec<(u64, u64)>,
    /// `sig` by words of 8 bytes, for the quick comparison.
    words: Vec<Word>,
    result: Option<(usize, usize)>,
    /// The groups of that search.
    caps: Caps,
    /// [`Scratch::runs`] when it ran: tells the searches apart.
    run: u64,
}

/// 8 compared bytes of the last search (little-endian), and for each the range
/// `lo..=hi` of ASCII bytes that test as it did (for a digit: the digits around
/// it that do; otherwise the byte alone), as the addends of a SWAR range
/// check: a byte `c < 0x80` is in range when `c + (0x80 - lo)` has its top bit
/// set and `c + (0x7f - hi)` has not.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Word {
    prev: u64,
    add_lo: u64,
    add_hi: u64,
    /// 0x80 in the bytes that take part (the last word may be partial).
    care: u64,
}

/// In [`Memo::tested`]: the byte itself was compared. [`Program::bits`] holds
/// each byte's value in these bits (sets use the 56 below).
const EXACT: u64 = 0xff << 56;

impl Word {
    /// From now on byte `j` of the word must be `b` exactly.
    pub(crate) fn pin(&mut self, j: usize, b: u8) {
        let sh = 8 * j;
        let keep = !(0xffu64 << sh);
        self.prev = self.prev & keep | u64::from(b) << sh;
        self.add_lo = self.add_lo & keep | u64::from(0x80 - b.min(0x80)) << sh;
        self.add_hi = self.add_hi & keep | u64::from(0x7f - b.min(0x7f)) << sh;
    }
}

/// A [`Word`] split for [`split_match`]: the bytes that must stay as they are
/// (0xff in `fixed`, their values in `prev`), and those that may take any
/// value of a range (0x80 in `free`, the range addends in `add_lo`/`add_hi`,
/// 0 elsewhere so that no carry crosses into another byte).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Split {
    prev: u64,
    fixed: u64,
    free: u64,
    add_lo: u64,
    add_hi: u64,
}

impl Word {
    pub(crate) fn split(&self) -> Split {
        let mut sp = Split::default();
        for j in 0..8 {
            let sh = 8 * j;
            if (self.care >> sh) & 0x80 == 0 {
                continue;
            }
            let byte = |x: u64| (x >> sh) & 0xff;
            // add_lo = 0x80 - lo, add_hi = 0x7f - hi: one value when they sum to 0xff
            if byte(self.add_lo) + byte(self.add_hi) == 0xff {
                sp.fixed |= 0xff << sh;
                sp.prev |= byte(self.prev) << sh;
            } else {
                sp.free |= 0x80 << sh;
                sp.add_lo |= byte(self.add_lo) << sh;
                sp.add_hi |= byte(self.add_hi) << sh;
            }
        }
        sp
    }
}

/// Whether `rest` (the bytes from the compared window's start) is within the
/// ranges of `words`: every byte the same as in the line they were taken from,
/// or an ASCII byte of the range that tests as it did. A cheaper and stricter
/// form of [`Memo::same`]'s comparison (no exact look at a byte out of range);
/// `rest` may end inside the last word, after the bytes that take part.
#[inline]
pub(crate) fn split_match(words: &[Split], rest: &[u8]) -> bool {
    let ok = |new: u64, w: &Split| {
        let lo = new.wrapping_add(w.add_lo);
        let hi = new.wrapping_add(w.add_hi);
        ((new ^ w.prev) & w.fixed) | ((!lo | hi | new) & w.free) == 0
    };
    if rest.len() >= 8 * words.len() {
        rest.chunks_exact(8)
            .zip(words)
            .all(|(c, w)| ok(u64::from_le_bytes(c.try_into().unwrap_or([0; 8])), w))
    } else {
        words.iter().enumerate().all(|(k, w)| {
            let mut b = [0u8; 8];
            let tail = rest.get(8 * k..).unwrap_or(&[]);
            let n = tail.len().min(8);
            b[..n].copy_from_slice(&tail[..n]);
            // (the caller makes sure the bytes that take part are there)
            ok(u64::from_le_bytes(b), w)
        })
    }
}

impl Memo {
    #[inline]
    fn touch(&mut self, q: usize) {
        if q > self.horizon {
            self.horizon = q;
        }
    }
    #[inline]
    fn mark(&mut self, p: usize, bits: u64) {
        self.tested[p] |= bits;
    }
    /// A test read past the end (its outcome depends on the length).
    #[inline]
    fn end(&mut self, len: usize) {
        self.len_dep = true;
        self.touch(len);
    }
    /// Does the last search apply to this one? The base to compare from.
    #[inline]
    fn same(&self, p: &Program, s: &[u8], from: usize) -> Option<usize> {
        if !self.valid || self.from != from || self.program != p.id {
            return None;
        }
        let base = match p.lead {
            Some(_) if self.base > 0 => p.lead_end(s),
            _ => 0,
        };
        let rest = &s[base..];
        if self.len_dep {
            if rest.len() != self.len {
                return None;
            }
        } else if rest.len() < self.sig.len() {
            return None;
        }
        // word by word: equal words, or words whose changed bytes are digits
        // within the ranges that test the same, need no look at the tests
        const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        if rest.len() < 8 * self.words.len() {
            // the last word runs past the line's end: byte by byte
            return (self.differ(p, rest, 0) == 0).then_some(base);
        }
        for (k, (c, w)) in rest.chunks_exact(8).zip(&self.words).enumerate() {
            let new = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            let x = new ^ w.prev;
            // 0x80 in each byte that differs
            let changed = (((x & LOW).wrapping_add(LOW)) | x) & w.care;
            if changed == 0 {
                continue;
            }
            let in_range = new.wrapping_add(w.add_lo) & !new.wrapping_add(w.add_hi) & HIGH;
            if (changed & !in_range != 0 || new & HIGH != 0) && self.differ(p, rest, k) != 0 {
                return None;
            }
        }
        Some(base)
    }
}

impl Memo {
    /// The exact comparison of the bytes of word `k` (of all words when the
    /// line ends inside the last one): nonzero when some byte tests otherwise
    /// than last time.
    #[cold]
    #[inline(never)]
    fn differ(&self, p: &Program, rest: &[u8], k: usize) -> u64 {
        let (from, to) = if rest.len() < 8 * self.words.len() {
            (0, self.sig.len())
        } else {
            (8 * k, (8 * k + 8).min(self.sig.len()))
        };
        rest[from..]
            .iter()
            .zip(&self.sig[from..to])
            .fold(0, |acc, (&b, &(t, sb))| {
                acc | ((p.bits[b as usize] ^ sb) & t)
            })
    }
}

/// What the last answer of a program depended on (see [`Memo`]), for a caller
/// that checks the next line itself: in the line last answered, the compared
/// bytes start at `at` (after the leading run when `lead`); `len` is the line's
/// length from there, which must stay the same when `len_dep`, and else be at
/// least `sig_len`; `words` hold the ranges.
pub(crate) struct Window<'a> {
    pub at: usize,
    pub lead: bool,
    pub len_dep: bool,
    pub len: usize,
    pub sig_len: usize,
    pub from: usize,
    pub words: &'a [Word],
}

impl Scratch {
    /// The window of the last answer (None: there is none).
    pub(crate) fn window(&self) -> Option<Window<'_>> {
        let m = &self.memo;
        m.valid.then_some(Window {
            at: self.at,
            lead: m.base > 0,
            len_dep: m.len_dep,
            len: m.len,
            sig_len: m.sig.len(),
            from: m.from,
            words: &m.words,
        })
    }

    /// Forget the last search (the next one runs).
    pub(crate) fn forget(&mut self) {
        self.memo.valid = false;
        self.older.valid = false;
    }

    /// Which search the groups come from: while it stays the same, they are
    /// those of the same search, all moved by the same amount.
    pub(crate) fn answer(&self) -> u64 {
        self.memo.run
    }

    /// Span of group `g` of the last successful search.
    #[inline]
    pub(crate) fn group(&self, g: usize) -> Option<(usize, usize)> {
        let (a, b) = self.memo.caps.get(g).copied().flatten()?;
        Some((self.shift(a), self.shift(b)))
    }

    /// A position of the last run moved to the line the memo answered: what
    /// follows the leading run moves with its end.
    #[inline]
    fn shift(&self, x: usize) -> usize {
        let base = self.memo.base;
        if x >= base {
            x + self.at - base
        } else {
            x
        }
    }
}

/// Runnable steps, the set bits of each byte, the paths' set numbers.
type Interned = (Vec<Run>, Box<[u64; 256]>, Vec<u8>);

/// Number the distinct sets (at most 56) and turn the steps into runnable ones.
fn intern(steps: Vec<Step>) -> Option<Interned> {
    let mut sets: Vec<Set> = Vec::new();
    let mut id = |s: &Set| -> Option<u8> {
        let i = match sets.iter().position(|x| x == s) {
            Some(i) => i,
            None => {
                sets.push(*s);
                sets.len() - 1
            }
        };
        (i < 56).then_some(i as u8)
    };
    let mut arena = Vec::new();
    let mut out = Vec::with_capacity(steps.len());
    for st in steps {
        out.push(match st {
            Step::Paths(cap, ps) => {
                let mut spans = Vec::with_capacity(ps.len());
                let mut lens = 0u64;
                let mut dup = false;
                for p in &ps {
                    let start = arena.len() as u32;
                    for set in p {
                        arena.push(id(set)?);
                    }
                    spans.push((start, p.len() as u32));
                    dup |= lens & (1 << p.len()) != 0;
                    lens |= 1 << p.len();
                }
                Run::Paths(cap, spans.into(), dup)
            }
            Step::Star(cap, set, min) => Run::Star(cap, u32::from(id(&set)?), min),
            Step::Open(g) => Run::Open(g),
            Step::Close(g) => Run::Close(g),
            Step::Opt(t) => Run::Opt(t),
            Step::Split(t) => Run::Split(t.into()),
            Step::Jump(t) => Run::Jump(t),
            Step::BackRef(g) => Run::BackRef(g),
            Step::Assert(t) => Run::Assert(t.into()),
        });
    }
    let mut bits = Box::new([0u64; 256]);
    for (b, x) in bits.iter_mut().enumerate() {
        *x = (b as u64) << 56;
    }
    for (i, set) in sets.iter().enumerate() {
        for b in 0..=255u8 {
            if set.has(b) {
                bits[b as usize] |= 1 << i;
            }
        }
    }
    Some((out, bits, arena))
}

impl Program {
    /// Parse a PCRE2-syntax regex; None when it uses anything not supported.
    pub(crate) fn compile(re: &str) -> Option<Program> {
        let mut s = re;
        let mut caseless = false;
        if let Some(r) = s.strip_prefix("(?i)") {
            caseless = true;
            s = r;
        }
        let mut p = Parser {
            s: s.as_bytes(),
            i: 0,
            caseless,
            groups: 0,
            names: Vec::new(),
        };
        let ast = p.alt()?;
        if p.i != p.s.len() {
            return None;
        }
        let anchored = match &ast {
            Ast::Seq(v) => matches!(v.first(), Some(Ast::Assert(t)) if t == &[Test::Begin]),
            _ => false,
        };
        let mut steps = Vec::new();
        flatten(&ast, &mut steps)?;
        let (f, null) = first_set(&steps, 0, 0);
        let (steps, bits, arena) = intern(steps)?;
        let lead = match (anchored, &steps[..]) {
            (true, [Run::Assert(_), Run::Star(None, k, 0), Run::Paths(_, ps, _), ..]) => {
                let mut follow = 0u64;
                let mut ok = true;
                for &(start, len) in ps.iter() {
                    if len == 0 {
                        ok = false;
                        break;
                    }
                    let f = arena[start as usize];
                    follow |= 1 << f;
                    // disjoint: no byte is in both the run's set and this first set
                    ok &= bits.iter().all(|&b| b >> k & 1 == 0 || b >> f & 1 == 0);
                }
                ok.then_some((*k, follow))
            }
            _ => None,
        };
        let lead_stop = lead.and_then(|(k, _)| {
            let mut outside = (0..=255u8).filter(|&b| bits[b as usize] >> k & 1 == 0);
            let stop = outside.next()?;
            outside.next().is_none().then_some(stop)
        });
        static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Some(Program {
            id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            steps,
            bits,
            arena,
            caseless,
            groups: p.groups,
            anchored,
            lead,
            lead_stop,
            first: (!null).then_some(f),
        })
    }

    /// End of the leading run (`^[set]*`) of a line.
    #[inline]
    pub(crate) fn lead_end(&self, s: &[u8]) -> usize {
        if let Some(stop) = self.lead_stop {
            return memchr::memchr(stop, s).unwrap_or(s.len());
        }
        let Some((k, _)) = self.lead else { return 0 };
        s.iter()
            .position(|&b| self.bits[b as usize] >> k & 1 == 0)
            .unwrap_or(s.len())
    }

    /// Number of capture groups.
    pub(crate) fn groups(&self) -> usize {
        self.groups
    }

    /// Search `s[from..]` (`s` ASCII) as PCRE2 would; on success `sc` holds
    /// the match (group 0) and the group spans.
    pub(crate) fn search(&self, s: &[u8], from: usize, sc: &mut Scratch) -> Option<(usize, usize)> {
        let mut hit = sc.memo.same(self, s, from);
        if hit.is_none() {
            // lines of two kinds taking turns: the search before may fit
            hit = sc.older.same(self, s, from);
            if hit.is_some() {
                std::mem::swap(&mut sc.memo, &mut sc.older);
            }
        }
        if let Some(base) = hit {
            sc.memo_hits += 1;
            // the same match, moved with the end of the leading run
            sc.at = base;
            return sc.memo.result.map(|(a, b)| (sc.shift(a), sc.shift(b)));
        }
        // the last search becomes the one before; this one is recorded in the
        // other's place
        std::mem::swap(&mut sc.memo, &mut sc.older);
        sc.runs += 1;
        if sc.caps.len() != self.groups + 1 {
            sc.caps.resize(self.groups + 1, None);
            sc.open.resize(self.groups + 1, 0);
        }
        let m = &mut sc.memo;
        let h = m.horizon.min(m.tested.len());
        m.tested[..h].fill(0);
        if m.tested.len() < s.len() + 2 {
            m.tested.resize(s.len() + 2, 0);
        }
        m.horizon = 0;
        m.len_dep = false;
        m.valid = false;
        let result = self.search_run(s, from, sc);
        let m = &mut sc.memo;
        let h = m.horizon.min(s.len());
        m.horizon = h;
        // compare from the end of the leading run when nothing before it was
        // tested but the run's set and the first sets of what follows it
        m.base = 0;
        if let Some((k, follow)) = self.lead {
            let e = self.lead_end(s);
            let allowed = (1u64 << k) | follow;
            if from == 0 && e <= h && e > 0 && m.tested[..e].iter().all(|&t| t & !allowed == 0) {
                m.base = e;
            }
        }
        m.sig.clear();
        m.words.clear();
        for (&t, &b) in m.tested[m.base..h].iter().zip(&s[m.base..h]) {
            m.sig.push((t, self.bits[b as usize]));
        }
        // the compared bytes by words, with the range of ASCII bytes around each
        // that tests as it does (a digit where a digit was: same outcome)
        let bytes = &s[m.base..h];
        for (k, sig) in m.sig.chunks(8).enumerate() {
            let mut w = Word::default();
            for (j, &(t, sb)) in sig.iter().enumerate() {
                let b = bytes[8 * k + j];
                let same = |c: u8| (self.bits[c as usize] ^ sb) & t == 0;
                // (only digits are looked at: they are what changes)
                let (mut lo, mut hi) = (b, b);
                if b.is_ascii_digit() {
                    while lo > b'0' && same(lo - 1) {
                        lo -= 1;
                    }
                    while hi < b'9' && same(hi + 1) {
                        hi += 1;
                    }
                }
                let sh = 8 * j;
                w.prev |= u64::from(b) << sh;
                w.add_lo |= u64::from(0x80 - lo.min(0x80)) << sh;
                w.add_hi |= u64::from(0x7f - hi.min(0x7f)) << sh;
                w.care |= 0x80 << sh;
            }
            m.words.push(w);
        }
        sc.at = m.base;
        m.from = from;
        m.program = self.id;
        m.len = s.len() - m.base;
        m.result = result;
        m.caps.clone_from(&sc.caps);
        m.run = sc.runs;
        m.valid = true;
        result
    }

    fn search_run(&self, s: &[u8], from: usize, sc: &mut Scratch) -> Option<(usize, usize)> {
        if self.anchored {
            // `^` first: only the line start can match
            if from != 0 {
                return None;
            }
            for c in sc.caps.iter_mut() {
                *c = None;
            }
            let end = self.run(s, 0, sc)?;
            sc.caps[0] = Some((0, end));
            return Some((0, end));
        }
        let last = s.len();
        let mut pos = from;
        while pos <= last {
            if let Some(f) = &self.first {
                while pos < s.len() && !f.has(s[pos]) {
                    sc.memo.mark(pos, EXACT);
                    pos += 1;
                }
                if pos >= s.len() {
                    sc.memo.end(s.len());
                    return None;
                }
                sc.memo.mark(pos, EXACT);
                sc.memo.touch(pos + 1);
            }
            for c in sc.caps.iter_mut() {
                *c = None;
            }
            if let Some(end) = self.run(s, pos, sc) {
                sc.caps[0] = Some((pos, end));
                return Some((pos, end));
            }
            pos += 1;
        }
        sc.memo.end(s.len());
        None
    }

    /// Match at `start`: the end of the first successful path.
    fn run(&self, s: &[u8], start: usize, sc: &mut Scratch) -> Option<usize> {
        sc.back.clear();
        sc.undo.clear();
        let steps = &self.steps[..];
        let (mut i, mut pos, mut choice, mut tried) = (0usize, start, 0usize, 0u64);
        loop {
            let Some(step) = steps.get(i) else {
                return Some(pos);
            };
            let ok = match step {
                Run::Paths(cap, ps, dup) => {
                    let mut c = choice;
                    let mut found = None;
                    while c < ps.len() {
                        let (start, len) = ps[c];
                        let len = len as usize;
                        let fits = if pos + len <= s.len() {
                            sc.memo.touch(pos + len);
                            let memo = &mut sc.memo;
                            self.arena[start as usize..start as usize + len]
                                .iter()
                                .zip(&s[pos..pos + len])
                                .enumerate()
                                .all(|(j, (&k, &b))| {
                                    memo.mark(pos + j, 1 << k);
                                    self.bits[b as usize] >> k & 1 != 0
                                })
                        } else {
                            sc.memo.end(s.len());
                            false
                        };
                        if fits {
                            if !*dup {
                                found = Some(len);
                                break;
                            }
                            let bit = 1u64 << len;
                            if tried & bit == 0 {
                                tried |= bit;
                                found = Some(len);
                                break;
                            }
                        }
                        c += 1;
                    }
                    match found {
                        Some(len) => {
                            if c + 1 < ps.len() {
                                sc.back.push((i, pos, c + 1, tried, sc.undo.len()));
                            }
                            if let Some(g) = cap {
                                sc.undo.push((*g, sc.caps[*g]));
                                sc.caps[*g] = Some((pos, pos + len));
                            }
                            pos += len;
                            i += 1;
                            true
                        }
                        None => false,
                    }
                }
                Run::Star(cap, k, min) => {
                    let n = if choice == 0 {
                        let mut n = 0;
                        loop {
                            if pos + n >= s.len() {
                                sc.memo.end(s.len());
                                break;
                            }
                            sc.memo.mark(pos + n, 1 << k);
                            if self.bits[s[pos + n] as usize] >> k & 1 == 0 {
                                sc.memo.touch(pos + n + 1);
                                break;
                            }
                            n += 1;
                        }
                        n
                    } else {
                        choice - 1
                    };
                    if n < *min {
                        false
                    } else {
                        if n > *min {
                            // next time: one less (choice = n - 1 + 1)
                            sc.back.push((i, pos, n, 0, sc.undo.len()));
                        }
                        if let Some(g) = cap {
                            sc.undo.push((*g, sc.caps[*g]));
                            sc.caps[*g] = Some((pos, pos + n));
                        }
                        pos += n;
                        i += 1;
                        true
                    }
                }
                Run::Open(g) => {
                    sc.open[*g] = pos;
                    i += 1;
                    true
                }
                Run::Close(g) => {
                    sc.undo.push((*g, sc.caps[*g]));
                    sc.caps[*g] = Some((sc.open[*g], pos));
                    i += 1;
                    true
                }
                Run::Opt(skip) => {
                    if choice == 0 {
                        sc.back.push((i, pos, 1, 0, sc.undo.len()));
                        i += 1;
                    } else {
                        i = *skip;
                    }
                    true
                }
                Run::Split(starts) => {
                    if choice + 1 < starts.len() {
                        sc.back.push((i, pos, choice + 1, 0, sc.undo.len()));
                    }
                    i = starts[choice];
                    true
                }
                Run::Jump(t) => {
                    i = *t;
                    true
                }
                Run::BackRef(g) => match sc.caps[*g] {
                    None => false,
                    Some((a, b)) => match s.get(pos..pos + (b - a)) {
                        Some(here) => {
                            sc.memo.touch(pos + (b - a));
                            for p in (a..b).chain(pos..pos + (b - a)) {
                                sc.memo.mark(p, EXACT);
                            }
                            let there = &s[a..b];
                            let same = if self.caseless {
                                here.eq_ignore_ascii_case(there)
                            } else {
                                here == there
                            };
                            pos += b - a;
                            i += 1;
                            same
                        }
                        None => {
                            sc.memo.end(s.len());
                            false
                        }
                    },
                },
                Run::Assert(t) => {
                    // what the tests may read: the bytes before and at `pos`,
                    // and whether the line ends at or right after it
                    for t in t.iter() {
                        if *t == Test::Begin {
                            continue;
                        }
                        if pos > 0 {
                            sc.memo.mark(pos - 1, EXACT);
                        }
                        if pos + 1 < s.len() {
                            sc.memo.mark(pos, EXACT);
                            sc.memo.touch(pos + 2);
                        } else {
                            if pos < s.len() {
                                sc.memo.mark(pos, EXACT);
                            }
                            sc.memo.end(s.len());
                        }
                    }
                    i += 1;
                    t.iter().any(|t| t.holds(s, pos))
                }
            };
            if ok {
                choice = 0;
                tried = 0;
                continue;
            }
            let (bi, bpos, bchoice, btried, bundo) = sc.back.pop()?;
            while sc.undo.len() > bundo {
                if let Some((g, old)) = sc.undo.pop() {
                    sc.caps[g] = old;
                }
            }
            i = bi;
            pos = bpos;
            choice = bchoice;
            tried = btried;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(re: &str, s: &str) -> Option<Caps> {
        let p = Program::compile(re).expect("supported");
        let mut sc = Scratch::default();
        p.search(s.as_bytes(), 0, &mut sc).map(|_| sc.caps)
    }

    #[test]
    fn backtracks_into_alternatives() {
        let c = find(r"(?P<m>0?[1-9]|1[0-2])-", "x 12-").unwrap();
        assert_eq!(c[0], Some((2, 5)));
        assert_eq!(c[1], Some((2, 4)));
    }

    #[test]
    fn backref_and_lookahead() {
        let c = find(r"(?=^|\b|\W)((?P<s>[-/])a(?P=s))(?=\b|\W|$)", "x/a/").unwrap();
        assert_eq!(c[1], Some((1, 4)));
        assert!(find(r"(?P<s>[-/])a(?P=s)", "/a-").is_none());
    }

    #[test]
    fn unsupported_constructs() {
        for re in [
            r"(?<=a)b",
            r"a*?",
            r"(?(x)a|b)",
            r"a++",
            "\u{e9}",
            r"(?s)a",
            r"[[:alpha:]]",
        ] {
            assert!(Program::compile(re).is_none(), "{re}");
        }
    }
}
#[cfg(test)]
mod lead_tests {
    use super::*;

    #[test]
    fn memo_follows_the_end_of_the_leading_run() {
        let p = Program::compile(r"(?i)^[^\[]*\[((?P<d>\d\d)/(?P<b>nov))(?=\b|\W|$)").unwrap();
        assert!(p.lead.is_some());
        let mut sc = Scratch::default();
        assert_eq!(
            p.search(b"1.2.3.4 - - [19/Nov] x", 0, &mut sc),
            Some((0, 19))
        );
        assert_eq!(sc.memo_hits, 0);
        // one more address digit: the same match one byte later, from the memo
        assert_eq!(
            p.search(b"1.2.3.44 - - [18/Nov] x", 0, &mut sc),
            Some((0, 20))
        );
        assert_eq!(sc.memo_hits, 1);
        assert_eq!(sc.group(1), Some((14, 20)));
        assert_eq!(sc.group(2), Some((14, 16)));
        assert_eq!(sc.group(3), Some((17, 20)));
        // a letter where a digit was: runs again, no match
        assert_eq!(p.search(b"1.2.3.44 - - [1x/Nov] x", 0, &mut sc), None);
        assert_eq!(sc.memo_hits, 1);
    }
}
