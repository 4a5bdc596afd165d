//! The run: resolve arguments into a filter, stream the log through it, report.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bailiff_config::FilterDef;
use bailiff_filter::{
    DateDetector, DateOptions, FailureKind, Filter, FilterConfig, LineResult, UseDns, Zone,
};

use crate::args::RegexArgs;
use crate::dns::Resolver;
use crate::lookup::{absolute, find_filter};
use crate::out::{IntTimeCache, OutFormat};
use crate::probe::Probe;
use crate::progress::Progress;
use crate::reader::{chunk_lines, is_skipped, Encoding, LineReader};
use crate::report::{shortstr, DateTemplateRow, LineKind, RegexStat, Report, ReportOptions};
use crate::Error;

/// Run `bailiff regex`. Returns the exit status (0 after a complete run); an
/// `Err` is a failure to start or to read (the caller prints it, exit 255).
pub fn run(args: &RegexArgs, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<i32, Error> {
    if args.version {
        return match writeln!(stdout, "{}", env!("CARGO_PKG_VERSION")) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(Error::Output(e)),
            _ => Ok(0),
        };
    }
    let mut out = BufWriter::with_capacity(64 << 10, stdout);
    let code = if args.json {
        run_json(args, &mut out, stderr)
    } else {
        run_plain(args, &mut out, stderr)
    };
    // Flush what was written even when the run failed (the header so far).
    let flushed = out.flush().map_err(Error::Output);
    let code = code.and_then(|c| flushed.map(|_| c));
    match code {
        // The reader of the output went away (`| head`): stop quietly.
        Err(Error::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(0),
        other => other,
    }
}

/// Header, results and report all on `out` (plain and `-o` modes; `-o` prints
/// only its results).
fn run_plain(args: &RegexArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, Error> {
    let quiet = args.out.is_some();
    if !quiet {
        write_all(out, "\nRunning tests\n=============\n\n")?;
    }
    let mut header = Vec::new();
    let setup = Setup::new(args, &mut header);
    // The header so far is shown even when the setup fails, as the reference does.
    if !quiet {
        for h in &header {
            writeln!(out, "{h}").map_err(Error::Output)?;
        }
    }
    let mut setup = setup?;
    process(args, &mut setup, out, err, false)?;
    if !quiet {
        setup.report.write(out).map_err(Error::Output)?;
    }
    Ok(0)
}

/// `--json`: results on `out`, header and report on `err`.
fn run_json(args: &RegexArgs, out: &mut dyn Write, err: &mut dyn Write) -> Result<i32, Error> {
    write_all(err, "\nRunning tests\n=============\n\n")?;
    let mut header = Vec::new();
    let setup = Setup::new(args, &mut header);
    for h in &header {
        writeln!(err, "{h}").map_err(Error::Output)?;
    }
    let mut setup = setup?;
    process(args, &mut setup, out, err, true)?;
    out.flush().map_err(Error::Output)?;
    setup.report.write(err).map_err(Error::Output)?;
    Ok(0)
}

fn write_all(w: &mut dyn Write, s: &str) -> Result<(), Error> {
    w.write_all(s.as_bytes()).map_err(Error::Output)
}

/// Everything resolved before the first line is read.
struct Setup {
    filter: Filter,
    report: Report,
    source: Source,
    maxlines: usize,
    now: f64,
    total_bytes: Option<u64>,
    /// `--timezone` given: the reference then computes integer times.
    zone_given: bool,
    pref_counter: Option<Probe>,
    /// One per ignoreregex, when there are several (a single one needs no probe).
    ignore_probes: Vec<Probe>,
    dns: Resolver,
}

enum Source {
    File(LineReader<File>),
    Stdin(LineReader<io::Stdin>),
    Literal(std::vec::IntoIter<String>),
    Journal(Box<bailiff_source::journal::JournalSource>),
}

impl Setup {
    // The filter crate's config grows fields; keep the `..Default` even when all are set.
    #[allow(clippy::needless_update)]
    /// Resolve everything; the header lines fail2ban-regex prints go to `header`
    /// as they are known.
    fn new(args: &RegexArgs, header: &mut Vec<String>) -> Result<Setup, Error> {
        // Options are checked before any file is read.
        let usedns = if args.raw {
            UseDns::Raw
        } else {
            match args.usedns.as_deref() {
                None => UseDns::Warn,
                Some(s) => parse_usedns(s)?,
            }
        };
        let encoding = match &args.encoding {
            None => Encoding::Utf8,
            Some(e) => Encoding::from_name(e).ok_or_else(|| Error::Option {
                option: "--encoding",
                message: format!("unsupported encoding {e:?} (utf-8 and latin-1 are)"),
            })?,
        };
        let now = args.now.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        });
        let date_opts = DateOptions {
            reference_year: year_of(now),
            any_year: true,
        };

        let mut maxlines: Option<usize> = None;
        let mut datepattern: Option<String> = None;
        if let Some(n) = args.maxlines.filter(|n| *n > 0) {
            maxlines = Some(n);
            header.push(format!("Use         maxlines : {n}"));
        }
        if let Some(p) = &args.datepattern {
            header.push(format!(
                "Use      datepattern : {p} : {}",
                pattern_name(p, &date_opts)?
            ));
            datepattern = Some(p.clone());
        }

        let is_journal = !Path::new(&args.log).is_file() && args.log.starts_with("systemd-journal");
        // REGEX: a filter (name or file) or a literal failregex.
        let mut def = FilterDef::default();
        match find_filter(&args.regex, &args.config)? {
            Some(mut found) => {
                header.push(found.header.clone());
                if !found.args.is_empty() {
                    header.push(format!("Use   filter options : {}", py_dict(&found.args)));
                }
                // The journal backend reads filters with logtype=journal, unless asked otherwise.
                if is_journal && !found.args.iter().any(|(k, _)| k == "logtype") {
                    found.args.push(("logtype".into(), "journal".into()));
                }
                def = found.load(&args.regex)?;
                if args.verbosity() > 1 {
                    // The options the filter ended up with for what was asked.
                    let mut real = Vec::new();
                    let keys = ["logtype", "datepattern"]
                        .into_iter()
                        .map(str::to_string)
                        .chain(found.args.iter().map(|(k, _)| k.clone()));
                    for k in keys {
                        if real.iter().any(|(r, _): &(String, String)| *r == k) {
                            continue;
                        }
                        let v = def.options.get(&k).cloned().or_else(|| match k.as_str() {
                            "datepattern" => def.datepattern.clone(),
                            _ => None,
                        });
                        if let Some(v) = v {
                            real.push((k, v));
                        }
                    }
                    header.push(format!("Real  filter options : {}", py_dict(&real)));
                }
                if maxlines.is_none() {
                    if let Some(n) = def.maxlines {
                        maxlines = Some(n);
                        header.push(format!("Use         maxlines : {n}"));
                    }
                }
                if datepattern.is_none() {
                    if let Some(p) = def.datepattern.clone().filter(|p| !p.trim().is_empty()) {
                        header.push(format!(
                            "Use      datepattern : {p} : {}",
                            pattern_name(&p, &date_opts)?
                        ));
                        datepattern = Some(p);
                    }
                }
            }
            None => {
                header.push(format!(
                    "Use   failregex line : {}",
                    shortstr(&args.regex, 53)
                ));
                def.failregex = vec![args.regex.clone()];
            }
        }
        // IGNOREREGEX: a literal, or a filter file's ignoreregex.
        if let Some(ig) = &args.ignoreregex {
            let p = Path::new(ig);
            if ig.contains('/') && p.is_file() {
                header.push(format!("Use ignoreregex file : {ig}"));
                let other =
                    bailiff_config::read_filter_file(&absolute(p), &[]).map_err(|source| {
                        Error::Config {
                            spec: ig.clone(),
                            source: Box::new(source),
                        }
                    })?;
                def.ignoreregex.extend(other.ignoreregex);
            } else {
                header.push(format!("Use ignoreregex line : {}", shortstr(ig, 53)));
                def.ignoreregex.push(ig.clone());
            }
        }

        let maxlines = maxlines.unwrap_or(1).max(1);
        let zone = match &args.timezone {
            Some(tz) => Zone::parse_logtimezone(tz).map_err(|source| Error::Date {
                what: format!("--timezone {tz}"),
                source,
            })?,
            None => Zone::system(),
        };
        let cfg = FilterConfig {
            prefregex: def.prefregex.clone(),
            failregex: def.failregex.clone(),
            ignoreregex: def.ignoreregex.clone(),
            maxlines,
            datepattern: datepattern.clone(),
            usedns,
            logtimezone: args.timezone.clone(),
            check_all: !args.no_check_all && args.out.is_none(),
            any_year: true,
            raw_host: args.raw,
            ..FilterConfig::default()
        };
        let mut filter = Filter::new(&cfg, zone, now)?;
        // As the reference: pending multi-line matches count unless printing with -o.
        filter.set_ignore_pending(args.out.is_some());

        let mut report = Report::new(ReportOptions {
            verbose: args.verbosity(),
            verbose_date: args.verbose_date,
            list_cap: args.maxlines.filter(|n| *n > 0).unwrap_or(20),
            print_all_matched: args.print_all_matched,
            print_all_missed: args.print_all_missed,
            print_all_ignored: args.print_all_ignored,
            print_no_missed: args.print_no_missed,
            print_no_ignored: args.print_no_ignored,
            debuggex: args.debuggex.then(|| {
                // The reference expands `<HOST>` with names unless --usedns is "no".
                let dns = args.usedns.as_deref() != Some("no");
                let pairs = |l: &[String]| {
                    l.iter()
                        .map(|r| (r.clone(), crate::display::expand_tags(r, dns)))
                        .collect()
                };
                crate::report::Debuggex {
                    failregex: pairs(&def.failregex),
                    ignoreregex: pairs(&def.ignoreregex),
                    multiline: maxlines > 1,
                }
            }),
        });
        report.failregex = def.failregex.iter().map(|r| RegexStat::new(r)).collect();
        report.ignoreregex = def.ignoreregex.iter().map(|r| RegexStat::new(r)).collect();
        // The prefregex is shown expanded, as the reference shows it.
        let with_dns = usedns != UseDns::No;
        let pref = def.prefregex.as_deref().filter(|p| !p.is_empty());
        report.prefregex = pref.map(|p| (crate::display::expand(p, with_dns), 0));
        // Only the summary needs the count of lines the prefregex matched.
        let pref_counter = match pref {
            Some(p) if args.out.is_none() && maxlines == 1 => Probe::new(p, with_dns),
            _ => None,
        };
        let ignore_probes = if args.out.is_none() && maxlines == 1 && def.ignoreregex.len() > 1 {
            def.ignoreregex
                .iter()
                .filter_map(|r| Probe::new(r, with_dns))
                .collect()
        } else {
            Vec::new()
        };
        report.multiline_window = maxlines;

        // LOG.
        let log = args.log.as_str();
        let mut total_bytes = None;
        let source = if log == "-" {
            header.push("Use         log file : <stdin>".into());
            header.push(format!(
                "Use         encoding : {}",
                encoding.display_name()
            ));
            Source::Stdin(LineReader::new(io::stdin(), encoding))
        } else if Path::new(log).is_file() {
            let f = File::open(log).map_err(|source| Error::Io {
                path: log.into(),
                source,
            })?;
            total_bytes = f.metadata().ok().map(|m| m.len());
            header.push(format!("Use         log file : {log}"));
            header.push(format!(
                "Use         encoding : {}",
                encoding.display_name()
            ));
            // Like the reference, a last line without its newline is not read yet.
            Source::File(LineReader::new(f, encoding).keep_partial_last_line(false))
        } else if is_journal {
            if !bailiff_source::journal::available() {
                return Err(Error::Journal(
                    "the systemd journal library (libsystemd.so.0) is not available".into(),
                ));
            }
            header.push("Use         systemd journal".into());
            header.push(format!(
                "Use         encoding : {}",
                encoding.display_name()
            ));
            let (_, backend_args) =
                bailiff_config::parse_call(log).map_err(|source| Error::FilterName {
                    spec: log.to_string(),
                    source: Box::new(source),
                })?;
            // -m wins over the filter's journalmatch.
            let matches = match &args.journalmatch {
                Some(m) => m.clone(),
                None => def.journalmatch.join("\n"),
            };
            let opts = bailiff_source::journal::JournalOptions::from_args(
                backend_args.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                &matches,
            )
            .map_err(|e| Error::Journal(e.to_string()))?;
            if !matches.trim().is_empty() {
                header.push(format!(
                    "Use    journal match : {}",
                    matches.split_whitespace().collect::<Vec<_>>().join(" ")
                ));
            }
            let mut j = bailiff_source::journal::JournalSource::open(&opts)
                .map_err(|e| Error::Journal(e.to_string()))?;
            j.seek_head().map_err(|e| Error::Journal(e.to_string()))?;
            Source::Journal(Box::new(j))
        } else if maxlines <= 1 && !log.contains('\n') {
            header.push(format!(
                "Use      single line : {}",
                shortstr(&log.replace('\n', "\\n"), 53)
            ));
            Source::Literal(vec![log.to_string()].into_iter())
        } else {
            let lines: Vec<String> = log.split('\n').map(str::to_string).collect();
            header.push(format!("Use      multi line : {} line(s)", lines.len()));
            for (i, l) in lines.iter().enumerate() {
                if i >= 5 {
                    header.push("| ...".into());
                    break;
                }
                let n = (i + 1).to_string();
                let n: String = n.chars().take(2).collect();
                header.push(format!("| {n:>2}: {}", shortstr(l, 53)));
            }
            header.push("`-".into());
            Source::Literal(lines.into_iter())
        };
        header.push(String::new());

        Ok(Setup {
            filter,
            report,
            source,
            maxlines,
            now,
            total_bytes,
            zone_given: args.timezone.is_some(),
            pref_counter,
            ignore_probes,
            dns: Resolver::default(),
        })
    }
}

