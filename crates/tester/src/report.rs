//! The summary fail2ban-regex prints after the run: counters collected while
//! lines are processed ([`Report`]) and their rendering ([`Report::write`]).

use std::collections::VecDeque;
use std::io::{self, Write};

/// Hits of one failregex or ignoreregex.
#[derive(Debug, Clone, Default)]
pub struct RegexStat {
    /// The regex as written (tags not expanded).
    pub regex: String,
    pub hits: u64,
    /// With `-v`: (id, time, "matched more than one regex") per hit.
    pub ids: Vec<(String, f64, bool)>,
}

impl RegexStat {
    pub fn new(regex: &str) -> RegexStat {
        RegexStat {
            regex: regex.to_string(),
            ..RegexStat::default()
        }
    }
}

/// One date template in "Date template hits".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DateTemplateRow {
    pub name: String,
    pub hits: u64,
    /// `--VD` details: sort weight, template weight, pattern, regex.
    pub weight: f64,
    pub template_weight: f64,
    pub pattern: Option<String>,
    pub regex: String,
}

/// Options that shape the report.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    pub verbose: u8,
    pub verbose_date: bool,
    /// How many missed/ignored lines are listed before "too many to print"
    /// (fail2ban-regex: `-L` when given, else 20).
    pub list_cap: usize,
    pub print_all_matched: bool,
    pub print_all_missed: bool,
    pub print_all_ignored: bool,
    pub print_no_missed: bool,
    pub print_no_ignored: bool,
    /// `-D`: list lines with a debuggex.com link per regex.
    pub debuggex: Option<Debuggex>,
}

/// What `-D` links need: per failregex and ignoreregex, its text and its expansion.
#[derive(Debug, Clone, Default)]
pub struct Debuggex {
    pub failregex: Vec<(String, String)>,
    pub ignoreregex: Vec<(String, String)>,
    /// `maxlines` > 1: the links ask for the multi-line flag.
    pub multiline: bool,
}

impl Debuggex {
    /// `LINE | REGEX |  URL` for every line and regex, as fail2ban-regex lists them.
    fn items(&self, kind: &str, lines: &[String]) -> Vec<String> {
        let regexes = if kind == "ignored" {
            &self.ignoreregex
        } else {
            &self.failregex
        };
        let mut out = Vec::new();
        for l in lines {
            for (text, expanded) in regexes {
                let mut url = format!(
                    "https://www.debuggex.com/?re={}&str={}&flavor=python",
                    quote_plus(expanded),
                    quote_plus(l)
                );
                if self.multiline {
                    url.push_str("&flags=m");
                }
                out.push(format!("{l} | {text} |  {url}").trim_end().to_string());
            }
        }
        out
    }
}

/// Python's `urllib.parse.quote_plus` of UTF-8 text.
fn quote_plus(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Everything the summary shows.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub opts: ReportOptions,
    /// The prefregex (expanded, as fail2ban-regex shows it) and how many lines it matched.
    pub prefregex: Option<(String, u64)>,
    pub prefregex_groups: Vec<String>,
    pub failregex: Vec<RegexStat>,
    pub ignoreregex: Vec<RegexStat>,
    /// The date detector's templates with their hits, in its final search order.
    pub date_templates: Vec<DateTemplateRow>,
    pub tested: u64,
    pub matched: u64,
    pub missed: u64,
    pub ignored: u64,
    pub matched_lines: Vec<String>,
    pub missed_lines: Vec<String>,
    pub ignored_lines: Vec<String>,
    /// Lines (counted as missed) whose only matches the filter declined because
    /// their host could be another address: bailiff bans nobody for them,
    /// fail2ban would. Listed after the missed lines, with their addresses.
    pub ambiguous: u64,
    pub ambiguous_lines: Vec<(String, String)>,
    /// The last missed lines, to move to "matched" when a later multi-line match
    /// consumes them (only kept when maxlines > 1).
    recent_missed: VecDeque<String>,
    pub multiline_window: usize,
    pub elapsed: Option<f64>,
}

/// How a tested line ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Matched,
    Ignored,
    Missed,
}

impl Report {
    pub fn new(opts: ReportOptions) -> Report {
        Report {
            opts,
            ..Report::default()
        }
    }

