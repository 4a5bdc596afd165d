#!/usr/bin/python3
"""Writes corpus.jsonl: log lines whose attacker-written fields carry other addresses.

One JSON record per line:
  filter      stock filter name (filter.d/<name>.conf)
  opts        filter options (e.g. {"mode": "aggressive"})
  line        the complete log line, as the daemon would write it
  attacker    the address the daemon wrote (the peer that really misbehaved)
  bystanders  addresses only attacker text supplied; banning any of them is a bug
              (numbers are listed both as text and as the IPv4 address they denote)
  vector      how the address got in
  field       which attacker-controlled field carries it
  before      (optional) earlier lines of the same connection, read first

Run it from anywhere: `python3 tests/hostile/gen.py` rewrites the file beside it.
The records are deterministic (no randomness), so the file only changes when this
script does.
"""

import ipaddress
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

_n = [0]


def nxt():
    _n[0] += 1
    return _n[0]


def attacker(v6=False):
    n = nxt() % 250 + 1
    return f"2001:db8:a77::{n:x}" if v6 else f"198.51.100.{n}"


def by4():
    return f"203.0.113.{nxt() % 250 + 1}"


def as_int(a):
    return int(ipaddress.IPv4Address(a))


# Payload builders: each takes the real address (some vectors repeat the daemon's
# wording after it) and returns (text, bystanders, vector). The text goes into the
# attacker-controlled field of a template.
def p_from_port(a):
    b = by4()
    return f"x from {b} port 22 ssh2", [b], "from ADDR port N"


def p_from(a):
    b = by4()
    return f"x from {b}", [b], "from ADDR"


def p_rhost(a):
    b = by4()
    return f"x rhost={b}", [b], "rhost=ADDR"


def p_client(a):
    b = by4()
    return f"x, client: {b}, server: x", [b], "client: ADDR"


def p_bracket(a):
    b = by4()
    return f"x [{b}]", [b], "[ADDR]"


def p_ipbracket(a):
    b = by4()
    return f"x, ip=[{b}]", [b], "ip=[ADDR]"


def p_port(a):
    b = by4()
    return f"{b}:4444", [b], "ADDR:port"


def p_v6(a):
    b = f"2001:db8:beef::{nxt():x}"
    return f"x from {b} port 22", [b], "IPv6"


def p_v6_bracket(a):
    b = f"2001:db8:beef::{nxt():x}"
    return f"x [{b}]:22", [b], "[IPv6]:port"


def p_mapped(a):
    b = by4()
    return f"x from ::ffff:{b} port 22", [b, f"::ffff:{b}"], "IPv4-mapped IPv6"


def p_decimal(a):
    b = by4()
    d = str(as_int(b))
    return f"x from {d} port 22", [b, d], "decimal integer"


def p_hex(a):
    b = by4()
    h = hex(as_int(b))
    return f"x from {h} port 22", [b, h], "hex integer"


def p_long(a):
    b = by4()
    return "A" * 3000 + f" from {b} port 22", [b], "very long field"


def p_on(a):
    # sshd's optional ` on HOST` suffix swallows the daemon's address after the user.
    b = by4()
    return f"x {b} on", [b], "ADDR on (suffix swallows the real address)"


def p_on_v6(a):
    b = f"2001:db8:beef::{nxt():x}"
    return f"x {b} on", [b], "IPv6 on (suffix swallows the real address)"


def p_many(a):
    bs = [by4() for _ in range(40)]
    return " ".join(f"from {b}" for b in bs), bs, "many addresses"


GENERIC = [p_from_port, p_from, p_rhost, p_client, p_bracket, p_ipbracket, p_port,
           p_v6, p_v6_bracket, p_mapped, p_decimal, p_hex, p_long, p_many]

SYSLOG = "Nov 23 10:00:{s:02d} srv"


def syslog(n):
    return SYSLOG.format(s=n % 60)


records = []


def add(filt, opts, line, a, bys, vector, field, before=None):
    # One log line: an attacker's newline is written as a space here (a daemon that
    # writes it raw gives two lines, each read on its own).
    line = line.replace("\n", " ")
    records.append({
        "filter": filt, "opts": opts, "line": line, "attacker": a,
        "bystanders": sorted(set(bys)), "vector": vector, "field": field,
        **({"before": before} if before else {}),
    })