/// Regex errors (match limit...) printed before they are only counted.
const MAX_ERRORS_SHOWN: u64 = 10;

/// Bytes of `-o` output gathered before they are written out.
const OUT_CHUNK: usize = 64 << 10;

/// Stream every line through the filter into the chosen sink.
fn process(
    args: &RegexArgs,
    s: &mut Setup,
    out: &mut dyn Write,
    err: &mut dyn Write,
    json: bool,
) -> Result<(), Error> {
    let started = Instant::now();
    let outfmt = args.out.as_deref().map(OutFormat::parse);
    if outfmt.as_ref().is_some_and(|f| !f.reads_matches()) {
        // Nothing reads the matched lines: failures need not copy them.
        s.filter.set_keep_matches(false);
    }
    if let Some(f) = &outfmt {
        // Failures carry only the ticket data the output reads.
        s.filter.set_keep_keys(f.reads_keys());
        // `row` prints fail2ban's dict as it is: its order, None values.
        s.filter.set_ordered_data(*f == OutFormat::Row);
    }
    // Results streamed to the same terminal would be garbled by the bar.
    let streaming = outfmt.is_some() || json;
    let mut progress = Progress::new(s.total_bytes, started, streaming);
    // The source hands out lines while the rest of the setup takes them.
    let mut source = std::mem::replace(&mut s.source, Source::Literal(Vec::new().into_iter()));
    let zone_given = s.zone_given;
    let mut lines = Lines {
        args,
        s,
        verbose: args.verbosity() > 0,
        json,
        outfmt,
        line_no: 0,
        regex_errors: 0,
        ambiguous: 0,
        buf: Vec::new(),
        int_time: IntTimeCache::new(zone_given),
        last_date: (Vec::new(), f64::NAN),
    };
    // The filter's result, handed back line after line so that its storage is
    // reused ([`Filter::process_line_into`]).
    let mut res = LineResult::default();
    let read = read_source(&mut source, &mut lines, &mut res, &mut progress, out, err);
    // What was printed so far goes out even when reading failed.
    let flushed = out.write_all(&lines.buf).map_err(Error::Output);
    let (ambiguous, regex_errors) = (lines.ambiguous, lines.regex_errors);
    s.source = source;
    read?;
    flushed?;
    progress.finish();
    // The detector counts its own hits (empty-date templates included) and keeps
    // its templates in fail2ban's search order.
    s.report.date_templates = s
        .filter
        .date_detector()
        .templates_report()
        .into_iter()
        .map(|t| DateTemplateRow {
            name: t.name,
            hits: t.hits,
            weight: t.weight,
            template_weight: t.template_weight,
            pattern: t.pattern,
            regex: t.regex,
        })
        .collect();
    if ambiguous > MAX_ERRORS_SHOWN {
        writeln!(
            err,
            "WARNING: {ambiguous} lines with an ambiguous host in all (first {MAX_ERRORS_SHOWN} shown)"
        )
        .map_err(Error::Output)?;
    }
    if regex_errors > MAX_ERRORS_SHOWN {
        writeln!(
            err,
            "WARNING: {regex_errors} regex evaluations gave up in all (first {MAX_ERRORS_SHOWN} shown)"
        )
        .map_err(Error::Output)?;
    }
    s.report.elapsed = Some(started.elapsed().as_secs_f64());
    Ok(())
}

