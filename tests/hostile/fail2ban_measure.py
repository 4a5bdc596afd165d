#!/usr/bin/python3
"""Runs the hostile corpus through the real fail2ban-regex and counts its mistakes.

For every (filter, options) group of corpus.jsonl, the lines go to a temporary log
file and `fail2ban-regex -o '<ip>|<msg>' LOG 'filter[opts]'` reports, per matched
line, the address fail2ban would ban (its default `usedns = warn`, first matching
failregex, as the daemon does). Each record is then classed:

  bystander  fail2ban would ban an address only attacker text supplied (the bug)
  attacker   fail2ban bans the address the daemon wrote
  ambiguous  (bailiff only) reported ambiguous, nobody banned
  none       no failure

Usage: fail2ban_measure.py [--json] [--bailiff BIN] [CORPUS]
  --json          print one result record per corpus line on stdout (summary on stderr)
  --bailiff BIN   measure `BIN regex --json` instead (its "fail" results; lines it
                  reports "ambiguous" are counted apart)
Exit status 0; this is a measurement, not a test.
"""

import ipaddress
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict, OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))


def canon(text):
    t = text.strip().strip("[]")
    try:
        a = ipaddress.ip_address(t)
        if a.version == 6 and a.ipv4_mapped:
            a = a.ipv4_mapped
        return str(a)
    except ValueError:
        return t.lower()


def spec(filt, opts):
    if not opts:
        return filt
    return filt + "[" + ",".join(f"{k}={v}" for k, v in sorted(opts.items())) + "]"


def run_group(filt, opts, lines):
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        for line in lines:
            f.write(line + "\n")
        path = f.name
    try:
        out = subprocess.run(
            ["fail2ban-regex", "-o", "<ip>|<msg>", path, spec(filt, opts)],
            capture_output=True, text=True, timeout=300,
        )
    finally:
        os.unlink(path)
    found = defaultdict(set)
    for row in out.stdout.splitlines():
        ip, sep, msg = row.partition("|")
        if sep:
            found[msg].add(canon(ip))
    if out.returncode != 0:
        sys.stderr.write(f"fail2ban-regex {spec(filt, opts)}: exit {out.returncode}: {out.stderr[-500:]}\n")
    return found


def run_group_bailiff(binary, filt, opts, lines):
    """`bailiff regex --json`: per line number, the failure ids and whether any result
    was ambiguous. Returns a dict keyed by line text, as run_group does."""
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        for line in lines:
            f.write(line + "\n")
        path = f.name
    try:
        out = subprocess.run([binary, "regex", "--json", path, spec(filt, opts)],
                             capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(path)
    found = defaultdict(set)
    ambiguous = set()
    for row in out.stdout.splitlines():
        try:
            r = json.loads(row)
        except ValueError:
            continue
        n = r.get("line")
        if not isinstance(n, int) or not 1 <= n <= len(lines):
            continue
        if r.get("kind") == "fail" and r.get("id"):
            found[lines[n - 1]].add(canon(r["id"]))
        elif r.get("kind") == "ambiguous":
            ambiguous.add(lines[n - 1])
    if out.returncode != 0:
        sys.stderr.write(f"bailiff regex {spec(filt, opts)}: exit {out.returncode}: {out.stderr[-500:]}\n")
    return found, ambiguous


def main():
    args = sys.argv[1:]
    as_json = "--json" in args
    args = [a for a in args if a != "--json"]
    binary = None
    if "--bailiff" in args:
        i = args.index("--bailiff")
        binary = args[i + 1]
        del args[i:i + 2]
    corpus = args[0] if args else os.path.join(HERE, "corpus.jsonl")
    recs = [json.loads(l) for l in open(corpus) if l.strip()]
    groups = OrderedDict()
    for i, r in enumerate(recs):
        groups.setdefault((r["filter"], json.dumps(r["opts"], sort_keys=True)), []).append(i)
    counts = defaultdict(int)
    by_filter = defaultdict(int)
    for (filt, opts), idx in groups.items():
        lines = []
        for i in idx:
            lines.extend(recs[i].get("before", []))
            lines.append(recs[i]["line"])
        ambiguous = set()
        if binary:
            found, ambiguous = run_group_bailiff(binary, filt, json.loads(opts), lines)
        else:
            found = run_group(filt, json.loads(opts), lines)
        for i in idx:
            r = recs[i]
            got = set()
            for l in r.get("before", []) + [r["line"]]:
                got |= found.get(l, set())
            bys = {canon(b) for b in r["bystanders"]}
            if got & bys:
                cls = "bystander"
                by_filter[spec(filt, json.loads(opts))] += 1
            elif canon(r["attacker"]) in got:
                cls = "attacker"
            elif r["line"] in ambiguous:
                cls = "ambiguous"
            else:
                cls = "none"
            counts[cls] += 1
            if as_json:
                print(json.dumps({"n": i + 1, "filter": spec(filt, json.loads(opts)), "vector": r["vector"],
                                  "class": cls, "banned": sorted(got)}))
    total = len(recs)
    tool = "bailiff regex" if binary else "fail2ban-regex"
    sys.stderr.write(
        f"{tool} on {total} hostile lines: {counts['bystander']} would ban a bystander, "
        f"{counts['attacker']} ban the attacker, {counts['ambiguous']} ambiguous, "
        f"{counts['none']} ban nobody\n")
    for k, v in sorted(by_filter.items()):
        sys.stderr.write(f"  {k}: {v} bystander bans\n")


if __name__ == "__main__":
    main()
