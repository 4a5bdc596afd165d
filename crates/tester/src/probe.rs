//! Regexes of the filter run again for the summary's own counts.

/// A regex of the filter run again on the line minus its date (single-line filters
/// only), for what the summary shows and the filter does not report: how many lines
/// the prefregex matched (`Prefregex: N total`, `-v` groups) and which ignoreregex
/// dropped a line. Same expansion and translation as the filter.
pub(crate) struct Probe {
    re: pcre2::bytes::Regex,
    buf: String,
    locs: pcre2::bytes::CaptureLocations,
    /// (group index, name) of the named groups, in the regex's order.
    names: Vec<(usize, String)>,
}

impl Probe {
    pub(crate) fn new(prefregex: &str, with_dns: bool) -> Option<Probe> {
        let expanded = bailiff_filter::tags::expand(prefregex, with_dns);
        let pattern = format!(
            "(*LIMIT_MATCH={}){}",
            bailiff_filter::MATCH_LIMIT,
            bailiff_filter::translate::python_to_pcre2(&expanded)
        );
        let re = pcre2::bytes::RegexBuilder::new()
            .utf(true)
            .ucp(true)
            .jit_if_available(true)
            .build(&pattern)
            .ok()?;
        let names = re
            .capture_names()
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.clone().map(|n| (i, n)))
            .collect();
        Some(Probe {
            locs: re.capture_locations(),
            re,
            buf: String::with_capacity(256),
            names,
        })
    }

    pub(crate) fn matches(&mut self, line: &str, date: Option<(usize, usize)>) -> bool {
        self.buf.clear();
        match date {
            Some((a, b)) if a <= b && line.is_char_boundary(a) && line.get(b..).is_some() => {
                self.buf.push_str(&line[..a]);
                self.buf.push_str(&line[b..]);
            }
            _ => self.buf.push_str(line),
        }
        self.buf.push('\n');
        self.re.is_match(self.buf.as_bytes()).unwrap_or(false)
    }

    /// The named groups of the last matched buffer, as a Python dict (`-v`).
    pub(crate) fn groups(&mut self) -> Option<String> {
        let subject = self.buf.as_bytes();
        self.re.captures_read(&mut self.locs, subject).ok()??;
        let items: Vec<String> = self
            .names
            .iter()
            .map(|(i, n)| {
                let v = match self.locs.get(*i) {
                    Some((a, b)) => {
                        crate::out::py_repr_str(&String::from_utf8_lossy(&subject[a..b]))
                    }
                    None => "None".to_string(),
                };
                format!("{}: {}", crate::out::py_repr_str(n), v)
            })
            .collect();
        Some(format!("{{{}}}", items.join(", ")))
    }
}