/// Feed every line of `source` to `lines`.
fn read_source(
    source: &mut Source,
    lines: &mut Lines,
    res: &mut LineResult,
    progress: &mut Progress,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    match source {
        Source::File(r) => read_file(r, lines, res, progress, out, err),
        Source::Stdin(r) => read_file(r, lines, res, progress, out, err),
        Source::Literal(it) => {
            for l in it {
                lines.line(l.trim_end_matches(['\r', '\n']), None, res, out, err)?;
            }
            Ok(())
        }
        Source::Journal(j) => loop {
            match j.next_entry() {
                Ok(Some(e)) => {
                    let t = e
                        .time
                        .duration_since(UNIX_EPOCH)
                        .map(|d| d.as_secs_f64())
                        .unwrap_or(0.0);
                    lines.line(&e.line, Some(t), res, out, err)?;
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(Error::Journal(e.to_string())),
            }
        },
    }
}

/// A file or stdin: a block of lines at a time, borrowed from the reader.
fn read_file<R: io::Read>(
    r: &mut LineReader<R>,
    lines: &mut Lines,
    res: &mut LineResult,
    progress: &mut Progress,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<(), Error> {
    loop {
        let chunk = match r.next_chunk() {
            Ok(Some(c)) => c,
            Ok(None) => return Ok(()),
            Err(source) => {
                return Err(Error::Io {
                    path: PathBuf::from(&lines.args.log),
                    source,
                })
            }
        };
        for line in chunk_lines(chunk) {
            lines.line(line, None, res, out, err)?;
        }
        progress.tick(r.bytes_read(), lines.line_no);
    }
}

/// What every line goes through: the filter, then the chosen sink.
struct Lines<'a> {
    args: &'a RegexArgs,
    s: &'a mut Setup,
    verbose: bool,
    json: bool,
    outfmt: Option<OutFormat>,
    line_no: u64,
    regex_errors: u64,
    ambiguous: u64,
    /// `-o` output not written out yet.
    buf: Vec<u8>,
    int_time: IntTimeCache,
    /// The text and time of the last date found (`-o`).
    last_date: (Vec<u8>, f64),
}

impl Lines<'_> {
    /// One log line (`entry_time`: a journal entry's time).
    /// `res` is the filter's result storage, reused from line to line.
    fn line(
        &mut self,
        line: &str,
        entry_time: Option<f64>,
        res: &mut LineResult,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<(), Error> {
        self.line_no += 1;
        let line_no = self.line_no;
        let s = &mut *self.s;
        // Journal entries are all tested; file lines skip blanks and comments.
        if entry_time.is_none() && is_skipped(line) {
            return Ok(());
        }
        match entry_time {
            Some(t) => s.filter.process_entry_into(line, t, s.now, res),
            None => s.filter.process_line_into(line, s.now, res),
        }
        // One pass over the failures for what the sinks need to know.
        let kinds = |fs: &[bailiff_filter::Failure]| {
            let (mut needs_dns, mut nofail, mut any_fail) = (false, false, false);
            for f in fs {
                needs_dns |= f.needs_dns;
                nofail |= f.kind == FailureKind::NoFail && !f.pending;
                any_fail |= f.kind == FailureKind::Fail;
            }
            (needs_dns, nofail, any_fail)
        };
        let (needs_dns, mut nofail, mut any_fail) = kinds(&res.failures);
        if needs_dns {
            // Names resolve to no address or to several: count again.
            s.dns.resolve_failures(&mut res.failures);
            (_, nofail, any_fail) = kinds(&res.failures);
        }
        if !res.ambiguous.is_empty() && self.outfmt.is_some() {
            self.ambiguous += 1;
            if self.ambiguous <= MAX_ERRORS_SHOWN {
                writeln!(
                    err,
                    "WARNING: line {line_no}: not a failure, the host could be another address ({})",
                    ambiguity_detail(&res.ambiguous)
                )
                .map_err(Error::Output)?;
            }
        }
        for e in &res.errors {
            self.regex_errors += 1;
            if self.regex_errors <= MAX_ERRORS_SHOWN {
                writeln!(err, "WARNING: line {line_no}: {e}").map_err(Error::Output)?;
            }
        }
        let ignored = nofail || res.ignored;
        if let Some(fmt) = &self.outfmt {
            let date_text = res.date.as_ref().and_then(|d| line.get(d.start..d.end));
            if any_fail && !ignored {
                let undated = s.filter.last_line_undated();
                let int_time = match date_text {
                    Some(t) if entry_time.is_none() => self
                        .int_time
                        .is_int_shaped(t, s.filter.date_detector().shape()),
                    Some(t) => self.int_time.is_int(t),
                    // A line without a date that took the last one (under a minute
                    // old) has its time as the reference held it.
                    None if !undated => {
                        res.failures.iter().all(|f| f.time == self.last_date.1) && {
                            let last = std::mem::take(&mut self.last_date.0);
                            let is_int =
                                std::str::from_utf8(&last).is_ok_and(|t| self.int_time.is_int(t));
                            self.last_date.0 = last;
                            is_int
                        }
                    }
                    None => false,
                };
                fmt.write(&res.failures, int_time, undated, &mut self.buf);
                if self.buf.len() >= OUT_CHUNK {
                    out.write_all(&self.buf).map_err(Error::Output)?;
                    self.buf.clear();
                }
            }
            if let (Some(t), Some(d)) = (date_text, &res.date) {
                // The last date, which the next lines without one may take.
                self.last_date.0.clear();
                self.last_date.0.extend_from_slice(t.as_bytes());
                self.last_date.1 = d.time;
            }
            return Ok(());
        }
        if self.json {
            write_json(out, line_no, res).map_err(Error::Output)?;
        }
        let pref_hit = s
            .pref_counter
            .as_mut()
            .map(|p| p.matches(line, res.date.as_ref().map(|d| (d.start, d.end))));
        if self.verbose && pref_hit == Some(true) {
            // The reference lists the groups of the first matches, then "...".
            let cap = s.report.opts.list_cap;
            let n = s.report.prefregex_groups.len();
            if n < cap {
                if let Some(g) = s.pref_counter.as_mut().and_then(|p| p.groups()) {
                    s.report.prefregex_groups.push(g);
                }
            } else if n == cap {
                s.report.prefregex_groups.push("...".into());
            }
        }
        let date = res.date.as_ref().map(|d| (d.start, d.end));
        let ignored_by = if res.ignored && s.ignore_probes.len() == s.report.ignoreregex.len() {
            s.ignore_probes
                .iter_mut()
                .position(|p| p.matches(line, date))
        } else {
            None
        };
        tally(
            &mut s.report,
            line,
            res,
            s.maxlines,
            self.verbose,
            pref_hit,
            ignored_by,
        );
        Ok(())
    }
}

/// Count one line's result into the report.
fn tally(
    r: &mut Report,
    line: &str,
    res: &LineResult,
    maxlines: usize,
    verbose: bool,
    pref_hit: Option<bool>,
    ignored_by: Option<usize>,
) {
    let mut fails = 0usize;
    let mut nofail = false;
    for f in &res.failures {
        if let Some(st) = r.failregex.get_mut(f.regex) {
            st.hits += 1;
            if verbose {
                // A pending failure has no id yet: the reference prints None.
                let id = if f.pending && f.fid.is_empty() {
                    "None".to_string()
                } else {
                    f.fid.clone()
                };
                st.ids.push((id, f.time, fails > 1));
            }
        }
        // A pending multi-line failure (no address yet) counts as a match, as the
        // reference counts it.
        match f.kind {
            FailureKind::Fail => fails += 1,
            FailureKind::NoFail if f.pending => fails += 1,
            FailureKind::NoFail => nofail = true,
        }
    }
    if res.ignored {
        // The filter reports that an ignoreregex dropped a match, not which one: the
        // probes tell when there are several; otherwise credit the first.
        if let Some(st) = r.ignoreregex.get_mut(ignored_by.unwrap_or(0)) {
            st.hits += 1;
        }
    }
    if let Some((_, n)) = &mut r.prefregex {
        // Without a count of our own (multi-line filters), lines that reached a
        // failregex passed the prefregex.
        if pref_hit.unwrap_or(!res.failures.is_empty() || res.ignored) {
            *n += 1;
        }
    }
    if maxlines > 1 {
        for f in &res.failures {
            for m in &f.matches {
                if m != line {
                    r.consumed_earlier(m);
                }
            }
        }
    }
    let kind = if nofail || res.ignored {
        LineKind::Ignored
    } else if fails > 0 {
        LineKind::Matched
    } else {
        LineKind::Missed
    };
    r.add_line(line, kind);
    if kind == LineKind::Missed && !res.ambiguous.is_empty() {
        r.add_ambiguous(line, ambiguity_detail(&res.ambiguous));
    }
}

/// `addresses: a, b (readings)` for the report and warnings.
fn ambiguity_detail(list: &[bailiff_filter::Ambiguity]) -> String {
    let parts: Vec<String> = list
        .iter()
        .map(|a| {
            format!(
                "addresses: {} ({})",
                a.candidates.join(", "),
                ambiguity_kind(a.kind)
            )
        })
        .collect();
    parts.join("; ")
}

fn ambiguity_kind(k: bailiff_filter::AmbiguityKind) -> &'static str {
    use bailiff_filter::AmbiguityKind as K;
    match k {
        K::Readings => "readings",
        K::RepeatedRecord => "repeated-record",
        K::TooManyAddresses => "too-many-addresses",
        K::NumericHost => "numeric-host",
    }
}

