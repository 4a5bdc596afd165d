//! bailiff-e2e: helpers for end-to-end tests of the real `bailiff` binary with real
//! traffic. No library code of bailiff lives here; the tests are in `tests/`.
//!
//! Principal types and the flow between them:
//!
//! - A [`Lab`] is two network namespaces joined by a veth pair: `srv` (addresses
//!   [`SRV4`], [`SRV4B`], [`SRV6`]) runs TCP listeners on [`PORT`] and
//!   [`OTHER_PORT`] and the firewall; `atk` holds two IPv4 ([`ATK4`]) and two IPv6
//!   ([`ATK6`]) addresses, and one in a second IPv4 network ([`ATK4_OTHER_NET`]).
//!   The action crate's namespace tests use the same lab.
//!   [`Lab::connects`] opens a TCP connection from one attacker address and reads the
//!   listener's greeting: a ban counts only when that stops working.
//! - A [`Daemon`] is `bailiff server -f` started inside `srv` (`ip netns exec`) on a
//!   temporary copy of the stock `/etc/fail2ban` (without `jail.d`) plus our own
//!   `fail2ban.local` and `jail.local`; the test appends sshd failure lines
//!   ([`sshd_failure`]) to the jail's log and drives the control socket with
//!   [`Daemon::client`] (ours) or [`Daemon::fail2ban_client`] (the real one).
//! - Both clean up on drop, also when a test panics: the daemon is killed, the
//!   namespaces are deleted; namespaces left by killed test runs (dead pid in their
//!   name) are removed by the next [`Lab::new`].
//!
//! Tests that need root, `ip netns` or `nft` call [`skip_or_fail`]: with `CI=true`
//! a missing prerequisite fails the test, elsewhere it prints `SKIPPED: ...`.

pub mod firewalld;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Server addresses in `srv`.
pub const SRV4: &str = "10.77.0.1";
pub const SRV6: &str = "fd00:77::1";
/// Attacker addresses in `atk`: the first of each pair is the one the tests ban.
pub const ATK4: [&str; 2] = ["10.77.0.2", "10.77.0.3"];
pub const ATK6: [&str; 2] = ["fd00:77::2", "fd00:77::3"];
/// A second IPv4 network on the same link (for network bans: a ban of
/// `10.77.0.0/24` must leave it alone): the server's address and the attacker's.
pub const SRV4B: &str = "10.78.0.1";
pub const ATK4_OTHER_NET: &str = "10.78.0.2";
/// The jail's port, and a port outside the jail.
pub const PORT: u16 = 8022;
pub const OTHER_PORT: u16 = 8080;

/// Is this a CI run (`CI=true`)?
pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A missing prerequisite: fails under CI, otherwise prints a loud `SKIPPED` line
/// (written to the stderr handle itself, which the test harness does not capture).
pub fn skip_or_fail(why: &str) {
    assert!(!ci(), "CI=true but this test cannot run: {why}");
    let _ = writeln!(std::io::stderr(), "SKIPPED: {why}");
}

/// The `bailiff` binary: `$BAILIFF_BIN`, else `target/<profile>/bailiff` next to the
/// test executable (`target/<profile>/deps/<test>`).
pub fn bailiff_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BAILIFF_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join("bailiff")
}

/// The binary, or a clear failure: `scripts/test.sh` builds it before the tests.
pub fn require_bailiff_bin() -> PathBuf {
    let bin = bailiff_bin();
    assert!(
        bin.is_file(),
        "the bailiff binary is missing at {} (run `cargo build -p bailiff` first, or set BAILIFF_BIN)",
        bin.display()
    );
    bin
}

