//! fail2ban time strings: `600`, `10m`, `1h 30m`, `1d12h`, `2*1d`, `-1`, `1year-6mo`.
//!
//! A number may carry a unit (matched case-insensitively on the start of the word,
//! `m` = minutes, `mo` = months); terms separated only by whitespace are added;
//! `+ - * /` and parentheses work as arithmetic.

/// A malformed time string.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid time {input:?}: {reason}")]
pub struct TimeError {
    pub input: String,
    pub reason: String,
}

const DAY: f64 = 86400.0;
const YEAR: f64 = (365.0 * 3.0 + 366.0) * DAY / 4.0;

fn unit_seconds(word: &str) -> Option<f64> {
    let w = word.to_lowercase();
    let v = match w.as_str() {
        "d" | "dd" | "da" | "day" | "days" => DAY,
        "w" | "ww" | "we" | "wee" | "week" | "weeks" => 7.0 * DAY,
        "mo" | "mon" | "month" | "months" => YEAR / 12.0,
        "y" | "yy" | "ye" | "yea" | "year" | "years" => YEAR,
        "s" | "ss" | "se" | "sec" | "second" | "seconds" => 1.0,
        "m" | "mm" | "mi" | "min" | "minute" | "minutes" => 60.0,
        "h" | "hh" | "ho" | "hou" | "hour" | "hours" => 3600.0,
        _ => return None,
    };
    Some(v)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Op(char),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<Tok> = Vec::new();
    let mut i = 0;
    // whether the previous token ends a value, and whitespace was seen since
    let mut prev_value = false;
    let mut gap = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            gap = true;
            i += 1;
            continue;
        }
        if c.is_ascii_digit() || c == '.' {
            let st = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit() || chars[i] == '.' || chars[i] == '_')
            {
                i += 1;
            }
            let text: String = chars[st..i].iter().filter(|c| **c != '_').collect();
            let n: f64 = text.parse().map_err(|_| format!("bad number {text:?}"))?;
            // optional unit (possibly after whitespace)
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let ws = j;
            while j < chars.len() && chars[j].is_alphabetic() {
                j += 1;
            }
            let mut value = n;
            if j > ws {
                let word: String = chars[ws..j].iter().collect();
                let u = unit_seconds(&word).ok_or_else(|| format!("unknown unit {word:?}"))?;
                value *= u;
                i = j;
            }
            if prev_value && gap {
                out.push(Tok::Op('+'));
            } else if prev_value {
                return Err("two numbers without an operator".into());
            }
            out.push(Tok::Num(value));
            prev_value = true;
            // a unit directly followed by a number adds (`1d12h`)
            gap = j > ws && i == j;
            continue;
        }
        match c {
            '+' | '-' | '*' | '/' => {
                out.push(Tok::Op(c));
                prev_value = false;
            }
            '(' => {
                if prev_value && gap {
                    out.push(Tok::Op('+'));
                } else if prev_value {
                    return Err("'(' after a value".into());
                }
                out.push(Tok::Open);
                prev_value = false;
            }
            ')' => {
                out.push(Tok::Close);
                prev_value = true;
            }
            _ => return Err(format!("unexpected {c:?}")),
        }
        gap = false;
        i += 1;
    }
    Ok(out)
}

struct P {
    t: Vec<Tok>,
    i: usize,
    depth: usize,
}

impl P {
    fn expr(&mut self) -> Result<f64, String> {
        let mut v = self.term()?;
        while let Some(Tok::Op(o @ ('+' | '-'))) = self.t.get(self.i).cloned() {
            self.i += 1;
            let r = self.term()?;
            v = if o == '+' { v + r } else { v - r };
        }
        Ok(v)
    }
    fn term(&mut self) -> Result<f64, String> {
        let mut v = self.unary()?;
        while let Some(Tok::Op(o @ ('*' | '/'))) = self.t.get(self.i).cloned() {
            self.i += 1;
            let r = self.unary()?;
            if o == '/' && r == 0.0 {
                return Err("division by zero".into());
            }
            v = if o == '*' { v * r } else { v / r };
        }
        Ok(v)
    }
    fn unary(&mut self) -> Result<f64, String> {
        match self.t.get(self.i).cloned() {
            Some(Tok::Op('-')) => {
                self.i += 1;
                self.guard()?;
                let v = self.unary();
                self.depth -= 1;
                Ok(-v?)
            }
            Some(Tok::Op('+')) => {
                self.i += 1;
                self.guard()?;
                let v = self.unary();
                self.depth -= 1;
                v
            }
            Some(Tok::Num(n)) => {
                self.i += 1;
                Ok(n)
            }
            Some(Tok::Open) => {
                self.i += 1;
                self.guard()?;
                let v = self.expr();
                self.depth -= 1;
                let v = v?;
                if self.t.get(self.i) != Some(&Tok::Close) {
                    return Err("missing ')'".into());
                }
                self.i += 1;
                Ok(v)
            }
            _ => Err("expected a number".into()),
        }
    }
    fn guard(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > 100 {
            return Err("expression nested too deeply".into());
        }
        Ok(())
    }
}

/// Seconds denoted by a fail2ban time string.
pub fn parse_time(s: &str) -> Result<f64, TimeError> {
    let err = |reason: String| TimeError {
        input: s.to_string(),
        reason,
    };
    let toks = tokenize(s).map_err(err)?;
    if toks.is_empty() {
        return Err(err("empty".into()));
    }
    let mut p = P {
        t: toks,
        i: 0,
        depth: 0,
    };
    let v = p.expr().map_err(err)?;
    if p.i != p.t.len() {
        return Err(err("trailing input".into()));
    }
    if !v.is_finite() {
        return Err(err("not a finite number".into()));
    }
    Ok(v)
}

/// [`parse_time`] rounded down to whole seconds.
pub fn parse_time_secs(s: &str) -> Result<i64, TimeError> {
    parse_time(s).map(|v| v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases: &[(&str, f64)] = &[
            ("600", 600.0),
            ("10m", 600.0),
            ("1h 30m", 5400.0),
            ("0d 1h 30m", 5400.0),
            ("1hour+30min", 5400.0),
            ("1d12h", 129600.0),
            ("2*1d", 172800.0),
            ("-1", -1.0),
            ("1year-6mo", 15778800.0),
            ("6 months", 15778800.0),
            ("1w", 604800.0),
            ("60minutes", 3600.0),
            ("1 d", 86400.0),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s).unwrap(), *want, "{s}");
        }
        for bad in ["", "abc", "1x", "1d)", "(", "5 / 0"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
