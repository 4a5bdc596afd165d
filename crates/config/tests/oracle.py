# Oracle for bailiff-config tests: asks the installed fail2ban (read as a
# specification) what it makes of a configuration, and prints JSON.
#   oracle.py filters CONFDIR ARGSETS_JSON   -> {"name|args": {...} | {"error": msg}}
#   oracle.py dump CONFDIR                   -> fail2ban-client -d lines as JSON arrays
import ast, json, subprocess, sys

def filters(confdir, argsets, explicit=False):
    from fail2ban.client.filterreader import FilterReader
    import os
    out = {}
    fdir = confdir if explicit else os.path.join(confdir, "filter.d")
    names = sorted(f[:-5] for f in os.listdir(fdir) if f.endswith(".conf"))
    for name in names:
        for args in argsets:
            key = name + "|" + json.dumps(args, sort_keys=True)
            try:
                if explicit:
                    r = FilterReader(os.path.join(fdir, name + ".conf"), "oracle-jail", dict(args), share_config={}, basedir=None)
                    r.setBaseDir(None)
                    ok = r.readexplicit()
                else:
                    r = FilterReader(name, "oracle-jail", dict(args), share_config={}, basedir=confdir)
                    ok = r.read()
                if not ok:
                    out[key] = {"error": "unreadable"}
                    continue
                r.applyAutoOptions("auto")
                r.getOptions(None)
                opts = r.getCombined()
                res = {}
                for k in ("prefregex", "failregex", "ignoreregex", "maxlines", "datepattern", "journalmatch", "usedns"):
                    v = opts.get(k)
                    if v is None:
                        continue
                    if k in ("failregex", "ignoreregex", "journalmatch"):
                        v = [x for x in v.split("\n") if x != ""]
                    res[k] = v
                out[key] = res
            except Exception as e:
                out[key] = {"error": str(e)}
    print(json.dumps(out))

def dump(confdir):
    p = subprocess.run(["/usr/bin/fail2ban-client", "-d", "-c", confdir], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        if not line.startswith("["):
            print(json.dumps({"nonlist": line}))
            continue
        print(json.dumps(ast.literal_eval(line)))
    sys.stderr.write(p.stderr)

if __name__ == "__main__":
    if sys.argv[1] == "filters":
        filters(sys.argv[2], json.loads(sys.argv[3]))
    elif sys.argv[1] == "explicit":
        filters(sys.argv[2], json.loads(sys.argv[3]), explicit=True)
    else:
        dump(sys.argv[2])
