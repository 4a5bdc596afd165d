"""Reference answers from fail2ban's own DateDetector, for the Rust oracle test.

Run with /usr/bin/python3 (Debian's fail2ban). Prints one JSON document:
{"templates": {...}, "runs": [{"name", "datepattern", "logtimezone", "lines",
"results"}]}. Each result is null (no template matched) or
[start_byte, end_byte, time_or_null, template_name].

Each run gets a fresh detector and fresh template hit counters, as if each log
were read by its own fail2ban process.
"""
import json
import os
import re
import sys

from fail2ban.server.mytime import MyTime

TEST_NOW = 1124013600
MyTime.setTime(TEST_NOW)
MyTime.setAlternateNow(TEST_NOW)

from fail2ban.server.datedetector import DateDetector, DD_patternCache  # noqa: E402
from fail2ban.client.filterreader import FilterReader  # noqa: E402

LOGS = "/usr/lib/python3/dist-packages/fail2ban/tests/files/logs"
CONF = "/etc/fail2ban"


def read_lines(path):
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return [l.rstrip("\r\n") for l in f.read().split("\n")]


def reset_hits():
    for t in DateDetector._defCache.templates:
        t.hits = 0
    for t in DateDetector._defCache.defaultTemplates:
        t.hits = 0
    for v in list(DD_patternCache._cache.values()):
        v[0].hits = 0


def detector(datepattern, logtimezone):
    dd = DateDetector()
    if datepattern is not None:
        for p in filter(bool, map(str.strip, re.split("\n+", datepattern))):
            dd.appendTemplate(p)
    if not dd.templates:
        dd.addDefaultTemplate()
    dd.default_tz = logtimezone
    reset_hits()
    return dd


def nbytes(s):
    return len(s.encode("utf-8"))


def run(name, lines, datepattern=None, logtimezone=None):
    dd = detector(datepattern, logtimezone)
    results = []
    for line in lines:
        m, tpl = dd.matchTime(line)
        if not m:
            results.append(None)
            continue
        s, e = m.start(1), m.end(1)
        if s < 0:
            results.append([-1, -1, None, tpl.name])
            continue
        t = None
        if e > s:
            try:
                r = dd.getTime(line[s:e], (m, tpl))
                t = r[0] if r else None
            except Exception:
                t = None
        results.append([nbytes(line[:s]), nbytes(line[:e]), t, tpl.name])
    return {
        "name": name,
        "datepattern": datepattern,
        "logtimezone": logtimezone,
        "lines": lines,
        "results": results,
    }


def filter_datepattern(name, opts=None):
    fr = FilterReader(name, "jail", dict(opts or {}), basedir=CONF)
    if not fr.read():
        return None, False
    fr.getOptions({})
    return fr.getCombined().get("datepattern"), True


def option_sets(path):
    """The filter option sets a sample log is tested with (its filterOptions headers)."""
    sets = [{}]
    for line in read_lines(path):
        m = re.match(r"^#+ ?filterOptions:(.+)$", line)
        if not m:
            continue
        v = json.loads(m.group(1))
        for o in v if isinstance(v, list) else [v]:
            o = {k: x for k, x in o.items() if not k.startswith("test.")}
            if o not in sets:
                sets.append(o)
    return sets


def main():
    out = {"runs": []}
    dd = detector(None, None)
    out["templates"] = [[t.name, t.regex, t.template.weight] for t in dd.templates]
    logs = sorted(
        os.path.relpath(os.path.join(d, f), LOGS)
        for d, _, files in os.walk(LOGS) for f in files)
    # 1. default templates on every line of every sample log
    for f in logs:
        out["runs"].append(run("default:" + f, read_lines(os.path.join(LOGS, f))))
    # 2. each filter's datepattern (per option set the log is tested with) on its log
    for f in logs:
        if not os.path.exists(os.path.join(CONF, "filter.d", f + ".conf")):
            continue
        seen = set()
        for opts in option_sets(os.path.join(LOGS, f)):
            dp, ok = filter_datepattern(f, opts)
            if not ok or dp is None or dp in seen:
                continue
            seen.add(dp)
            label = "filter:%s%s" % (f, json.dumps(opts, sort_keys=True) if opts else "")
            out["runs"].append(run(label, read_lines(os.path.join(LOGS, f)), dp))
    # 3. logtimezone forms on a few logs with year-less, zone-less dates
    for tz in ("UTC", "UTC+0200", "CET", "EST-05", "-0430"):
        for f in ("sshd", "apache-auth", "dovecot", "postfix"):
            out["runs"].append(
                run("tz=%s:%s" % (tz, f), read_lines(os.path.join(LOGS, f)), None, tz))
    # 4. extra patterns from the command line (name=pattern), run on given lines
    extra = json.loads(sys.stdin.read() or "[]") if not sys.stdin.isatty() else []
    for case in extra:
        try:
            r = run(case["name"], case["lines"], case.get("datepattern"),
                    case.get("logtimezone"))
        except Exception as e:  # fail2ban rejects the pattern (maybe only on first use)
            r = {"name": case["name"], "datepattern": case.get("datepattern"),
                 "logtimezone": case.get("logtimezone"), "error": str(e)}
        out["runs"].append(r)
    json.dump(out, sys.stdout)


main()
