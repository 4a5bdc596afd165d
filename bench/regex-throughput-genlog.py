#!/usr/bin/python3
"""Generate realistic, deterministic server logs for bailiff's regex benchmark and
differential tests.

    regex-throughput-genlog.py --kind sshd --lines 1000000 --seed 1 > auth.log

Kinds: sshd (OpenSSH 9 auth.log: brute force, scanners, accepted logins, cron, pam,
sudo, logind), nginx (combined access log with bot probes, some error-log lines),
apache-auth (Apache 2.4 error log), postfix, dovecot (mail.log).

Dates: --dates iso (rsyslog's RFC 3339 with year, the Debian 12 default) or syslog
(`Nov 23 11:17:20`, year-less, in local time). The last line is dated about --end
(default: one hour before now); the same seed, kind and --end give the same bytes.
"""

import argparse
import random
import sys
import time

MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DAYS = "Mon Tue Wed Thu Fri Sat Sun".split()

USERS_BAD = ("admin test user oracle postgres ubuntu guest ftpuser git pi support "
             "deploy1 hadoop mysql www-data centos ansible jenkins minecraft steam "
             "tomcat nagios zabbix backup operator administrator root1 dev demo").split()
USERS_GOOD = ["alice", "bob", "deploy", "backup"]
HOSTS = ["web1", "mail", "srv-01"]


class Gen:
    def __init__(self, seed, dates, end, lines):
        self.r = random.Random(seed)
        self.dates = dates
        self.lines = lines
        # Mean spacing between lines: denser logs span less time.
        self.step = 0.35
        self.t = end - lines * self.step
        self.host = self.r.choice(HOSTS)
        self.attackers = [self.ip4() for _ in range(400)] + [self.ip6() for _ in range(40)]
        self.clients = [self.ip4() for _ in range(60)]
        self.pid = 1000

    def ip4(self):
        r = self.r
        while True:
            a = r.randrange(1, 224)
            if a not in (10, 127, 172, 192, 100, 169):
                return "%d.%d.%d.%d" % (a, r.randrange(256), r.randrange(256), r.randrange(1, 255))

    def ip6(self):
        r = self.r
        return "2001:db8:%x:%x::%x" % (r.randrange(65536), r.randrange(65536), r.randrange(1, 65536))

    def next_pid(self):
        self.pid += self.r.randrange(1, 40)
        if self.pid > 4000000:
            self.pid = 1000
        return self.pid

    def tick(self):
        self.t += self.r.expovariate(1.0 / self.step)
        return self.t

    def syslog_date(self, t):
        if self.dates == "iso":
            us = int((t % 1) * 1e6)
            return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06d+00:00" % us
        lt = time.localtime(t)
        return "%s %2d %s" % (MONTHS[lt.tm_mon - 1], lt.tm_mday, time.strftime("%H:%M:%S", lt))

    def syslog(self, prog, msg):
        return "%s %s %s: %s" % (self.syslog_date(self.tick()), self.host, prog, msg)