    /// Count one tested line.
    pub fn add_line(&mut self, line: &str, kind: LineKind) {
        self.tested += 1;
        let cap = self.opts.list_cap as u64 + 1;
        match kind {
            LineKind::Ignored => {
                self.ignored += 1;
                if !self.opts.print_no_ignored
                    && (self.opts.print_all_ignored || self.ignored <= cap)
                {
                    self.ignored_lines.push(line.to_string());
                }
            }
            LineKind::Matched => {
                self.matched += 1;
                if self.opts.print_all_matched {
                    self.matched_lines.push(line.to_string());
                }
            }
            LineKind::Missed => {
                self.missed += 1;
                if !self.opts.print_no_missed && (self.opts.print_all_missed || self.missed <= cap)
                {
                    self.missed_lines.push(line.to_string());
                }
                if self.multiline_window > 1 {
                    self.recent_missed.push_back(line.to_string());
                    while self.recent_missed.len() > self.multiline_window {
                        self.recent_missed.pop_front();
                    }
                }
            }
        }
    }

    /// `line`, already counted as missed, had matches the filter declined as
    /// ambiguous; `detail` says how (addresses, reason).
    pub fn add_ambiguous(&mut self, line: &str, detail: String) {
        self.ambiguous += 1;
        if !self.opts.print_no_missed
            && (self.opts.print_all_missed || self.ambiguous <= self.opts.list_cap as u64 + 1)
        {
            self.ambiguous_lines.push((line.to_string(), detail));
        }
    }

    /// A multi-line failure consumed `line`, an earlier line counted as missed:
    /// count it as matched instead.
    pub fn consumed_earlier(&mut self, line: &str) {
        if let Some(i) = self.recent_missed.iter().position(|l| l == line) {
            self.recent_missed.remove(i);
            if let Some(j) = self.missed_lines.iter().position(|l| l == line) {
                self.missed_lines.remove(j);
            }
            if self.opts.print_all_matched {
                self.matched_lines.push(line.to_string());
            }
            self.missed -= 1;
            self.matched += 1;
        }
    }

    /// The `Results` part, as fail2ban-regex lays it out.
    pub fn write(&self, w: &mut dyn Write) -> io::Result<()> {
        writeln!(w)?;
        writeln!(w, "Results")?;
        writeln!(w, "=======")?;
        if let Some((re, hits)) = &self.prefregex {
            writeln!(w, "\nPrefregex: {hits} total")?;
            let mut items = vec![re.clone()];
            if self.opts.verbose > 0 {
                items.extend(self.prefregex_groups.iter().map(|g| format!("    {g}")));
            }
            list(w, None, &items)?;
        }
        self.write_regexes(w, "Failregex", &self.failregex)?;
        self.write_regexes(w, "Ignoreregex", &self.ignoreregex)?;

        writeln!(w, "\nDate template hits:")?;
        let mut items = Vec::new();
        for t in &self.date_templates {
            if t.hits == 0 && self.opts.verbose == 0 {
                continue;
            }
            items.push(format!("[{}] {}", t.hits, t.name));
            if self.opts.verbose_date {
                items.push(format!(
                    "    # weight: {:.3} ({:.3}), pattern: {}",
                    t.weight,
                    t.template_weight,
                    t.pattern.as_deref().unwrap_or("")
                ));
                items.push(format!("    # regex:   {}", t.regex));
            }
        }
        list(w, Some("[# of hits] date format"), &items)?;

        writeln!(
            w,
            "\nLines: {} lines, {} ignored, {} matched, {} missed",
            self.tested, self.ignored, self.matched, self.missed
        )?;
        if let Some(s) = self.elapsed {
            writeln!(w, "[processed in {s:.2} sec]")?;
        }
        writeln!(w)?;
        if self.opts.print_all_matched {
            self.write_lines(w, "matched", self.matched, &self.matched_lines, true)?;
        }
        if !self.opts.print_no_ignored {
            self.write_lines(
                w,
                "ignored",
                self.ignored,
                &self.ignored_lines,
                self.opts.print_all_ignored,
            )?;
        }
        if !self.opts.print_no_missed {
            self.write_lines(
                w,
                "missed",
                self.missed,
                &self.missed_lines,
                self.opts.print_all_missed,
            )?;
            self.write_ambiguous(w)?;
        }
        Ok(())
    }