/// `--json`: one object per result, written field by field (no intermediate values).
fn write_json(out: &mut dyn Write, line_no: u64, res: &LineResult) -> io::Result<()> {
    fn js<T: serde::Serialize + ?Sized>(out: &mut dyn Write, v: &T) -> io::Result<()> {
        serde_json::to_writer(out, v).map_err(io::Error::from)
    }
    for f in &res.failures {
        let kind = match f.kind {
            FailureKind::Fail => "fail",
            FailureKind::NoFail => "nofail",
        };
        write!(out, "{{\"line\":{line_no},\"kind\":\"{kind}\",\"id\":")?;
        js(out, &f.fid)?;
        out.write_all(b",\"time\":")?;
        js(out, &f.time)?;
        write!(out, ",\"regex\":{},\"fields\":{{", f.regex)?;
        let mut first = true;
        for (k, v) in f.data.iter().filter(|(k, _)| k.as_str() != "matches") {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            js(out, k)?;
            out.write_all(b":")?;
            js(out, v)?;
        }
        out.write_all(b"},\"matches\":")?;
        js(out, &f.matches)?;
        writeln!(out, ",\"pending\":{}}}", f.pending)?;
    }
    for a in &res.ambiguous {
        write!(
            out,
            "{{\"line\":{line_no},\"kind\":\"ambiguous\",\"id\":null,\"time\":"
        )?;
        js(out, &a.time)?;
        write!(
            out,
            ",\"regex\":{},\"reason\":\"{}\",\"candidates\":",
            a.regex,
            ambiguity_kind(a.kind)
        )?;
        js(out, &a.candidates)?;
        out.write_all(b",\"fields\":{},\"matches\":")?;
        js(out, &a.matches)?;
        out.write_all(b",\"pending\":false}\n")?;
    }
    if res.ignored && res.failures.is_empty() {
        write!(
            out,
            "{{\"line\":{line_no},\"kind\":\"ignored\",\"id\":null,\"time\":"
        )?;
        js(out, &res.date.as_ref().map(|d| d.time))?;
        writeln!(
            out,
            ",\"regex\":null,\"fields\":{{}},\"matches\":[],\"pending\":false}}"
        )?;
    }
    Ok(())
}