def sshd(g, n, out):
    r = g.r
    active = []  # [pid, generator of messages]

    def attack(ip, pid):
        port = r.randrange(1024, 65535)
        if r.random() < 0.3:
            yield "Connection from %s port %d on 10.0.0.5 port 22 rdomain \"\"" % (ip, port)
        user = r.choice(USERS_BAD + ["root"] * 8)
        tries = r.randrange(1, 7)
        for _ in range(tries):
            if user == "root":
                if r.random() < 0.5:
                    yield ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                           "ruser= rhost=%s  user=root" % ip)
                yield "Failed password for root from %s port %d ssh2" % (ip, port)
            else:
                yield "Invalid user %s from %s port %d" % (user, ip, port)
                if r.random() < 0.4:
                    yield "pam_unix(sshd:auth): check pass; user unknown"
                    yield ("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
                           "ruser= rhost=%s " % ip)
                yield "Failed password for invalid user %s from %s port %d ssh2" % (user, ip, port)
        end = r.random()
        who = "authenticating user root" if user == "root" else "invalid user %s" % user
        if tries >= 6 and end < 0.5:
            yield "error: maximum authentication attempts exceeded for %s from %s port %d ssh2 [preauth]" % (
                "root" if user == "root" else "invalid user " + user, ip, port)
            yield "Disconnecting %s %s port %d: Too many authentication failures [preauth]" % (who, ip, port)
        elif end < 0.6:
            yield "Received disconnect from %s port %d:11: Bye Bye [preauth]" % (ip, port)
            yield "Disconnected from %s %s port %d [preauth]" % (who, ip, port)
        else:
            yield "Connection closed by %s %s port %d [preauth]" % (who, ip, port)

    def scan(ip, pid):
        port = r.randrange(1024, 65535)
        k = r.random()
        if k < 0.3:
            yield "error: kex_exchange_identification: Connection closed by remote host"
            yield "Connection closed by %s port %d" % (ip, port)
        elif k < 0.5:
            yield "error: kex_exchange_identification: banner line contains invalid characters"
            yield "banner exchange: Connection from %s port %d: invalid format" % (ip, port)
        elif k < 0.7:
            yield ("Unable to negotiate with %s port %d: no matching key exchange method found. "
                   "Their offer: diffie-hellman-group14-sha1,diffie-hellman-group1-sha1 [preauth]" % (ip, port))
        elif k < 0.85:
            yield "Connection reset by %s port %d [preauth]" % (ip, port)
        else:
            yield "Connection closed by %s port %d [preauth]" % (ip, port)

    def login(ip, pid):
        port = r.randrange(1024, 65535)
        user = r.choice(USERS_GOOD)
        if r.random() < 0.3:
            yield "Connection from %s port %d on 10.0.0.5 port 22 rdomain \"\"" % (ip, port)
        if r.random() < 0.15:
            yield "Failed password for %s from %s port %d ssh2" % (user, ip, port)
        how = r.choice(["publickey", "publickey", "password"])
        if how == "publickey":
            yield "Accepted publickey for %s from %s port %d ssh2: ED25519 SHA256:%s" % (
                user, ip, port, "".join(r.choice("abcdefghijkLMNOPQRSTUVWXYZ0123456789+/") for _ in range(43)))
        else:
            yield "Accepted password for %s from %s port %d ssh2" % (user, ip, port)
        yield "pam_unix(sshd:session): session opened for user %s(uid=%d) by (uid=0)" % (
            user, 1000 + USERS_GOOD.index(user))
        yield "Received disconnect from %s port %d:11: disconnected by user" % (ip, port)
        yield "Disconnected from user %s %s port %d" % (user, ip, port)
        yield "pam_unix(sshd:session): session closed for user %s" % user

    def noise():
        k = r.random()
        if k < 0.4:
            pid = g.next_pid()
            return [g.syslog("CRON[%d]" % pid, "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"),
                    g.syslog("CRON[%d]" % pid, "pam_unix(cron:session): session closed for user root")]
        if k < 0.6:
            s = r.randrange(1, 9999)
            u = r.choice(USERS_GOOD)
            return [g.syslog("systemd-logind[612]", "New session %d of user %s." % (s, u)),
                    g.syslog("systemd-logind[612]", "Session %d logged out. Waiting for processes to exit." % s),
                    g.syslog("systemd-logind[612]", "Removed session %d." % s)]
        if k < 0.8:
            u = r.choice(USERS_GOOD)
            return [g.syslog("sudo", "    %s : TTY=pts/%d ; PWD=/home/%s ; USER=root ; COMMAND=/usr/bin/systemctl status nginx"
                             % (u, r.randrange(4), u)),
                    g.syslog("sudo", "pam_unix(sudo:session): session opened for user root(uid=0) by %s(uid=1000)" % u),
                    g.syslog("sudo", "pam_unix(sudo:session): session closed for user root")]
        return [g.syslog("kernel", "[%d.%06d] [UFW BLOCK] IN=eth0 OUT= MAC=aa:bb:cc:dd:ee:ff SRC=%s DST=10.0.0.5 "
                         "LEN=40 TOS=0x00 PREC=0x00 TTL=240 ID=54321 PROTO=TCP SPT=%d DPT=%d WINDOW=1024 RES=0x00 SYN URGP=0"
                         % (r.randrange(100000), r.randrange(1000000), g.ip4(), r.randrange(1024, 65535),
                            r.choice([23, 3389, 445, 8080, 5900])))]

    written = 0
    while written < n:
        if len(active) < 6 and (not active or r.random() < 0.35):
            k = r.random()
            pid = g.next_pid()
            if k < 0.55:
                active.append([pid, attack(r.choice(g.attackers), pid)])
            elif k < 0.8:
                active.append([pid, scan(r.choice(g.attackers), pid)])
            elif k < 0.9:
                active.append([pid, login(r.choice(g.clients), pid)])
            else:
                for l in noise()[: n - written]:
                    out.append(l)
                    written += 1
                continue
        if not active:
            continue
        i = r.randrange(len(active))
        pid, it = active[i]
        msg = next(it, None)
        if msg is None:
            active.pop(i)
            continue
        out.append(g.syslog("sshd[%d]" % pid, msg))
        written += 1