    /// Only when there are any, so that reports are otherwise the reference's.
    fn write_ambiguous(&self, w: &mut dyn Write) -> io::Result<()> {
        if self.ambiguous == 0 {
            return Ok(());
        }
        let header = "Ambiguous line(s), missed because their host could be another address \
                      (fail2ban would ban the first):";
        if self.ambiguous < self.opts.list_cap as u64 || self.opts.print_all_missed {
            let mut items = Vec::new();
            for (line, detail) in &self.ambiguous_lines {
                items.push(line.trim_end().to_string());
                items.push(format!("    {detail}"));
            }
            list(w, Some(header), &items)
        } else {
            writeln!(
                w,
                "{header} too many to print.  Use --print-all-missed to print all {} lines",
                self.ambiguous
            )
        }
    }

    fn write_regexes(&self, w: &mut dyn Write, title: &str, stats: &[RegexStat]) -> io::Result<()> {
        let mut total = 0;
        let mut items = Vec::new();
        for (i, s) in stats.iter().enumerate() {
            total += s.hits;
            if s.hits > 0 || self.opts.verbose > 0 {
                items.push(format!("{:2}) [{}] {}", i + 1, s.hits, s.regex));
            }
            if self.opts.verbose > 0 {
                for (id, time, multi) in &s.ids {
                    items.push(format!(
                        "    {}  {}{}",
                        id,
                        local_time(*time),
                        if *multi {
                            " (multiple regex matched)"
                        } else {
                            ""
                        }
                    ));
                }
            }
        }
        writeln!(w, "\n{title}: {total} total")?;
        list(w, Some(" #) [# of hits] regular expression"), &items)
    }

    fn write_lines(
        &self,
        w: &mut dyn Write,
        kind: &str,
        count: u64,
        lines: &[String],
        all: bool,
    ) -> io::Result<()> {
        if count == 0 {
            return Ok(());
        }
        let mut cap = kind.to_string();
        cap[..1].make_ascii_uppercase();
        let header = format!("{cap} line(s):");
        if count < self.opts.list_cap as u64 || all {
            let items: Vec<String> = match &self.opts.debuggex {
                Some(d) => d.items(kind, lines),
                None => lines.iter().map(|l| l.trim_end().to_string()).collect(),
            };
            list(w, Some(&header), &items)
        } else {
            writeln!(
                w,
                "{header} too many to print.  Use --print-all-{kind} to print all {count} lines"
            )
        }
    }
}

/// fail2ban-regex's bordered list: `|- header`, `|  item`..., then `` `- ``.
fn list(w: &mut dyn Write, header: Option<&str>, items: &[String]) -> io::Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    if let Some(h) = header {
        writeln!(w, "|- {h}")?;
    }
    for i in items {
        writeln!(w, "|  {i}")?;
    }
    writeln!(w, "`-")
}

/// `%a %b %d %H:%M:%S %Y` in the system's zone.
fn local_time(t: f64) -> String {
    let tz = jiff::tz::TimeZone::system();
    match jiff::Timestamp::from_second(t as i64) {
        Ok(ts) => ts.to_zoned(tz).strftime("%a %b %d %H:%M:%S %Y").to_string(),
        Err(_) => format!("{t}"),
    }
}

