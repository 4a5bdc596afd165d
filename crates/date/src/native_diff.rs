//! Differential test: the native matcher against PCRE2 (the regex the detector
//! would otherwise run on ASCII lines) on generated lines: real dates of every
//! default shape, mutated (bytes replaced, inserted, deleted; prefixes and
//! suffixes; out-of-range fields; zones; 2-digit years), searched over the whole
//! line and over sub-ranges as the detector does. Every answer must agree: match
//! or not, the match span, and the span of every group.

use crate::native::{Program, Scratch};
use crate::test_rng::Rng;
use crate::{build_regex, pattern, DateDetector, DateOptions};

/// Real dates of the shapes the default templates (and common datepatterns) read.
const DATES: &[&str] = &[
    "2026-11-19T12:47:35.007305+00:00",
    "2026-11-19T12:47:35Z",
    "2026-11-19 12:47:35,123",
    "2026-11-19  2:47:35",
    "2026/01/09T23:59:59.5 +0100",
    "2026.12.31T00:00:00 UTC",
    "2026-02-28T21:07:05.1 GMT",
    "2026-11-19T12:47:35+01:00",
    "2005-08-01 00:00:60",
    "Nov 19 12:47:35",
    "Nov  9 02:47:35",
    "Mon Nov 19 12:47:35.123 2026",
    "nov 19 2026 12:47:35",
    "Sat Jan  1 1:02:03",
    "19/Nov/2026:12:47:35 +0000",
    "19/Nov/2026:12:47:35.123 -0130",
    "01-Feb-2026 23:00:00",
    "19-11-2026 12:47:35",
    "19/11/26 12:47:35",
    "11/19/2026:12:47:35",
    "11-19-2026 12:47:35.5",
    "12:47:35",
    "<11/19/26@12:47:35>",
    "261119 12:47:35",
    "261119  2:47:35",
    "Nov 19, 2026 12:47:35 PM",
    "Nov-19-26 12:47:35",
    "20261119T124735",
    "20261119 124735,123456 +0200",
    "CET Mon Nov 19 12:47:35 2026",
    "CEST Nov 19 12:47:35",
    "+0100 Nov 19 12:47:35",
    "1763556455",
    "1763556455.123",
    "@4000000063768a9d1c8f8a54",
];

const PREFIXES: &[&str] = &[
    "",
    "",
    "",
    "[",
    "  ",
    "x ",
    "host: ",
    "44.136.211.22 - - [",
    "<13>1 ",
    "-",
    "9",
    "a",
    "[[",
    " [x] [",
    "2026-",
];

const SUFFIXES: &[&str] = &[
    "",
    "",
    " web1 sshd[1020]: Invalid user test from 190.60.135.176 port 41241",
    "] \"GET / HTTP/1.1\" 200 1518",
    " ",
    "]",
    "x",
    "Z",
    ".5",
    "0",
    "9",
    ":",
    " 2026",
    " PM",
    "\n",
    "_",
    "+01",
];

/// Bytes mutations draw from: what dates are made of, and their neighbours.
const ALPHABET: &[u8] =
    b"0123456789012345678901234567890123456789 :-/.,+TZUTCGMTNovnovJanPMpm[]()<>@_\t\nxX";

fn mutate(rng: &mut Rng, s: &mut Vec<u8>) {
    for _ in 0..rng.index(4) {
        let op = rng.index(5);
        let at = rng.index(s.len() + 1);
        let b = ALPHABET[rng.index(ALPHABET.len())];
        match op {
            0 | 1 if at < s.len() => s[at] = b,
            2 => s.insert(at, b),
            3 if at < s.len() => {
                s.remove(at);
            }
            4 if at < s.len() && s[at].is_ascii_digit() => {
                // a digit field out of range: 13th month, 61st second, hour 24...
                s[at] = if rng.index(2) == 0 { b'9' } else { b'3' };
            }
            _ => {}
        }
    }
}

fn line(rng: &mut Rng) -> Vec<u8> {
    let mut s = Vec::new();
    if rng.index(3) == 0 {
        // an access log line: an address of varying length in front
        let ip: Vec<String> = (0..4).map(|_| rng.index(256).to_string()).collect();
        s.extend_from_slice(ip.join(".").as_bytes());
        s.extend_from_slice(b" - - [");
    } else {
        s.extend_from_slice(rng.pick(PREFIXES).as_bytes());
    }
    s.extend_from_slice(rng.pick(DATES).as_bytes());
    if rng.index(4) == 0 {
        // two dates in a line
        s.push(b' ');
        s.extend_from_slice(rng.pick(DATES).as_bytes());
    }
    s.extend_from_slice(rng.pick(SUFFIXES).as_bytes());
    if rng.index(3) != 0 {
        mutate(rng, &mut s);
    }
    s
}