fn parse_usedns(s: &str) -> Result<UseDns, Error> {
    match s.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" | "on" => Ok(UseDns::Yes),
        "no" | "false" | "0" | "off" => Ok(UseDns::No),
        "warn" => Ok(UseDns::Warn),
        "raw" => Ok(UseDns::Raw),
        _ => Err(Error::Option {
            option: "--usedns",
            message: format!("{s:?} is not one of yes, no, warn, raw"),
        }),
    }
}

/// The name fail2ban-regex prints after a date pattern.
fn pattern_name(p: &str, opts: &DateOptions) -> Result<String, Error> {
    let d = DateDetector::new(Some(p), opts).map_err(|source| Error::Date {
        what: format!("datepattern {p:?}"),
        source,
    })?;
    Ok(d.describe().1)
}

/// `{'k': 'v', ...}` as Python prints a dict of strings.
fn py_dict(args: &[(String, String)]) -> String {
    let items: Vec<String> = args
        .iter()
        .map(|(k, v)| {
            format!(
                "{}: {}",
                crate::out::py_repr_str(k),
                crate::out::py_repr_str(v)
            )
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn year_of(now: f64) -> i32 {
    jiff::Timestamp::from_second(now as i64)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).year() as i32)
        .unwrap_or(2000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usedns_values() {
        assert_eq!(parse_usedns("RAW").unwrap(), UseDns::Raw);
        assert!(parse_usedns("maybe").is_err());
    }

    #[test]
    fn dict_repr() {
        assert_eq!(
            py_dict(&[("mode".into(), "aggressive".into())]),
            "{'mode': 'aggressive'}"
        );
    }
}