/// fail2ban-regex's short form of long texts in its header lines.
pub fn shortstr(s: &str, len: usize) -> String {
    if s.chars().count() > len {
        let mut t: String = s.chars().take(len.saturating_sub(3)).collect();
        t.push_str("...");
        t
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(r: &Report) -> String {
        let mut out = Vec::new();
        r.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn opts(cap: usize) -> ReportOptions {
        ReportOptions {
            list_cap: cap,
            ..ReportOptions::default()
        }
    }

    #[test]
    fn layout_of_a_small_run() {
        let mut r = Report::new(opts(20));
        r.failregex = vec![
            RegexStat::new("fail from <HOST>"),
            RegexStat::new("never <HOST>"),
        ];
        r.failregex[0].hits = 1;
        r.ignoreregex = vec![RegexStat::new("from 1\\.2")];
        r.ignoreregex[0].hits = 1;
        r.date_templates = [("C", 2), ("A", 1), ("B", 0)]
            .into_iter()
            .map(|(n, h)| DateTemplateRow {
                name: n.into(),
                hits: h,
                ..DateTemplateRow::default()
            })
            .collect();
        r.add_line("l1 fail", LineKind::Matched);
        r.add_line("l2 ok  ", LineKind::Missed);
        r.add_line("l3 ign", LineKind::Ignored);
        r.elapsed = Some(0.001);
        let want = "\nResults\n=======\n\
            \nFailregex: 1 total\n|-  #) [# of hits] regular expression\n|   1) [1] fail from <HOST>\n`-\n\
            \nIgnoreregex: 1 total\n|-  #) [# of hits] regular expression\n|   1) [1] from 1\\.2\n`-\n\
            \nDate template hits:\n|- [# of hits] date format\n|  [2] C\n|  [1] A\n`-\n\
            \nLines: 3 lines, 1 ignored, 1 matched, 1 missed\n[processed in 0.00 sec]\n\n\
            |- Ignored line(s):\n|  l3 ign\n`-\n\
            |- Missed line(s):\n|  l2 ok\n`-\n";
        assert_eq!(render(&r), want);
    }

    #[test]
    fn prefregex_and_empty_failregex() {
        let mut r = Report::new(opts(20));
        r.prefregex = Some(("^(?P<content>.+)$".into(), 7));
        r.failregex = vec![RegexStat::new("x")];
        let s = render(&r);
        assert!(
            s.contains("\nPrefregex: 7 total\n|  ^(?P<content>.+)$\n`-\n"),
            "{s}"
        );
        assert!(
            s.contains("\nFailregex: 0 total\n\nIgnoreregex: 0 total\n"),
            "{s}"
        );
    }

    #[test]
    fn too_many_lines_and_caps() {
        let mut r = Report::new(opts(2));
        for i in 0..5 {
            r.add_line(&format!("m{i}"), LineKind::Missed);
        }
        assert_eq!(r.missed_lines.len(), 3, "cap + 1 kept");
        let s = render(&r);
        assert!(
            s.contains(
                "Missed line(s): too many to print.  Use --print-all-missed to print all 5 lines\n"
            ),
            "{s}"
        );
        let mut all = Report::new(ReportOptions {
            print_all_missed: true,
            ..opts(2)
        });
        for i in 0..5 {
            all.add_line(&format!("m{i}"), LineKind::Missed);
        }
        assert!(render(&all).contains("|  m4\n`-\n"));
        let mut none = Report::new(ReportOptions {
            print_no_missed: true,
            ..opts(2)
        });
        none.add_line("m", LineKind::Missed);
        assert!(!render(&none).contains("Missed line"));
    }

    #[test]
    fn ambiguous_lines_are_listed_only_when_present() {
        let mut r = Report::new(opts(20));
        r.add_line("plain miss", LineKind::Missed);
        assert!(!render(&r).contains("Ambiguous"));
        r.add_line("x rhost=192.0.2.2 user=rhost=192.0.2.9", LineKind::Missed);
        r.add_ambiguous(
            "x rhost=192.0.2.2 user=rhost=192.0.2.9",
            "addresses: 192.0.2.2, 192.0.2.9 (readings)".into(),
        );
        let s = render(&r);
        assert!(
            s.contains("\nLines: 2 lines, 0 ignored, 0 matched, 2 missed\n"),
            "{s}"
        );
        assert!(
            s.ends_with(
                "(fail2ban would ban the first):\n|  x rhost=192.0.2.2 user=rhost=192.0.2.9\n\
                 |      addresses: 192.0.2.2, 192.0.2.9 (readings)\n`-\n"
            ),
            "{s}"
        );
    }

    #[test]
    fn multiline_consumption_moves_missed_to_matched() {
        let mut r = Report::new(opts(20));
        r.multiline_window = 3;
        r.add_line("first", LineKind::Missed);
        r.add_line("second", LineKind::Matched);
        r.consumed_earlier("first");
        r.consumed_earlier("never seen");
        assert_eq!((r.tested, r.matched, r.missed), (2, 2, 0));
        assert!(r.missed_lines.is_empty());
    }

    #[test]
    fn shortstr_cuts() {
        assert_eq!(shortstr("abcdef", 5), "ab...");
        assert_eq!(shortstr("abc", 5), "abc");
    }
}
