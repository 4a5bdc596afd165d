//! A two-namespace lab: `srv` runs TCP listeners and the firewall, `atk` has two
//! IPv4 and two IPv6 addresses (plus one in a second IPv4 /24) and connects to it.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub const SRV4: &str = "10.200.0.1";
pub const SRV4B: &str = "10.201.0.1";
pub const SRV6: &str = "fd00:200::1";
pub const ATK4: [&str; 2] = ["10.200.0.2", "10.200.0.3"];
pub const ATK4_OTHER_NET: &str = "10.201.0.2";
pub const ATK6: [&str; 2] = ["fd00:200::2", "fd00:200::3"];
pub const PORT: u16 = 8022;
pub const OTHER_PORT: u16 = 8080;

pub struct Lab {
    pub srv: String,
    pub atk: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
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

impl Lab {
    /// Build the lab, or explain why it cannot be built.
    pub fn new(tag: &str) -> Result<Lab, String> {
        remove_stale();
        let id = std::process::id();
        let lab = Lab {
            srv: format!("bl{tag}s{id}"),
            atk: format!("bl{tag}a{id}"),
        };
        ip(&["netns", "add", &lab.srv])?;
        // from here on Drop cleans up, also when a later step fails
        ip(&["netns", "add", &lab.atk])?;
        let (s, a) = (lab.srv.as_str(), lab.atk.as_str());
        let (vs, va) = (format!("vs{tag}"), format!("va{tag}"));
        ip(&[
            "link", "add", &vs, "netns", s, "type", "veth", "peer", "name", &va, "netns", a,
        ])?;
        for (ns, cmds) in [
            (
                s,
                vec![
                    vec!["link", "set", "lo", "up"],
                    vec!["link", "set", &vs, "up"],
                    vec!["addr", "add", "10.200.0.1/24", "dev", &vs],
                    vec!["addr", "add", "10.201.0.1/24", "dev", &vs],
                    vec!["addr", "add", "fd00:200::1/64", "dev", &vs, "nodad"],
                ],
            ),
            (
                a,
                vec![
                    vec!["link", "set", "lo", "up"],
                    vec!["link", "set", &va, "up"],
                    vec!["addr", "add", "10.200.0.2/24", "dev", &va],
                    vec!["addr", "add", "10.200.0.3/24", "dev", &va],
                    vec!["addr", "add", "10.201.0.2/24", "dev", &va],
                    vec!["addr", "add", "fd00:200::2/64", "dev", &va, "nodad"],
                    vec!["addr", "add", "fd00:200::3/64", "dev", &va, "nodad"],
                ],
            ),
        ] {
            for c in cmds {
                let mut full = vec!["-n", ns];
                full.extend(c);
                ip(&full)?;
            }
        }
        for port in [PORT, OTHER_PORT] {
            lab.listen(port)?;
        }
        // wait until the plain path works for every address
        for src in ATK4
            .iter()
            .chain(ATK6.iter())
            .chain([ATK4_OTHER_NET].iter())
        {
            let dst = if src.contains(':') {
                SRV6
            } else if *src == ATK4_OTHER_NET {
                SRV4B
            } else {
                SRV4
            };
            let mut ok = false;
            for _ in 0..50 {
                if lab.connects(src, dst, PORT) {
                    ok = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if !ok {
                return Err(format!("lab: {src} cannot reach {dst} before any ban"));
            }
        }
        Ok(lab)
    }

    /// Prefix to run a command inside `srv`.
    pub fn in_srv(&self, prog: &str) -> Vec<String> {
        vec![
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.srv.clone(),
            prog.into(),
        ]
    }

    fn listen(&self, port: u16) -> Result<(), String> {
        let ns = self.srv.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let bound = enter(&ns).and_then(|_| {
                TcpListener::bind(("::", port)).map_err(|e| format!("bind [::]:{port}: {e}"))
            });
            match bound {
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
                Ok(l) => {
                    let _ = tx.send(Ok(()));
                    for mut c in l.incoming().flatten() {
                        let _ = c.write_all(b"ok");
                    }
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(5))
            .map_err(|e| format!("listener: {e}"))?
    }

    /// Can `src` (an attacker address) open a TCP connection to `dst:port` and read
    /// the server's greeting?
    pub fn connects(&self, src: &str, dst: &str, port: u16) -> bool {
        let ns = self.atk.clone();
        let (src, dst) = (src.to_string(), dst.to_string());
        std::thread::spawn(move || {
            enter(&ns).is_ok() && connect_from(&src, &dst, port, Duration::from_millis(1500))
        })
        .join()
        .unwrap_or(false)
    }

    /// `nft list ruleset` inside `srv`.
    pub fn ruleset(&self) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.srv, "nft", "list", "ruleset"])
            .output()
            .expect("nft list ruleset");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn nft(&self, script: &str) {
        let st = Command::new("ip")
            .args(["netns", "exec", &self.srv, "nft", script])
            .status()
            .expect("nft");
        assert!(st.success(), "nft {script}");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.srv]);
        let _ = ip(&["netns", "del", &self.atk]);
    }
}

/// Delete labs left behind by killed test runs (their process is gone).
fn remove_stale() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("bl") else {
            continue;
        };
        let digits: String = rest
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        let pid: String = digits.chars().rev().collect();
        if pid.is_empty() || rest.len() == pid.len() {
            continue;
        }
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", &name]);
        }
    }
}

/// Move the current thread into a named network namespace.
fn enter(ns: &str) -> Result<(), String> {
    let f = std::fs::File::open(format!("/var/run/netns/{ns}"))
        .map_err(|e| format!("open netns {ns}: {e}"))?;
    // SAFETY: setns on a valid namespace fd; only this thread changes namespace.
    let r = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if r != 0 {
        return Err(format!("setns {ns}: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn sockaddr(ip: IpAddr, port: u16) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: an all-zero sockaddr_storage is valid; we fill the matching variant.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match ip {
        IpAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: port.to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            unsafe { std::ptr::write(std::ptr::addr_of_mut!(ss).cast(), sin) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        IpAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: port.to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: a.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            unsafe { std::ptr::write(std::ptr::addr_of_mut!(ss).cast(), sin6) };
            (
                ss,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// Connect from a chosen source address with a timeout, and read "ok".
fn connect_from(src: &str, dst: &str, port: u16, timeout: Duration) -> bool {
    let (Ok(src), Ok(dst)) = (src.parse::<IpAddr>(), dst.parse::<IpAddr>()) else {
        return false;
    };
    let dom = if dst.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket calls on a descriptor we own and close.
    unsafe {
        let fd = libc::socket(
            dom,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return false;
        }
        let (sa, len) = sockaddr(src, 0);
        if libc::bind(fd, std::ptr::addr_of!(sa).cast(), len) != 0 {
            libc::close(fd);
            return false;
        }
        let (da, dlen) = sockaddr(dst, port);
        let r = libc::connect(fd, std::ptr::addr_of!(da).cast(), dlen);
        if r != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINPROGRESS) {
            libc::close(fd);
            return false;
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        let n = libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int);
        let mut err: libc::c_int = 0;
        let mut elen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            std::ptr::addr_of_mut!(err).cast(),
            &mut elen,
        );
        if n != 1 || err != 0 {
            libc::close(fd);
            return false;
        }
        // blocking read of the greeting, with a timeout
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        let mut stream = <std::net::TcpStream as std::os::fd::FromRawFd>::from_raw_fd(fd);
        let _ = stream.set_read_timeout(Some(timeout));
        let mut buf = [0u8; 2];
        stream.read_exact(&mut buf).is_ok() && &buf == b"ok"
    }
}