def each(filt, opts, field, make, payloads=GENERIC, v6=False):
    """One record per payload: make(a, payload) -> line."""
    for p in payloads:
        a = attacker(v6)
        text, bys, vec = p(a)
        add(filt, opts, make(a, text), a, bys, vec, field)


def fake(filt, opts, field, make, fake_text):
    """A second, fake record appended inside the attacker's field: fake_text(b, a)."""
    a = attacker()
    b = by4()
    add(filt, opts, make(a, fake_text(b, a)), a, [b], "appended fake record", field)


# --- sshd, every mode -------------------------------------------------------------
SSHD_MODES = ["normal", "ddos", "extra", "aggressive"]
for mode in SSHD_MODES:
    o = {"mode": mode}
    pid = [1000]

    def sshd(msg):
        pid[0] += 1
        return f"{syslog(pid[0])} sshd[{pid[0]}]: {msg}"

    each("sshd", o, "user", lambda a, u: sshd(f"Failed password for invalid user {u} from {a} port 5022 ssh2"),
         [p_from_port, p_from, p_decimal, p_mapped, p_v6] if mode != "normal" else GENERIC)
    each("sshd", o, "user", lambda a, u: sshd(f"Invalid user {u} from {a} port 5022"),
         [p_from_port, p_from, p_hex, p_v6_bracket])
    each("sshd", o, "user", lambda a, u: sshd(f"Failed password for {u} from {a} port 5022 ssh2"),
         [p_from_port, p_from])
    each("sshd", o, "user", lambda a, u: sshd(
        f"User {u} from {a} not allowed because not listed in AllowUsers"), [p_from, p_from_port])
    each("sshd", o, "user", lambda a, u: sshd(
        f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={a}  user={u}"),
        [p_rhost, p_from])
    each("sshd", o, "user", lambda a, u: sshd(f"error: PAM: Authentication failure for {u} from {a}"),
         [p_from, p_from_port])
    each("sshd", o, "user", lambda a, u: sshd(
        f"maximum authentication attempts exceeded for {u} from {a} port 5022 ssh2 [preauth]"), [p_from_port])
    if mode in ("ddos", "aggressive"):
        each("sshd", o, "version string", lambda a, u: sshd(
            f"Bad protocol version identification '{u}' from {a} port 5022"), [p_from_port, p_from])
        each("sshd", o, "user", lambda a, u: sshd(
            f"Connection closed by authenticating user {u} {a} port 5022 [preauth]"), [p_from_port])
    if mode in ("extra", "aggressive"):
        each("sshd", o, "user", lambda a, u: sshd(
            f"Disconnected from invalid user {u} {a} port 5022 [preauth]"), [p_from_port, p_port])
    for msg in ["Connection closed by authenticating user {u} {a} port 5022 [preauth]",
                "Connection closed by invalid user {u} {a} port 5022 [preauth]",
                "Disconnected from invalid user {u} {a} port 5022 [preauth]",
                "Connection reset by authenticating user {u} {a} port 5022 [preauth]"]:
        each("sshd", o, "user", lambda a, u, msg=msg: sshd(msg.format(u=u, a=a)), [p_on, p_on_v6])
    # A failure without an address (pending on the connection id), then a line of the
    # same connection whose address the attacker's user name decides.
    for msg in ["Connection closed by invalid user {u} {a} port 5022 [preauth]",
                "Disconnected from authenticating user {u} {a} port 5022 [preauth]"]:
        a = attacker()
        t, bys, vec = p_on(a)
        pid[0] += 1
        pre = f"{syslog(pid[0])} sshd[{pid[0]}]: Disconnecting: Too many authentication failures for root [preauth]"
        add("sshd", o, f"{syslog(pid[0])} sshd[{pid[0]}]: " + msg.format(u=t, a=a), a, bys,
            vec + ", after a pending failure", "user", before=[pre])
    fake("sshd", o, "user", lambda a, u: sshd(f"Failed password for invalid user {u} from {a} port 5022 ssh2"),
         lambda b, a: f"x from {a} port 1 ssh2: Failed password for invalid user y from {b} port 22 ssh2 x")

# --- nginx-botsearch (URL) --------------------------------------------------------
NGX_ACC = '{a} - - [23/Nov/2026:10:00:00 +0000] "GET /{u} HTTP/1.1" 404 47 "-" "-" "-"'
each("nginx-botsearch", {}, "url", lambda a, u: NGX_ACC.format(a=a, u="phpMyAdmin/" + u.replace(" ", "%20")),
     [p_port, p_bracket, p_decimal])
fake("nginx-botsearch", {}, "user agent",
     lambda a, u: f'{a} - - [23/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 404 47 "-" "{u}" "-"',
     lambda b, a: f'x\n{b} - - [] "GET /wp-login.php HTTP/1.1" 404 1')
NGX_ERR = ('2026/11/23 10:00:00 [error] 1234#0: *5 open() "/var/www/{u}" failed (2: No such file or directory), '
           'client: {a}, server: example.com, request: "GET /{u} HTTP/1.1", host: "example.com"')
fake("nginx-botsearch", {}, "url",
     lambda a, u: NGX_ERR.format(a=a, u=u),
     lambda b, a: f'phpMyAdmin" failed (2: No such file or directory), client: {b}, server: x, request: "GET /phpMyAdmin x", x')
fake("nginx-botsearch", {}, "url",
     lambda a, u: NGX_ERR.format(a=a, u=u),
     lambda b, a: f'wp-login.php" is not found (2: No such file or directory), client: {b}, server: , request: "POST /wp-login.php HTTP/1.1", x')
each("nginx-botsearch", {}, "url", lambda a, u: NGX_ERR.format(a=a, u="wp-login.php?" + u.replace(" ", "")),
     [p_client, p_port])

# --- nginx-http-auth (user, host header) ------------------------------------------
NGX_AUTH = ('2026/11/23 10:00:00 [error] 2865#0: *66647 user "{u}" was not found in "/etc/nginx/.htpasswd", '
            'client: {a}, server: www.example.com, request: "GET / HTTP/1.1", host: "{h}"')
for p in [p_client, p_from, p_decimal, p_v6]:
    a = attacker()
    t, bys, vec = p(a)
    add("nginx-http-auth", {}, NGX_AUTH.format(u=t, a=a, h="www.example.com"), a, bys, vec, "user")
fake("nginx-http-auth", {}, "user", lambda a, u: NGX_AUTH.format(u=u, a=a, h="www.example.com"),
     lambda b, a: f'x" was not found in "/x", client: {b}, server: x, request: "GET / HTTP/1.1", host: "x')
fake("nginx-http-auth", {}, "host header", lambda a, u: NGX_AUTH.format(u="admin", a=a, h=u),
     lambda b, a: f'x", client: {b}, server: x, request: "GET / HTTP/1.1", host: "x')
for mode in ["aggressive"]:
    fake("nginx-http-auth", {"mode": mode}, "user",
         lambda a, u: NGX_AUTH.format(u=u, a=a, h="www.example.com"),
         lambda b, a: f'x": password mismatch, client: {b}, server: x, request: "GET / HTTP/1.1", host: "x"')

# --- apache-auth, apache-noscript, apache-badbots (user, URL) ----------------------
AP = "[Mon Nov 23 10:00:00 2026] [error] [client {a}] {msg}"
AP24 = "[Mon Nov 23 10:00:00.123456 2026] [auth_basic:error] [pid 1234:tid 5678] [client {a}:51396] {msg}"
each("apache-auth", {}, "user", lambda a, u: AP.format(a=a, msg=f"user {u} not found: /private"),
     [p_bracket, p_client, p_from, p_decimal, p_v6_bracket])
each("apache-auth", {}, "user", lambda a, u: AP24.format(a=a, msg=f"AH01618: user {u} not found: /basic"),
     [p_bracket, p_port])
fake("apache-auth", {}, "user", lambda a, u: AP.format(a=a, msg=f"user {u} not found: /private"),
     lambda b, a: f"x not found: / [client {b}] user y")
fake("apache-auth", {"mode": "aggressive"}, "user",
     lambda a, u: AP.format(a=a, msg=f"user {u}: authentication failure for \"/\": Password Mismatch"),
     lambda b, a: f"x\n[Mon Nov 23 10:00:00 2026] [error] [client {b}] user y")
each("apache-noscript", {}, "url", lambda a, u: AP.format(
    a=a, msg=f"script '/var/www/{u.replace(' ', '')}.php' not found or unable to stat"),
    [p_bracket, p_port, p_ipbracket])
each("apache-noscript", {}, "url", lambda a, u: AP.format(
    a=a, msg=f"File does not exist: /var/www/cgi-bin/{u}.pl"), [p_bracket, p_client])
fake("apache-noscript", {}, "url", lambda a, u: AP.format(a=a, msg=f"File does not exist: /var/www/{u}"),
     lambda b, a: f"x [client {b}] script '/var/www/x.php' not found or unable to stat")
APACC = '{a} - - [23/Nov/2026:10:00:00 +0000] "GET /{u} HTTP/1.0" 404 459 "-" "{ua}"'
each("apache-badbots", {}, "url", lambda a, u: APACC.format(a=a, u=u.replace(" ", "%20"), ua="EmailSiphon"),
     [p_port, p_bracket])
fake("apache-badbots", {}, "user agent",
     lambda a, u: APACC.format(a=a, u="index.html", ua=u),
     lambda b, a: f'x"\n{b} - - [] "GET / HTTP/1.0" 200 1 "-" "EmailSiphon')

# --- postfix (HELO, reverse DNS name, SASL) ---------------------------------------
PFX = ("{d} postfix/smtpd[2931]: NOQUEUE: reject: RCPT from {n}[{a}]: 450 4.7.1 <{h}>: "
       "Helo command rejected: Host not found; from=<x@example.com> to=<y@example.com> proto=ESMTP helo=<{h}>")
for mode in ["normal", "more", "aggressive"]:
    for p in [p_bracket, p_port, p_v6_bracket]:
        a = attacker()
        t, bys, vec = p(a)
        add("postfix", {"mode": mode}, PFX.format(d=syslog(3), n="unknown", a=a, h=t.replace(" ", "")), a, bys,
            vec, "helo")
    fake("postfix", {"mode": mode}, "reverse name",
         lambda a, u: PFX.format(d=syslog(4), n=u, a=a, h="example.com"),
         lambda b, a: f"x.example.com]: x RCPT from unknown[{b}")
for p in [p_bracket, p_from]:
    a = attacker()
    t, bys, vec = p(a)
    add("postfix", {"mode": "auth"},
        f"{syslog(5)} postfix/smtpd[123]: warning: unknown[{a}]: SASL LOGIN authentication failed: {t}",
        a, bys, vec, "sasl message")
# (Postfix logs a client name only when it is a valid host name, so the name
# cannot carry `[ADDR]: SASL ...`; no such record here.)

# --- dovecot (user) ----------------------------------------------------------------
DOV = ("{d} mail dovecot: imap-login: Disconnected (auth failed, 1 attempts): user=<{u}>, method=PLAIN, "
       "rip={a}, lip=192.0.2.250, TLS: Disconnected")
each("dovecot", {}, "user", lambda a, u: DOV.format(d=syslog(7), u=u, a=a), [p_from, p_decimal, p_v6])
fake("dovecot", {}, "user", lambda a, u: DOV.format(d=syslog(8), u=u, a=a),
     lambda b, a: f"x>, method=PLAIN, rip={b}, lip=192.0.2.250, TLS: Disconnected <")
fake("dovecot", {}, "user", lambda a, u: f"{syslog(9)} mail dovecot: auth-worker(31326): pam({u},{a}): unknown user",
     lambda b, a: f"x,{b}")
fake("dovecot", {}, "user",
     lambda a, u: f"{syslog(10)} mail dovecot: auth: passwd-file({u},{a}): Password mismatch",
     lambda b, a: f"x,{b},<y>")
fake("dovecot", {"mode": "aggressive"}, "user",
     lambda a, u: (f"{syslog(11)} mail dovecot: imap-login: Disconnected (no auth attempts in 2 secs): "
                   f"user=<{u}>, rip={a}, lip=192.0.2.250, TLS"),
     lambda b, a: f"x>, rip={b}, lip=192.0.2.250, TLS <")
each("dovecot", {}, "user",
     lambda a, u: (f"{syslog(12)} mail dovecot: auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 "
                   f"euid=0 tty=dovecot ruser={u.replace(' ', '')} rhost={a}"), [p_rhost, p_port])

# --- courier-auth (user) -----------------------------------------------------------
CRR = "{d} mail imapd: LOGIN FAILED, user={u}, ip=[{a}]"
each("courier-auth", {}, "user", lambda a, u: CRR.format(d=syslog(13), u=u, a=a),
     [p_ipbracket, p_bracket, p_decimal, p_mapped, p_v6_bracket])
fake("courier-auth", {}, "user", lambda a, u: CRR.format(d=syslog(14), u=u, a=a),
     lambda b, a: f"x, ip=[::ffff:{b}]")
fake("courier-auth", {}, "user", lambda a, u: CRR.format(d=syslog(14), u=u, a=a),
     lambda b, a: f", ip=[[{b}]:22")
_a, _b = attacker(), f"2001:db8:beef::{nxt():x}"
add("courier-auth", {}, CRR.format(d=syslog(14), u=f", ip=[[{_b}]", a=_a), _a, [_b], "appended fake record", "user")
fake("courier-auth", {}, "user", lambda a, u: f"{syslog(15)} mail pop3d-ssl: LOGIN FAILED, user={u}, ip=[::ffff:{a}]",
     lambda b, a: f"x, ip=[{b}], port=[1]")

# --- vsftpd (user) -----------------------------------------------------------------
VSF = 'Mon Nov 23 10:00:16 2026 [pid 1234] [{u}] FAIL LOGIN: Client "{a}"'
each("vsftpd", {}, "user", lambda a, u: VSF.format(u=u, a=a), [p_from, p_bracket, p_decimal])
fake("vsftpd", {}, "user", lambda a, u: VSF.format(u=u, a=a),
     lambda b, a: f'x] FAIL LOGIN: Client "{b}", [y')
fake("vsftpd", {}, "user", lambda a, u: VSF.format(u=u, a=a),
     lambda b, a: f'x] FAIL LOGIN: Client "::ffff:{b}", [y')
each("vsftpd", {}, "user",
     lambda a, u: (f"{syslog(17)} ftp vsftpd: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 "
                   f"euid=0 tty=ftp ruser={u.replace(' ', '')} rhost={a}  user={u}"), [p_rhost, p_from])

# --- asterisk (SIP caller name, user agent, extension) -----------------------------
AST = "[2026-11-23 10:00:18] NOTICE[1638] chan_sip.c: {msg}"
fake("asterisk", {}, "caller name",
     lambda a, u: AST.format(msg=f"Registration from '{u} <sip:301@example.com>' failed for '{a}:5060' - Wrong password"),
     lambda b, a: f'"x: {b} failed to authenticate"')
fake("asterisk", {}, "caller name",
     lambda a, u: AST.format(msg=f"Registration from '{u}' failed for '{a}:5060' - Wrong password"),
     lambda b, a: f"\"x: Host {b} failed MD5 authentication\" <sip:1@x>")
fake("asterisk", {}, "from header",
     lambda a, u: AST.format(msg=f"Request 'INVITE' from '{u}' failed for '{a}:5060' (callid: 1) - No matching endpoint found"),
     lambda b, a: f"<sip:x@y>' failed for '{b}:5060' (callid: 2) - No matching endpoint found")
each("asterisk", {}, "caller name",
     lambda a, u: AST.format(msg=f"Registration from '\"{u.replace(chr(39), '')}\" <sip:301@example.com>' failed for '{a}:5060' - Wrong password"),
     [p_from, p_port, p_decimal, p_v6])
fake("asterisk", {}, "account id",
     lambda a, u: ("[2026-11-23 10:00:19] SECURITY[1] res_security_log.c: SecurityEvent=\"InvalidAccountID\","
                   "EventTV=\"1\",Severity=\"Error\",Service=\"SIP\",EventVersion=\"1\","
                   f"AccountID=\"{u}\",SessionID=\"0x1\",LocalAddress=\"IPV4/UDP/192.0.2.250/5060\","
                   f"RemoteAddress=\"IPV4/UDP/{a}/5060\""),
     lambda b, a: f'x",RemoteAddress="IPV4/UDP/{b}/5060",Z="')
fake("asterisk", {}, "extension",
     lambda a, u: AST.format(msg=f"Call from '' (UDP:{a}:5060) to extension '{u}' rejected because extension not found in context 'default'."),
     lambda b, a: f"x' rejected because extension not found in context 'y'. Call from '' ({b}:5060) to extension 'z")

# --- exim (HELO, AUTH set_id) --------------------------------------------------------
fake("exim", {}, "helo",
     lambda a, u: f"2026-11-23 10:00:20 login authenticator failed for ({u}) [{a}]: 535 Incorrect authentication data (set_id=x)",
     lambda b, a: f"[{b}]")
fake("exim", {}, "set_id",
     lambda a, u: f"2026-11-23 10:00:21 login authenticator failed for (x) [{a}]: 535 Incorrect authentication data (set_id={u})",
     lambda b, a: f"x) [{b}]: 535 Incorrect authentication data (set_id=y")
fake("exim", {}, "helo",
     lambda a, u: f"2026-11-23 10:00:22 plain authenticator failed for ({u}) [{a}]: 535 Incorrect authentication data: 1 Time(s)",
     lambda b, a: f"x) [{b}]: 535 Incorrect authentication data: 1 Time(s) (y")
fake("exim", {}, "command",
     lambda a, u: (f"2026-11-23 10:00:23 SMTP call from (x) [{a}]:3767 I=[192.0.2.250]:25 dropped: too many "
                   f"nonmail commands (last was \"{u}\")"),
     lambda b, a: f"RSET\") [{b}]:1 dropped: too many nonmail commands (last was \"x")
each("exim", {}, "sender",
     lambda a, u: (f"2026-11-23 10:00:24 H=(x) [{a}] F=<{u.replace(' ', '')}@example.com> rejected RCPT <y@example.com>: "
                   f"relay not permitted"), [p_bracket, p_port])

# --- proftpd (user) ----------------------------------------------------------------
PFT = "{d} ftp proftpd[12345]: ftp.example.com ({a}[{a}]) - USER {u}: no such user found from {a} [{a}] to 192.0.2.250:21"
each("proftpd", {}, "user", lambda a, u: PFT.format(d=syslog(25), u=u, a=a), [p_bracket, p_from])
fake("proftpd", {}, "user",
     lambda a, u: f"{syslog(26)} ftp proftpd[12345]: ftp.example.com ({a}[{a}]) - USER {u} (Login failed): Incorrect password",
     lambda b, a: f"x (Login failed): Incorrect password\n{syslog(26)} ftp proftpd[1]: h (x[{b}]) - USER y")
fake("proftpd", {}, "user",
     lambda a, u: f"{syslog(27)} ftp proftpd[12345]: {a} ({a}[{a}]) - SECURITY VIOLATION: {u} login attempted",
     lambda b, a: f"root login attempted. ftp.example.com (x[{b}]) - SECURITY VIOLATION: root")

# --- mysqld-auth (user) ------------------------------------------------------------
MY = "2026-11-23T10:00:28 srv mysqld[1234]: 2026-11-23 10:00:28 8756 [Warning] Access denied for user '{u}'@'{a}' (using password: YES)"
each("mysqld-auth", {}, "user", lambda a, u: MY.format(u=u.replace("'", ""), a=a), [p_from, p_port, p_decimal])
fake("mysqld-auth", {}, "user", lambda a, u: MY.format(u=u, a=a),
     lambda b, a: f"x'@'{b}' (using password: YES) '")
fake("mysqld-auth", {}, "user", lambda a, u: MY.format(u=u, a=a),
     lambda b, a: f"x'@'{b}")

# --- named-refused (query name) ----------------------------------------------------
NMD = "{d} ns named[3935]: client @0x7f1 {a}#4795 ({q}): query '{q}/A/IN' denied"
each("named-refused", {}, "query name", lambda a, u: NMD.format(d=syslog(29), a=a, q=u.replace(" ", ".")),
     [p_from, p_port, p_decimal, p_hex])
fake("named-refused", {}, "query name", lambda a, u: NMD.format(d=syslog(30), a=a, q=u),
     lambda b, a: f"x): query 'x/A/IN' denied client {b}#1 (y")

# --- recidive (bailiff's / fail2ban's own log: jail names are ours, but warning lines
#     quote attacker text) -------------------------------------------------------------
RCD = "2026-11-23 10:00:31,388 fail2ban.actions        [1234]: NOTICE  [sshd] Ban {a}"
for i in range(2):
    a = attacker()
    b = by4()
    add("recidive", {}, f"2026-11-23 10:00:31,388 fail2ban.filter         [1234]: WARNING [sshd] ambiguous line, "
        f"nobody banned: Failed password for x NOTICE [sshd] Ban {b}", a, [b], "quoted log text", "user")
    # (Nothing follows the address of a Ban line: no appended record is possible there.)
    add("recidive", {}, f"2026-11-23 10:00:31,388 fail2ban.filter         [1234]: INFO    [sshd] Found {a} - "
        f"2026-11-23 10:00:30 ; user NOTICE [sshd] Ban {b}", a, [b], "quoted log text", "user")

# --- pam-generic, dropbear, selinux-ssh, xinetd-fail, gssftpd, wuftpd, sendmail ----------
each("pam-generic", {}, "ruser",
     lambda a, u: (f"{syslog(32)} srv sshd: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                   f"ruser={u} rhost={a}"), [p_rhost, p_from, p_decimal])
fake("pam-generic", {}, "user",
     lambda a, u: (f"{syslog(33)} srv login: pam_unix(login:auth): authentication failure; logname= uid=0 euid=0 tty=tty1 "
                   f"ruser= rhost={a}  user={u}"), lambda b, a: f"x rhost={b}")
each("dropbear", {}, "user", lambda a, u: f"{syslog(34)} srv dropbear[4092]: Bad password attempt for '{u}' from {a}:5543",
     [p_from, p_port, p_v6])
fake("dropbear", {}, "user",
     lambda a, u: f"{syslog(35)} srv dropbear[4092]: Login attempt for nonexistent user '{u}' from {a}:5543",
     lambda b, a: f"x' from {b}:1")
fake("dropbear", {}, "user",
     lambda a, u: f"{syslog(36)} srv dropbear[4092]: Exit before auth (user '{u}', 10 fails): Max auth tries reached - user '{u}' from {a}:5543",
     lambda b, a: f"x' from {b}:1 '")
fake("selinux-ssh", {}, "account",
     lambda a, u: (f"type=USER_ERR msg=audit(1763892037.415:4063): pid=11998 uid=0 auid=4294967295 ses=4294967295 "
                   f"subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=password acct=\"{u}\" exe=\"/usr/sbin/sshd\" "
                   f"hostname=? addr={a} terminal=ssh res=failed'"),
     lambda b, a: f'x" exe="/usr/sbin/sshd" hostname=? addr={b} terminal=ssh res=failed acct="y')
fake("gssftpd", {}, "reverse name",
     lambda a, u: f"{syslog(38)} host ftpd[132]: repeated login failures from {a} ({u})",
     lambda b, a: f"x) repeated login failures from {b} (y")
fake("wuftpd", {}, "reverse name",
     lambda a, u: f"{syslog(39)} srv wu-ftpd[18760]: failed login from {u} [{a}]",
     lambda b, a: f"x [{b}] failed login from y")
fake("sendmail-auth", {}, "user",
     lambda a, u: (f"{syslog(40)} relay1 sendmail[16665]: 06I02CNi016765: AUTH failure (LOGIN): authentication failure "
                   f"(-13) SASL(-13): authentication failure: checkpass failed, user={u}, relay=[{a}]"),
     lambda b, a: f"x, relay=[{b}], y")
each("sendmail-auth", {}, "user",
     lambda a, u: (f"{syslog(41)} relay1 sendmail[16665]: 06I02CNi016765: AUTH failure (LOGIN): authentication failure "
                   f"(-13) SASL(-13): authentication failure: checkpass failed, user={u.replace(' ', '')}, relay=x [{a}]"),
     [p_bracket, p_port])
fake("lighttpd-auth", {}, "user",
     lambda a, u: f"2026-11-23 10:00:42: (mod_auth.c.828) password doesn't match for /gitweb/ username: {u}, IP: {a}",
     lambda b, a: f"x, IP: {b}, y")
fake("haproxy-http-auth", {}, "url",
     lambda a, u: f'{syslog(43)} test haproxy[760]: {a}:58444 [23/Nov/2026:10:00:43.439] main app/app1 1939/0/1/0/1940 401 5168 - - ---- 3/3/0/0/0 0/0 "GET /{u} HTTP/1.1"',
     lambda b, a: f'x HTTP/1.1" {b}:1 [x] main app/<NOSRV> -1/-1/-1/-1/0 401')

# --- a user name the stock regex cannot read as such ---------------------------------
# sshd's `<F-USER>` alternatives exclude ` from `, and after `: ` it accepts any
# trailing text: a user name `x from ADDR:` makes the filter read ADDR as the host
# while the true line (user name with ` from `) is one the regex cannot read at all.
def p_from_colon(a):
    b = by4()
    return f"a from {b}:", [b], "from ADDR: (user name of another shape)"


def p_from_colon_v6(a):
    b = f"2001:db8:beef::{nxt():x}"
    return f"a from {b}:", [b], "from IPv6: (user name of another shape)"


def p_from_colon_mapped(a):
    b = by4()
    return f"a from ::ffff:{b}:", [b, f"::ffff:{b}"], "from ::ffff:ADDR: (user name of another shape)"


def p_from_colon_port(a):
    b = by4()
    return f"a from {b} port 22 ssh2:", [b], "from ADDR port N ssh2: (user name of another shape)"


OTHER_SHAPE = [p_from_colon, p_from_colon_v6, p_from_colon_mapped, p_from_colon_port]
for mode in SSHD_MODES:
    o = {"mode": mode}
    pid = [2000]

    def sshd(msg):
        pid[0] += 1
        return f"{syslog(pid[0])} sshd[{pid[0]}]: {msg}"

    each("sshd", o, "user", lambda a, u: sshd(f"Failed password for invalid user {u} from {a} port 5022 ssh2"),
         OTHER_SHAPE)
    each("sshd", o, "user", lambda a, u: sshd(f"Failed password for invalid user {u} from {a} port 5022 ssh2"),
         [p_from_colon, p_from_colon_v6], v6=True)
    # (Not `Failed password for {u}`: without `invalid user` the name is an account on
    # the host, which the client cannot make up.)
    each("sshd", o, "user", lambda a, u: sshd(f"Failed publickey for invalid user {u} from {a} port 5022 ssh2"),
         [p_from_colon, p_from_colon_mapped])
    each("sshd", o, "user", lambda a, u: sshd(f"Invalid user {u} from {a} port 5022"), OTHER_SHAPE)
    each("sshd", o, "user", lambda a, u: sshd(f"error: PAM: Authentication failure for {u} from {a}"),
         [p_from_colon, p_from_colon_v6])
    each("sshd", o, "user", lambda a, u: sshd(f"Authentication failure for {u} from {a} port 5022 ssh2"),
         [p_from_colon, p_from_colon_port])
    each("sshd", o, "user", lambda a, u: sshd(
        f"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={a}  user={u}"),
        [p_from_colon, p_rhost])
    each("sshd", o, "user", lambda a, u: sshd(
        f"User {u} from {a} not allowed because not listed in AllowUsers"), [p_from_colon, p_from_colon_v6])
each("dovecot", {}, "user", lambda a, u: DOV.format(d=syslog(44), u=u, a=a),
     [p_from_colon, p_rhost, p_ipbracket])
each("dovecot", {}, "user",
     lambda a, u: f"{syslog(45)} mail dovecot: auth-worker(31326): pam({u},{a}): unknown user",
     [p_from_colon, p_port])
each("courier-auth", {}, "user", lambda a, u: CRR.format(d=syslog(46), u=u, a=a), [p_from_colon, p_ipbracket])
each("pam-generic", {}, "ruser",
     lambda a, u: (f"{syslog(47)} srv sshd: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                   f"ruser={u} rhost={a}"), [p_from_colon, p_rhost])

with open(os.path.join(HERE, "corpus.jsonl"), "w") as f:
    for r in records:
        f.write(json.dumps(r, sort_keys=True) + "\n")
print(len(records), "records,", len({r["filter"] for r in records}), "filters")