PATHS_OK = ["/", "/index.html", "/about", "/blog/2024/hello-world", "/static/app.css", "/static/app.js",
            "/favicon.ico", "/robots.txt", "/api/v1/items?page=2", "/images/logo.png", "/contact", "/feed.xml"]
PATHS_BOT = ["/wp-login.php", "/wp-admin.php", "/phpmyadmin/index.php", "/pma/scripts/setup.php",
             "/phpMyAdmin/", "/cgi-bin/luci/;stok=/locale", "/mysqladmin/", "/admin/pma/index.php",
             "/roundcube/", "/webmail/", "/xampp/phpmyadmin/", "/wp-signup.php", "/.env", "/.git/config",
             "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/boaform/admin/formLogin"]
UAS = ["Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
       "curl/8.5.0", "Go-http-client/1.1", "python-requests/2.31.0", "-",
       "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"]


def web_date(t):
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(t))


def nginx(g, n, out):
    r = g.r
    for _ in range(n):
        t = g.tick()
        k = r.random()
        if k < 0.03:
            ip = r.choice(g.attackers)
            p = r.choice(PATHS_BOT)
            out.append('%s [error] %d#%d: *%d open() "/var/www/html%s" failed (2: No such file or directory), '
                       'client: %s, server: example.org, request: "GET %s HTTP/1.1", host: "example.org"'
                       % (time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(t)), 812, 812, r.randrange(1, 10**6),
                          p, ip, p))
            continue
        if k < 0.25:
            ip, p, st = r.choice(g.attackers), r.choice(PATHS_BOT), r.choice([404, 404, 404, 403, 301])
            meth = r.choice(["GET", "GET", "POST", "HEAD"])
        else:
            ip, p = r.choice(g.clients + g.attackers[:20]), r.choice(PATHS_OK)
            st = r.choice([200, 200, 200, 200, 304, 301, 404])
            meth = r.choice(["GET", "GET", "GET", "POST"])
        out.append('%s - %s [%s] "%s %s HTTP/1.1" %d %d "%s" "%s"' % (
            ip, r.choice(["-", "-", "-", "alice"]), web_date(t), meth, p, st, r.randrange(0, 60000),
            r.choice(["-", "https://example.org/", "https://www.google.com/"]), r.choice(UAS)))