/// Poll `f` every 50 ms until it holds or `timeout` passes; true if it held.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Run `ip ARGS`, its stderr in the error.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Move the calling thread into the named network namespace.
pub fn enter_netns(name: &str) -> Result<(), String> {
    let f = std::fs::File::open(format!("/var/run/netns/{name}"))
        .map_err(|e| format!("netns {name}: {e}"))?;
    // SAFETY: setns(2) on a namespace file descriptor we hold open; it changes only
    // the calling thread, which the callers dedicate to that namespace.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!("setns {name}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

static LAB_SEQ: AtomicUsize = AtomicUsize::new(0);
const NS_PREFIX: &str = "e2e";

/// Two namespaces, a veth pair and two listeners (see the crate docs).
pub struct Lab {
    pub srv: String,
    pub atk: String,
    stop: Arc<AtomicBool>,
    listeners: Vec<JoinHandle<()>>,
}

impl Lab {
    /// Build the lab, or say why it cannot be built.
    pub fn new() -> Result<Lab, String> {
        remove_stale_namespaces();
        let n = LAB_SEQ.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let mut lab = Lab {
            srv: format!("{NS_PREFIX}{pid}x{n}s"),
            atk: format!("{NS_PREFIX}{pid}x{n}a"),
            stop: Arc::new(AtomicBool::new(false)),
            listeners: Vec::new(),
        };
        ip(&["netns", "add", &lab.srv])?;
        // From here on, Drop deletes what exists.
        ip(&["netns", "add", &lab.atk])?;
        let (s, a) = (lab.srv.clone(), lab.atk.clone());
        ip(&[
            "link", "add", "veth-srv", "netns", &s, "type", "veth", "peer", "name", "veth-atk",
            "netns", &a,
        ])?;
        let setup: [(&str, &str, Vec<&str>); 2] = [
            (
                &s,
                "veth-srv",
                vec!["10.77.0.1/24", "10.78.0.1/24", "fd00:77::1/64"],
            ),
            (
                &a,
                "veth-atk",
                vec![
                    "10.77.0.2/24",
                    "10.77.0.3/24",
                    "10.78.0.2/24",
                    "fd00:77::2/64",
                    "fd00:77::3/64",
                ],
            ),
        ];
        for (ns, dev, addrs) in setup {
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
            for addr in addrs {
                if addr.contains(':') {
                    ip(&["-n", ns, "addr", "add", addr, "dev", dev, "nodad"])?;
                } else {
                    ip(&["-n", ns, "addr", "add", addr, "dev", dev])?;
                }
            }
        }
        for port in [PORT, OTHER_PORT] {
            let h = listen(&lab.srv, port, lab.stop.clone())?;
            lab.listeners.push(h);
        }
        for src in ATK4
            .iter()
            .chain(ATK6.iter())
            .chain([ATK4_OTHER_NET].iter())
        {
            if !wait_until(Duration::from_secs(5), || lab.connects(src, PORT)) {
                return Err(format!("lab: {src} cannot reach the server before any ban"));
            }
        }
        Ok(lab)
    }

    /// Can attacker address `src` connect to the server's address on its network
    /// ([`SRV4`], [`SRV4B`] or [`SRV6`]) on `port` and read its greeting (within
    /// 1.5 s)?
    pub fn connects(&self, src: &str, port: u16) -> bool {
        let dst = if src.contains(':') {
            SRV6
        } else if src == ATK4_OTHER_NET {
            SRV4B
        } else {
            SRV4
        };
        self.connects_to(src, dst, port)
    }

    /// Can attacker address `src` connect to server address `dst` on `port` and
    /// read its greeting (within 1.5 s)?
    pub fn connects_to(&self, src: &str, dst: &str, port: u16) -> bool {
        let ns = self.atk.clone();
        let (Ok(src), Ok(dst)) = (src.parse::<IpAddr>(), dst.parse::<IpAddr>()) else {
            return false;
        };
        std::thread::spawn(move || {
            enter_netns(&ns).is_ok()
                && connect_from(src, SocketAddr::new(dst, port), Duration::from_millis(1500))
        })
        .join()
        .unwrap_or(false)
    }

    /// Wait until `src` can (or cannot) connect to [`PORT`]; true if it happened.
    pub fn wait_connects(&self, src: &str, want: bool, timeout: Duration) -> bool {
        wait_until(timeout, || self.connects(src, PORT) == want)
    }

    /// `ip netns exec SRV PROG`: a command to run inside `srv`.
    pub fn in_srv(&self, prog: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.srv]).arg(prog);
        c
    }

    /// `ip netns exec SRV PROG` as an argument vector (a command prefix for
    /// `NftBackend::with_command` or a runner's shell).
    pub fn srv_argv(&self, prog: &str) -> Vec<String> {
        ["ip", "netns", "exec", &self.srv, prog]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    /// `nft list ruleset` inside `srv` (the error text when it fails).
    pub fn ruleset(&self) -> String {
        self.nft(&["list", "ruleset"]).unwrap_or_else(|e| e)
    }

    /// `nft ARGS` inside `srv`: stdout, or stdout and stderr when it failed.
    pub fn nft(&self, args: &[&str]) -> Result<String, String> {
        self.run_srv("nft", args)
    }

    /// `PROG ARGS` inside `srv`: stdout, or the command and its stderr when it
    /// failed.
    pub fn run_srv(&self, prog: &str, args: &[&str]) -> Result<String, String> {
        let out = self
            .in_srv(prog)
            .args(args)
            .output()
            .map_err(|e| format!("{prog}: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "{prog} {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// The whole firewall of `srv`, nft and iptables views (for failure messages).
    pub fn firewall(&self) -> String {
        let nft = self.nft(&["list", "ruleset"]).unwrap_or_else(|e| e);
        let save = |prog: &str| {
            self.in_srv(prog)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let ipt = save("iptables-save") + &save("ip6tables-save");
        let ipset = self.run_srv("ipset", &["list"]).unwrap_or_else(|e| e);
        format!("--- nft list ruleset\n{nft}\n--- iptables-save\n{ipt}\n--- ipset list\n{ipset}")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.listeners.drain(..) {
            let _ = h.join();
        }
        let _ = ip(&["netns", "del", &self.srv]);
        let _ = ip(&["netns", "del", &self.atk]);
    }
}

/// Delete namespaces of earlier runs whose process is gone (`e2e<pid>x<n>[sa]`).
fn remove_stale_namespaces() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(NS_PREFIX)
            .and_then(|r| r.split_once('x'))
            .and_then(|(p, _)| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// A TCP listener on `[::]:port` in namespace `ns` that greets with "ok" until `stop`.
fn listen(ns: &str, port: u16, stop: Arc<AtomicBool>) -> Result<JoinHandle<()>, String> {
    let ns = ns.to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let bound = enter_netns(&ns).and_then(|_| {
            let l = TcpListener::bind(("::", port)).map_err(|e| format!("bind {port}: {e}"))?;
            l.set_nonblocking(true).map_err(|e| e.to_string())?;
            Ok(l)
        });
        let l = match bound {
            Ok(l) => {
                let _ = tx.send(Ok(()));
                l
            }
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        while !stop.load(Ordering::SeqCst) {
            match l.accept() {
                Ok((mut c, _)) => {
                    let _ = c.set_nonblocking(false);
                    let _ = c.write_all(b"ok");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(5))
        .map_err(|e| format!("listener on {port}: {e}"))??;
    Ok(h)
}

/// The C socket address of `a` (family-specific struct in a `sockaddr_storage`).
fn raw_addr(a: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_storage.
    let mut st: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match a {
        SocketAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in.
            let sin = unsafe {
                &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = v4.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            // SAFETY: sockaddr_storage is large and aligned enough for sockaddr_in6.
            let sin6 = unsafe {
                &mut *(&mut st as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = v6.port().to_be();
            sin6.sin6_addr.s6_addr = v6.ip().octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (st, len as libc::socklen_t)
}

/// Connect from source address `src` to `dst` and read the two-byte greeting.
/// `SO_SNDTIMEO` bounds the blocking connect, the read timeout the greeting.
fn connect_from(src: IpAddr, dst: SocketAddr, timeout: Duration) -> bool {
    let family = if dst.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: socket(2); the descriptor is owned by the TcpStream below, which
    // closes it on every path.
    let fd = unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return false;
    }
    // SAFETY: fd is a fresh socket we own.
    let mut stream = unsafe { TcpStream::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    let (sa, slen) = raw_addr(SocketAddr::new(src, 0));
    let (da, dlen) = raw_addr(dst);
    // SAFETY: valid descriptor, option and address buffers of the stated sizes.
    let connected = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        ) == 0
            && libc::bind(fd, (&sa as *const libc::sockaddr_storage).cast(), slen) == 0
            && libc::connect(fd, (&da as *const libc::sockaddr_storage).cast(), dlen) == 0
    };
    if !connected {
        return false;
    }
    let _ = stream.set_read_timeout(Some(timeout));
    let mut buf = [0u8; 2];
    stream.read_exact(&mut buf).is_ok() && &buf == b"ok"
}

/// One sshd failure line in syslog format, stamped now (local time), as the stock
/// `sshd` filter reads it.
pub fn sshd_failure(addr: &str, n: usize) -> String {
    let now = jiff::Zoned::now();
    format!(
        "{} srv sshd[{}]: Failed password for root from {addr} port {} ssh2\n",
        now.strftime("%b %e %H:%M:%S"),
        4000 + n,
        40000 + n
    )
}

/// `bailiff server -f` in the lab's `srv` namespace on a temporary configuration.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
    srv: String,
    child: Option<Child>,
    lines: usize,
    envs: Vec<(String, String)>,
}

impl Daemon {
    /// A configuration: the stock `/etc/fail2ban` without `jail.d`, plus
    /// `fail2ban.local` (socket, pidfile, dbfile, log file in the temp dir) and
    /// `jail.local` = `jail_local` with `{dir}` replaced by the temp dir. The jail's
    /// log is `{dir}/auth.log` (created empty).
    pub fn new(lab: &Lab, jail_local: &str) -> Result<Daemon, String> {
        let stock = Path::new("/etc/fail2ban");
        if !stock.join("jail.conf").is_file() {
            return Err("the stock configuration /etc/fail2ban is missing".into());
        }
        let bin = require_bailiff_bin();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let conf = dir.path().join("conf");
        copy_tree(stock, &conf, &|p: &Path| !p.ends_with("jail.d"))
            .map_err(|e| format!("copying /etc/fail2ban: {e}"))?;
        let d = dir.path().display().to_string();
        let w = |name: &str, text: String| {
            std::fs::write(conf.join(name), text).map_err(|e| format!("{name}: {e}"))
        };
        w(
            "fail2ban.local",
            format!(
                "[Definition]\nloglevel = INFO\nlogtarget = {d}/bailiff.log\nsocket = {d}/bailiff.sock\n\
                 pidfile = {d}/bailiff.pid\ndbfile = {d}/bailiff.sqlite3\n"
            ),
        )?;
        w("jail.local", jail_local.replace("{dir}", &d))?;
        std::fs::write(dir.path().join("auth.log"), "").map_err(|e| e.to_string())?;
        Ok(Daemon {
            dir,
            bin,
            srv: lab.srv.clone(),
            child: None,
            lines: 0,
            envs: Vec::new(),
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Append `text` to the daemon's `fail2ban.local` (before [`Daemon::start`]), e.g.
    /// `"health_firewall_check = 1\n"`: it lands in `[Definition]`.
    pub fn fail2ban_local(&self, text: &str) -> Result<(), String> {
        let p = self.path("conf").join("fail2ban.local");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .map_err(|e| format!("{}: {e}", p.display()))?;
        f.write_all(text.as_bytes())
            .map_err(|e| format!("{}: {e}", p.display()))
    }

    /// Set an environment variable for the daemon started next (its actions inherit
    /// it, e.g. `DBUS_SYSTEM_BUS_ADDRESS` for `firewall-cmd`).
    pub fn env(&mut self, key: &str, value: &str) {
        self.envs.push((key.to_string(), value.to_string()));
    }

    pub fn sock(&self) -> PathBuf {
        self.path("bailiff.sock")
    }

    /// Start `ip netns exec SRV bailiff server -f -x -c CONF -s SOCK` and wait until
    /// the socket answers `ping`.
    pub fn start(&mut self) -> Result<(), String> {
        self.start_wrapped(&[])
    }

    /// [`Daemon::start`] with `wrapper` between `ip netns exec SRV` and the binary
    /// (e.g. `setpriv --bounding-set=-net_admin --`, which execs it: the pid stays).
    pub fn start_wrapped(&mut self, wrapper: &[&str]) -> Result<(), String> {
        let child = Command::new("ip")
            .args(["netns", "exec", &self.srv])
            .args(wrapper)
            .arg(&self.bin)
            .args(["server", "-f", "-x", "-c"])
            .arg(self.path("conf"))
            .arg("-s")
            .arg(self.sock())
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        if !wait_until(Duration::from_secs(20), || self.client(&["ping"]).0 == 0) {
            return Err(format!(
                "bailiff server did not answer ping within 20 s; its log:\n{}",
                self.log()
            ));
        }
        Ok(())
    }

    /// `kill -9` the daemon (its rules stay in the kernel).
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait (up to 20 s, then SIGKILL); true if it stopped by itself.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        // SAFETY: a signal to our own child (ip netns exec execs into bailiff).
        unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
        let ok = wait_until(Duration::from_secs(20), || {
            matches!(c.try_wait(), Ok(Some(_)))
        });
        if !ok {
            let _ = c.kill();
            let _ = c.wait();
        }
        ok
    }

    /// `bailiff client -c CONF -s SOCK ARGS`: exit code and stdout+stderr.
    pub fn client(&self, args: &[&str]) -> (i32, String) {
        let mut c = Command::new(&self.bin);
        c.arg("client")
            .arg("-c")
            .arg(self.path("conf"))
            .arg("-s")
            .arg(self.sock())
            .args(args);
        run(c)
    }

    /// The real `fail2ban-client -s SOCK ARGS`, or None when it is not installed.
    pub fn fail2ban_client(&self, args: &[&str]) -> Option<(i32, String)> {
        let mut c = Command::new("fail2ban-client");
        c.arg("-s").arg(self.sock()).args(args);
        if Command::new("fail2ban-client")
            .arg("--version")
            .output()
            .is_err()
        {
            return None;
        }
        Some(run(c))
    }

    /// Append `n` sshd failure lines for `addr` to the jail's log.
    pub fn fail(&mut self, addr: &str, n: usize) {
        let mut text = String::new();
        for _ in 0..n {
            self.lines += 1;
            text.push_str(&sshd_failure(addr, self.lines));
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(self.path("auth.log"))
            .expect("the jail's log file");
        f.write_all(text.as_bytes())
            .expect("append to the jail's log");
    }

    /// The daemon's own log (fail2ban's format).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("bailiff.log")).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn run(mut c: Command) -> (i32, String) {
    match c.stdin(Stdio::null()).output() {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            (o.status.code().unwrap_or(-1), s)
        }
        Err(e) => (-1, e.to_string()),
    }
}

/// Copy a directory tree (files and directories only), skipping what `keep` rejects.
fn copy_tree(from: &Path, to: &Path, keep: &dyn Fn(&Path) -> bool) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let p = e.path();
        if !keep(&p) {
            continue;
        }
        let t = to.join(e.file_name());
        if p.is_dir() {
            copy_tree(&p, &t, keep)?;
        } else if p.is_file() {
            std::fs::copy(&p, &t)?;
        }
    }
    Ok(())
}