/// Every template regex of the detectors bailiff builds for these datepatterns.
fn regexes() -> Vec<(String, String)> {
    let opts = DateOptions {
        reference_year: 2026,
        any_year: false,
    };
    let patterns = [
        None,
        Some("{^LN-BEG}"),
        Some("{^LN-BEG}%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\\s*%z)?\n^[^\\[]*\\[({DATE})\n{^LN-BEG}"),
        Some("%d/%b/%Y:%H:%M:%S %z\n%b %d %H:%M:%S\n%Y-%m-%d %H:%M:%S\n^%y%m%d %H:%M:%S\n%a %b %d %H:%M:%S %Y"),
        Some("{^LN-BEG}%Y-%m-%dT%H:%M:%S(?:\\.%f)?%z\n%Exd.%Exm.%ExY %ExH:%ExM:%ExS\n%d-%b-%y %I:%M:%S %p\n%ExZ %ExY%Exm%Exd %Exk:%ExM"),
    ];
    let mut out: Vec<(String, String)> = Vec::new();
    for p in patterns {
        let d = DateDetector::new(p, &opts).expect("detector");
        for t in &d.templates {
            let re = pattern::to_pcre2(&t.spec.regex);
            if !out.iter().any(|(_, r)| *r == re) {
                out.push((t.spec.name.clone(), re));
            }
        }
    }
    out
}

#[test]
fn native_matches_pcre2_on_generated_lines() {
    let regexes = regexes();
    let mut progs = Vec::new();
    let mut without = Vec::new();
    for (name, re) in &regexes {
        let pcre = build_regex(re, false).expect("compiles");
        match Program::compile(re) {
            Some(p) => {
                assert_eq!(p.groups() + 1, pcre.captures_len(), "{name}: group count");
                progs.push((name, re, pcre, p));
            }
            None => without.push(name.clone()),
        }
    }
    // only the Epoch templates (lookbehind, conditionals) stay on PCRE2
    for name in &without {
        assert!(name.contains("Epoch"), "no native matcher for {name}");
    }
    assert!(
        progs.len() >= 40,
        "only {} templates have a native matcher",
        progs.len()
    );

    let n: usize = std::env::var("NATIVE_DIFF_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if cfg!(debug_assertions) {
            6_000
        } else {
            200_000
        });
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut scratch: Vec<Scratch> = progs.iter().map(|_| Scratch::default()).collect();
    let mut s: Vec<u8> = Vec::new();
    let (mut compared, mut matched) = (0u64, 0u64);
    let mut last_line = String::new();
    let mut memo_matches = 0u64;
    let mut other: Vec<u8> = Vec::new();
    for _ in 0..n {
        // now and then the line before the last one comes back (two kinds of
        // lines taking turns: what the memo of the search before is for)
        if rng.index(6) == 0 && !other.is_empty() {
            std::mem::swap(&mut s, &mut other);
        } else if !s.is_empty() {
            other.clone_from(&s);
        }
        // half of the lines: the previous one with a few digits changed, as
        // consecutive log lines are (what the memo of the last search is for)
        if rng.index(2) == 0 && !s.is_empty() {
            for _ in 0..1 + rng.index(3) {
                let at = rng.index(s.len());
                if rng.index(4) == 0 {
                    s[at] = ALPHABET[rng.index(ALPHABET.len())];
                } else if rng.index(3) == 0 {
                    // a longer or shorter address in front
                    if rng.index(2) == 0 {
                        s.insert(at, b'0' + rng.index(10) as u8);
                    } else if s[at].is_ascii_digit() {
                        s.remove(at);
                    }
                } else if s[at].is_ascii_digit() {
                    s[at] = b'0' + rng.index(10) as u8;
                }
            }
        } else {
            s = line(&mut rng);
        }
        if !s.is_ascii() {
            continue;
        }
        // the whole line, and a sub-range as the detector's "same place" search uses
        let (from, to) = if rng.index(4) == 0 {
            let a = rng.index(s.len() + 1);
            (a, a + rng.index(s.len() - a + 1))
        } else {
            (0, s.len())
        };
        let subject = &s[..to];
        let prev = last_line.clone();
        last_line = format!("{:?} from {from} to {to}", String::from_utf8_lossy(&s));
        for ((name, _, pcre, prog), caps) in progs.iter().zip(scratch.iter_mut()) {
            let mut locs = pcre.capture_locations();
            let want = pcre
                .captures_read_at(&mut locs, subject, from)
                .expect("no match error")
                .map(|m| (m.start(), m.end()));
            let before = caps.memo_hits;
            let got = prog.search(subject, from, caps);
            if caps.memo_hits > before && got.is_some() {
                memo_matches += 1;
            }
            compared += 1;
            let shown = String::from_utf8_lossy(subject);
            if got != want {
                let fresh = prog.search(subject, from, &mut Scratch::default());
                eprintln!("fresh scratch gives {fresh:?}; previous line {prev:?}");
            }
            assert_eq!(got, want, "{name}: span on {shown:?} from {from}");
            if want.is_some() {
                matched += 1;
                for g in 0..locs.len() {
                    assert_eq!(
                        caps.group(g),
                        locs.get(g),
                        "{name}: group {g} on {shown:?} from {from}"
                    );
                }
            }
        }
    }
    let hits: u64 = scratch.iter().map(|s| s.memo_hits).sum();
    eprintln!(
        "native vs PCRE2: {compared} searches, {matched} matches, {hits} answered by the memo ({memo_matches} matches), all equal ({} templates native, {} on PCRE2)",
        progs.len(),
        without.len()
    );
    assert!(
        hits > compared / 10,
        "the memo hardly ever answered: {hits}"
    );
    assert!(
        memo_matches > 500,
        "the memo hardly ever gave a match: {memo_matches}"
    );
    assert!(
        matched > compared / 100,
        "too few matches to mean anything: {matched}"
    );
}

