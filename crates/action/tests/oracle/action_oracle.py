"""Oracle for bailiff's action runner: reads every stock action.d file with
fail2ban's own reader (the property list `fail2ban-client -d` would send) and
substitutes the hooks with fail2ban's own CommandAction, for a fixed ticket whose
values have no shell-special characters. Prints JSON on stdout."""
import glob
import json
import os
import sys

sys.path.insert(0, "/usr/lib/python3/dist-packages")
from fail2ban.client.actionreader import ActionReader  # noqa: E402
from fail2ban.server.action import CommandAction  # noqa: E402

JAIL = json.loads(sys.argv[1])
TICKET = json.loads(sys.argv[2])
HOOKS = ["actionstart", "actionstop", "actioncheck", "actionban", "actionunban",
         "actionflush", "actionprolong", "actionreban", "actionrepair"]
TICKET_HOOKS = {"actionban", "actionunban", "actionprolong", "actionreban"}

out = []
for path in sorted(glob.glob("/etc/fail2ban/action.d/*.conf")):
    name = os.path.basename(path)[:-len(".conf")]
    reader = ActionReader(name, "sshd", dict(JAIL), basedir="/etc/fail2ban")
    if not reader.read():
        out.append({"name": name, "error": "read failed"})
        continue
    reader.getOptions({})
    props = []
    for cmd in reader.convert():
        if cmd[0] == "multi-set":
            props = [[k, str(v)] for k, v in cmd[4]]
        elif cmd[0] == "set" and len(cmd) == 6 and cmd[2] == "action":
            props = [[cmd[4], str(cmd[5])]]
    action = CommandAction(None, name)
    for k, v in props:
        setattr(action, k, v)
    cases = []
    for hook in HOOKS:
        for fam, ip in (("inet4", TICKET["ip4"]), ("inet6", TICKET["ip6"])):
            try:
                text = CommandAction.replaceTag("<%s>" % hook, action._properties,
                                                conditional="family=" + fam)
            except ValueError as e:
                cases.append({"hook": hook, "family": fam, "error": str(e)})
                continue
            if text == "<%s>" % hook or not text.strip():
                continue
            if hook in TICKET_HOOKS:
                info = dict(TICKET["info"])
                info["ip"] = ip
                info["family"] = fam
                info["ip-rev"] = TICKET["rev4"] if fam == "inet4" else TICKET["rev6"]
                info["F-*"] = TICKET["fields"]
                text = CommandAction.replaceDynamicTags(text, info)
                if isinstance(text, list):
                    cases.append({"hook": hook, "family": fam, "error": "escaped"})
                    continue
            cases.append({"hook": hook, "family": fam, "expected": text, "ticket": hook in TICKET_HOOKS})
    out.append({"name": name, "props": props, "cases": cases})
json.dump(out, sys.stdout)
