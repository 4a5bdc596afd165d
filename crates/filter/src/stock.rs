//! Test support: the installed fail2ban reference (stock filters, sample logs) and
//! the repository's hostile corpus, for the unit tests that sweep every stock filter.

use std::path::Path;

/// The stock configuration and sample-log directories, or None (after saying so
/// loudly) when fail2ban is not installed; under `CI=true` their absence fails.
pub(crate) fn reference() -> Option<(&'static Path, &'static Path)> {
    let confdir = Path::new("/etc/fail2ban");
    let logs = Path::new("/usr/lib/python3/dist-packages/fail2ban/tests/files/logs");
    if confdir.join("filter.d").is_dir() && logs.is_dir() {
        return Some((confdir, logs));
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "fail2ban is not installed"
    );
    eprintln!("SKIPPED: fail2ban's filters or sample logs not installed");
    None
}

/// The names of the filters in `confdir/filter.d`, sorted.
pub(crate) fn filter_names(confdir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(confdir.join("filter.d"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".conf").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Every stock filter as read with no arguments, then sshd in its `ddos`, `extra`
/// and `aggressive` modes: (name, definition). Filters that do not read are left out.
pub(crate) fn definitions(confdir: &Path) -> Vec<(String, bailiff_config::FilterDef)> {
    let plain = filter_names(confdir).into_iter().map(|n| (n, Vec::new()));
    let modes = ["ddos", "extra", "aggressive"].map(|m| {
        (
            "sshd".to_string(),
            vec![("mode".to_string(), m.to_string())],
        )
    });
    plain
        .chain(modes)
        .filter_map(|(name, args)| {
            let def = bailiff_config::read_filter(confdir, &name, &args).ok()?;
            Some((name, def))
        })
        .collect()
}

/// A filter's prefregex, failregexes and ignoreregexes, in that order.
pub(crate) fn regexes(def: &bailiff_config::FilterDef) -> impl Iterator<Item = &String> {
    def.prefregex
        .iter()
        .chain(&def.failregex)
        .chain(&def.ignoreregex)
}

/// The hostile corpus (`tests/hostile/corpus.jsonl`): (filter, line) pairs.
pub(crate) fn hostile_corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus =
        std::fs::read_to_string(root.join("tests/hostile/corpus.jsonl")).expect("hostile corpus");
    corpus
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("filter"), s("line"))
        })
        .collect()
}

/// What the regex sweeps search for filter `name`: its sample log's lines (comments
/// left out) and its hostile-corpus lines, each whole and as the text after the first
/// `: ` (where anchored failregexes begin), with a final newline.
pub(crate) fn subjects(logs: &Path, name: &str, corpus: &[(String, String)]) -> Vec<String> {
    let mut lines: Vec<String> = std::fs::read(logs.join(name))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    lines.extend(
        corpus
            .iter()
            .filter(|(f, _)| f == name)
            .map(|(_, l)| l.clone()),
    );
    lines
        .iter()
        .flat_map(|l| {
            let tail = l.split_once(": ").map(|(_, t)| format!("{t}\n"));
            std::iter::once(format!("{l}\n")).chain(tail)
        })
        .collect()
}