def apache_date(t):
    tt = time.gmtime(t)
    return "%s %s %02d %s.%06d %d" % (DAYS[tt.tm_wday], MONTHS[tt.tm_mon - 1], tt.tm_mday,
                                      time.strftime("%H:%M:%S", tt), int((t % 1) * 1e6), tt.tm_year)


def apache_auth(g, n, out):
    r = g.r
    for _ in range(n):
        t = g.tick()
        ip = r.choice(g.attackers) if r.random() < 0.6 else r.choice(g.clients)
        port = r.randrange(1024, 65535)
        pid = "[pid %d:tid %d]" % (r.randrange(1000, 9999), r.randrange(10**14, 10**15))
        k = r.random()
        pre = "[%s] " % apache_date(t)
        if k < 0.2:
            out.append(pre + "[auth_basic:error] %s [client %s:%d] AH01618: user %s not found: /private/"
                       % (pid, ip, port, r.choice(USERS_BAD)))
        elif k < 0.4:
            out.append(pre + '[auth_basic:error] %s [client %s:%d] AH01617: user %s: authentication failure for '
                       '"/private/": Password Mismatch' % (pid, ip, port, r.choice(USERS_GOOD)))
        elif k < 0.5:
            out.append(pre + "[authz_core:error] %s [client %s:%d] AH01630: client denied by server configuration: "
                       "/var/www/html/secret" % (pid, ip, port))
        elif k < 0.6:
            out.append(pre + "[auth_digest:error] %s [client %s:%d] AH01790: user `%s' in realm `private' not found: /dav/"
                       % (pid, ip, port, r.choice(USERS_BAD)))
        elif k < 0.75:
            out.append(pre + "[core:error] %s [client %s:%d] AH00126: Invalid URI in request GET /../../etc/passwd HTTP/1.1"
                       % (pid, ip, port))
        elif k < 0.9:
            out.append(pre + "[php:warn] %s [client %s:%d] PHP Warning:  Undefined variable $x in /var/www/html/index.php on line %d"
                       % (pid, ip, port, r.randrange(1, 500)))
        else:
            out.append(pre + "[mpm_event:notice] [pid 812:tid 140000000000000] AH00489: Apache/2.4.62 (Debian) "
                       "configured -- resuming normal operations")


def postfix(g, n, out):
    r = g.r
    written = 0
    while written < n:
        pid = g.next_pid()
        ip = r.choice(g.attackers) if r.random() < 0.6 else r.choice(g.clients)
        rdns = "unknown" if r.random() < 0.6 else "host-%s.example.net" % ip.replace(".", "-").replace(":", "-")
        peer = "%s[%s]" % (rdns, ip)
        smtpd = "postfix/smtpd[%d]" % pid
        seq = ["connect from %s" % peer]
        k = r.random()
        if k < 0.25:
            seq.append("NOQUEUE: reject: RCPT from %s: 554 5.7.1 <x%d@example.com>: Relay access denied; "
                       "from=<spam@bad.example> to=<x%d@example.com> proto=ESMTP helo=<%s>" % (peer, r.randrange(99), r.randrange(99), ip))
        elif k < 0.4:
            seq.append("NOQUEUE: reject: RCPT from %s: 550 5.1.1 <nobody@example.org>: Recipient address rejected: "
                       "User unknown in local recipient table; from=<a@b.example> to=<nobody@example.org> proto=ESMTP helo=<x>" % peer)
        elif k < 0.55:
            seq.append("warning: %s: SASL LOGIN authentication failed: UGFzc3dvcmQ6" % peer)
            seq.append("lost connection after AUTH from %s" % peer)
        elif k < 0.65:
            seq.append("improper command pipelining after CONNECT from %s: \\r\\n" % peer)
        elif k < 0.75:
            seq.append("NOQUEUE: reject: RCPT from %s: 450 4.7.1 <x>: Helo command rejected: Host not found; "
                       "from=<a@b.example> to=<u@example.org> proto=ESMTP helo=<x>" % peer)
        else:
            qid = "%010X" % r.randrange(16 ** 10)
            seq.append("%s: client=%s" % (qid, peer))
            seq.append(("postfix/cleanup[%d]" % (pid + 1), "%s: message-id=<%d@example.net>" % (qid, r.randrange(10**9))))
            seq.append(("postfix/qmgr[700]", "%s: from=<a@example.net>, size=%d, nrcpt=1 (queue active)" % (qid, r.randrange(900, 90000))))
            seq.append(("postfix/local[%d]" % (pid + 2), "%s: to=<alice@example.org>, relay=local, delay=0.1, "
                        "dsn=2.0.0, status=sent (delivered to mailbox)" % qid))
            seq.append(("postfix/qmgr[700]", "%s: removed" % qid))
        seq.append("disconnect from %s ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4" % peer)
        for m in seq:
            if written >= n:
                break
            prog, msg = m if isinstance(m, tuple) else (smtpd, m)
            out.append(g.syslog(prog, msg))
            written += 1