#[test]
fn common_shapes_run_natively() {
    let opts = DateOptions {
        reference_year: 2026,
        any_year: false,
    };
    let zone = crate::Zone::utc();
    let cases: &[(Option<&str>, &str)] = &[
        (
            Some("{^LN-BEG}"),
            "2026-11-19T12:47:35.007305+00:00 web1 sshd[1020]: x",
        ),
        (None, "2026-11-19T12:47:35.007305+00:00 web1 sshd[1020]: x"),
        (None, "Nov 19 12:47:35 web1 sshd[1020]: x"),
        (
            Some("{^LN-BEG}"),
            "Nov 19 12:47:35.123 2026 web1 sshd[1020]: x",
        ),
        (
            None,
            "1.2.3.4 - - [19/Nov/2026:12:47:35 +0000] \"GET / HTTP/1.1\" 200 1",
        ),
        (
            Some(r"^[^\[]*\[({DATE})"),
            "1.2.3.4 - - [19/Nov/2026:12:47:35 +0000] \"GET /\"",
        ),
        (
            Some("%d/%b/%ExY:%H:%M:%S %z"),
            "1.2.3.4 - - [19/Nov/2026:12:47:35 +0000] \"GET /\"",
        ),
        (Some("%ExY-%m-%dT%H:%M:%S"), "at 2026-11-19T12:47:35 x"),
    ];
    for &(dp, l) in cases {
        let mut d = DateDetector::new(dp, &opts).expect("detector");
        for _ in 0..3 {
            let m = d.locate(l, 1_763_500_000.0, &zone).expect("a date");
            assert!(m.time.is_some(), "{l:?}");
            assert!(
                d.templates[m.template].last_native,
                "{dp:?} on {l:?}: winner {} did not run natively",
                d.templates[m.template].spec.name
            );
        }
    }
}

/// Constructs the templates do not exercise (alternatives holding groups, a
/// greedy run that must give back), on short random strings.
#[test]
fn native_matches_pcre2_on_small_regexes() {
    let regexes = [
        r"(?:(?P<a>\d)|(?P<b>\d\d))x",
        r"(a|ab)(c|bcd)(d*)",
        r"(?:(a)|(ab))(b?)",
        r"[^x]*x(\d)",
        r"(?i)(?P<s>[-/])(A|b)(?P=s)\s*(\d+)?$",
        r"^(?:\W{0,2})?(a(?:(b)|c)?)(?=\b|\W|$)",
        r"(?=^|\b|\W)(\d{1,3}?|x)",
        r"a{2,3}(b*)b",
        r"\b(x|1)\d?",
        r"(?=\W)(?:-|/)(b|B)(?=\b|\W|$)",
    ];
    let mut rng = Rng(7);
    let mut sc = Scratch::default();
    let mut compared = 0;
    for re in regexes {
        let pcre = build_regex(re, false).expect("compiles");
        let Some(prog) = Program::compile(re) else {
            // lazy quantifier: must be refused, not misread
            assert!(re.contains("}?"), "{re} should compile");
            continue;
        };
        let mut s: Vec<u8> = Vec::new();
        for _ in 0..3000 {
            // a new string, or the last one with one byte changed (for the memo)
            if rng.index(2) == 0 && !s.is_empty() {
                let at = rng.index(s.len());
                s[at] = b"ab1cd2x-/ B"[rng.index(11)];
            } else {
                s = (0..rng.index(9))
                    .map(|_| b"ab1cd2x-/ B"[rng.index(11)])
                    .collect();
            }
            let from = if rng.index(3) == 0 {
                rng.index(s.len() + 1)
            } else {
                0
            };
            let mut locs = pcre.capture_locations();
            let want = pcre
                .captures_read_at(&mut locs, &s, from)
                .expect("no match error")
                .map(|m| (m.start(), m.end()));
            let shown = String::from_utf8_lossy(&s);
            assert_eq!(
                prog.search(&s, from, &mut sc),
                want,
                "{re} on {shown:?} from {from}"
            );
            if want.is_some() {
                for g in 0..locs.len() {
                    assert_eq!(sc.group(g), locs.get(g), "{re} group {g} on {shown:?}");
                }
            }
            compared += 1;
        }
    }
    assert!(compared >= 24_000);
}
