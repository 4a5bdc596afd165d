//! A private firewalld inside the lab's `srv` namespace, for the stock
//! `firewallcmd-*` action files.
//!
//! firewalld talks D-Bus only, so each [`Firewalld`] brings its own bus: a
//! `dbus-daemon` with a configuration file of ours (a socket path in a temporary
//! directory, a policy that lets root own and call everything), then `firewalld
//! --nofork --nopid` with its own system configuration directory and log file, both
//! started inside `srv` (`ip netns exec`) so the rules firewalld writes land in that
//! namespace. Every `firewall-cmd` of the test, and the daemon's actions, reach it
//! through `DBUS_SYSTEM_BUS_ADDRESS` ([`Firewalld::bus_address`]). Drop stops
//! firewalld (SIGTERM, it removes its rules) and then the bus.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{wait_until, Lab};

/// The bus policy: root may own every name and send to every destination (the
/// stock `FirewallD.conf` policy lives in the system bus directory, which a private
/// bus does not read).
const BUS_CONF: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <policy user="root">
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <policy context="default">
    <allow send_destination="org.freedesktop.DBus"/>
  </policy>
</busconfig>
"#;

/// A running private bus and firewalld in a lab's `srv` namespace.
pub struct Firewalld {
    dir: tempfile::TempDir,
    srv: String,
    bus: Option<Child>,
    fw: Option<Child>,
}

impl Firewalld {
    /// Are `firewalld`, `firewall-cmd` and `dbus-daemon` installed?
    pub fn installed() -> Result<(), String> {
        for prog in ["firewalld", "firewall-cmd", "dbus-daemon"] {
            let found = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
                .unwrap_or(false)
                || ["/usr/sbin", "/sbin"]
                    .iter()
                    .any(|d| Path::new(d).join(prog).is_file());
            if !found {
                return Err(format!("{prog} is not installed (scripts/install-deps.sh)"));
            }
        }
        Ok(())
    }

    /// Start the bus and firewalld in `lab.srv`; wait until `firewall-cmd --state`
    /// says `running` (up to 60 s), or return why not with firewalld's log.
    pub fn start(lab: &Lab) -> Result<Firewalld, String> {
        Firewalld::installed()?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let sock = dir.path().join("bus.sock");
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            BUS_CONF.replace("SOCKET", &sock.display().to_string()),
        )
        .map_err(|e| format!("{}: {e}", conf.display()))?;
        let etc = dir.path().join("etc");
        std::fs::create_dir_all(&etc).map_err(|e| e.to_string())?;
        // The packaged settings (nftables backend, zone public, cleanup on exit), if
        // present; firewalld's built-in defaults otherwise.
        let _ = std::fs::copy("/etc/firewalld/firewalld.conf", etc.join("firewalld.conf"));
        let base = dir.path().to_path_buf();
        let log = |name: &str| {
            std::fs::File::create(base.join(name))
                .map(Stdio::from)
                .map_err(|e| format!("{name}: {e}"))
        };
        let mut f = Firewalld {
            srv: lab.srv.clone(),
            bus: None,
            fw: None,
            dir,
        };
        f.bus = Some(
            Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &f.srv,
                    "dbus-daemon",
                    "--nofork",
                    "--nopidfile",
                ])
                .arg(format!("--config-file={}", conf.display()))
                .stdout(log("dbus.out")?)
                .stderr(log("dbus.err")?)
                .spawn()
                .map_err(|e| format!("starting dbus-daemon: {e}"))?,
        );
        if !wait_until(Duration::from_secs(10), || sock.exists()) {
            return Err(format!(
                "dbus-daemon did not create {} within 10 s: {}",
                sock.display(),
                f.read("dbus.err")
            ));
        }
        f.fw = Some(
            Command::new("ip")
                .args(["netns", "exec", &f.srv, "firewalld", "--nofork", "--nopid"])
                .arg("--system-config")
                .arg(&etc)
                .args(["--log-target", "file", "--log-file"])
                .arg(f.dir.path().join("firewalld.log"))
                .env("DBUS_SYSTEM_BUS_ADDRESS", f.bus_address())
                .stdout(log("firewalld.out")?)
                .stderr(log("firewalld.err")?)
                .spawn()
                .map_err(|e| format!("starting firewalld: {e}"))?,
        );
        let running = wait_until(Duration::from_secs(60), || {
            f.cmd(&["--state"]).is_ok_and(|s| s.trim() == "running")
        });
        if !running {
            return Err(format!(
                "firewalld did not come up within 60 s (firewall-cmd --state: {:?})\n{}",
                f.cmd(&["--state"]),
                f.logs()
            ));
        }
        Ok(f)
    }

    /// `unix:path=...` of the private bus.
    pub fn bus_address(&self) -> String {
        format!("unix:path={}", self.dir.path().join("bus.sock").display())
    }

    /// `firewall-cmd ARGS` inside `srv` on the private bus: stdout, or the
    /// command and its output when it failed.
    pub fn cmd(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.srv, "firewall-cmd"])
            .args(args)
            .env("DBUS_SYSTEM_BUS_ADDRESS", self.bus_address())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("firewall-cmd: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "firewall-cmd {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout).trim(),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// firewalld's and the bus's output (for failure messages).
    pub fn logs(&self) -> String {
        let mut s = String::new();
        for name in ["firewalld.log", "firewalld.err", "dbus.err"] {
            s.push_str(&format!("--- {name}\n{}\n", self.read(name)));
        }
        s
    }

    /// The temporary directory (bus socket, logs, configuration).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for Firewalld {
    fn drop(&mut self) {
        for child in [self.fw.take(), self.bus.take()].into_iter().flatten() {
            let mut c = child;
            // SAFETY: a signal to our own child (ip netns exec execs into it).
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            if !wait_until(Duration::from_secs(10), || {
                matches!(c.try_wait(), Ok(Some(_)))
            }) {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