def dovecot(g, n, out):
    r = g.r
    for _ in range(n):
        ip = r.choice(g.attackers) if r.random() < 0.6 else r.choice(g.clients)
        sess = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(16))
        svc = r.choice(["imap-login", "pop3-login"])
        k = r.random()
        if k < 0.25:
            msg = "%s: Disconnected (auth failed, %d attempts in %d secs): user=<%s>, method=PLAIN, rip=%s, lip=10.0.0.5, TLS, session=<%s>" % (
                svc, r.randrange(1, 4), r.randrange(1, 30), r.choice(USERS_BAD), ip, sess)
        elif k < 0.4:
            msg = ("auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot "
                   "ruser=%s rhost=%s  user=%s" % ((r.choice(USERS_GOOD),) + (ip,) + (r.choice(USERS_GOOD),)))
        elif k < 0.5:
            msg = "%s: Aborted login (auth failed, 1 attempts in 2 secs): user=<%s>, method=LOGIN, rip=%s, lip=10.0.0.5, session=<%s>" % (
                svc, r.choice(USERS_BAD), ip, sess)
        elif k < 0.7:
            u = r.choice(USERS_GOOD)
            msg = "%s: Login: user=<%s>, method=PLAIN, rip=%s, lip=10.0.0.5, mpid=%d, TLS, session=<%s>" % (
                svc, u, ip, r.randrange(1000, 99999), sess)
        elif k < 0.85:
            msg = "imap(%s)<%d><%s>: Disconnected: Logged out in=%d out=%d deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0" % (
                r.choice(USERS_GOOD), r.randrange(1000, 99999), sess, r.randrange(999), r.randrange(99999))
        else:
            msg = "%s: Disconnected (no auth attempts in %d secs): user=<>, rip=%s, lip=10.0.0.5, TLS handshaking: SSL_accept() failed: error:0A000416:SSL routines::sslv3 alert certificate unknown, session=<%s>" % (
                svc, r.randrange(0, 9), ip, sess)
        out.append(g.syslog("dovecot", msg))


KINDS = {"sshd": sshd, "nginx": nginx, "apache-auth": apache_auth, "postfix": postfix, "dovecot": dovecot}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kind", choices=sorted(KINDS), required=True)
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dates", choices=["iso", "syslog"], default="iso")
    ap.add_argument("--end", type=float, default=None, help="Unix time of the last line (default: now - 1h)")
    a = ap.parse_args()
    end = a.end if a.end is not None else time.time() - 3600
    g = Gen(a.seed, a.dates, end, a.lines)
    w = sys.stdout.write
    chunk = []
    # Generate in chunks to keep memory flat on million-line logs.
    left = a.lines
    fn = KINDS[a.kind]
    while left > 0:
        k = min(left, 50000)
        chunk = []
        fn(g, k, chunk)
        w("\n".join(chunk) + "\n")
        left -= k


if __name__ == "__main__":
    main()
