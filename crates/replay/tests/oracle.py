#!/usr/bin/python3
# Oracle for tests/oracle.rs: fail2ban 1.0.2's own filter, failure manager and ban
# manager run over a log on the log's own timestamps ("now" set to each line's time),
# as `bailiff replay --count-while-banned` does. Prints the bans as JSON.
#
#   oracle.py CONFDIR FILTER LOG MAXRETRY FINDTIME BANTIME
#
# The lines of LOG must start with an RFC 3339 UTC time stamp (the generator's
# default) so the script can set the clock before fail2ban reads the line.
import json
import sys
from datetime import datetime

from fail2ban.client.filterreader import FilterReader
from fail2ban.server.banmanager import BanManager
from fail2ban.server.filter import Filter
from fail2ban.server.mytime import MyTime
from fail2ban.server.ticket import BanTicket
from fail2ban.tests.dummyjail import DummyJail

conf, fname, log, maxretry, findtime, bantime = sys.argv[1:7]

jail = DummyJail()
flt = Filter(jail)
flt.returnRawHost = True
flt.setUseDns("raw")
flt.setMaxRetry(int(maxretry))
flt.setFindTime(int(findtime))

reader = FilterReader(fname, "replay-oracle", {}, share_config={}, basedir=conf)
assert reader.read(), "filter not found"
reader.applyAutoOptions("auto")
reader.getOptions(None)
for opt in reader.convert():
    if opt[0] == "multi-set":
        vals = opt[3]
    elif opt[0] == "set":
        vals = opt[3:]
    else:
        continue
    for v in vals:
        if opt[2] == "prefregex":
            flt.prefRegex = v
        elif opt[2] == "addfailregex":
            flt.addFailRegex(v)
        elif opt[2] == "addignoreregex":
            flt.addIgnoreRegex(v)
        elif opt[2] == "maxlines":
            flt.setMaxLines(v)
        elif opt[2] == "datepattern":
            flt.setDatePattern(v)

bm = BanManager()
bm.setBanTime(int(bantime))
bans = []
with open(log, encoding="utf-8", errors="replace") as f:
    for line in f:
        t = datetime.fromisoformat(line[:32]).timestamp()
        MyTime.setTime(t)
        bm.unBanList(MyTime.time())
        flt.processLineAndAdd(line.rstrip("\r\n"))
        while jail.hasFailTickets:
            ticket = jail.getFailTicket()
            bt = BanTicket.wrap(ticket)
            if bm.addBanTicket(bt):
                bans.append([int(ticket.getTime()), str(ticket.getID()), ticket.getAttempt()])
print(json.dumps(bans))
