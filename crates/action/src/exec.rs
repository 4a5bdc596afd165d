//! Running one hook: `sh -c SCRIPT` in its own process group, with a timeout that
//! kills the whole group (the I/O edge of the command runner).

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::shell::ShellScript;

/// How much of a hook's output is kept for error messages.
const OUTPUT_LIMIT: usize = 16 * 1024;

/// What happened to one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Exit code; None when killed by a signal.
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        !self.timed_out && self.code == Some(0)
    }
}

/// Run `script` as `shell... script` (default `/bin/sh -c`), with `env` added to the
/// environment, killing its process group after `timeout`.
pub fn run(shell: &[String], script: &ShellScript, timeout: Duration) -> std::io::Result<Outcome> {
    let (prog, args) = match shell.split_first() {
        Some((p, a)) => (p.as_str(), a),
        None => ("/bin/sh", &[][..]),
    };
    let mut cmd = Command::new(prog);
    if shell.is_empty() {
        cmd.arg("-c");
    }
    cmd.args(args)
        .arg(&script.script)
        .envs(script.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let out_rx = reader(child.stdout.take());
    let err_rx = reader(child.stderr.take());
    let pid = child.id() as libc::pid_t;
    let mut pause = Duration::from_millis(1);
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            kill_group(pid, libc::SIGTERM);
            let grace = Instant::now();
            loop {
                if child.try_wait()?.is_some() {
                    // the leader is gone; make sure the rest of the group is too
                    kill_group(pid, libc::SIGKILL);
                    break;
                }
                if grace.elapsed() > Duration::from_millis(500) {
                    kill_group(pid, libc::SIGKILL);
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            break child.wait()?;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    // Output of a background child that keeps the pipe open is not waited for.
    let wait = Duration::from_millis(100);
    let stdout = out_rx.recv_timeout(wait).unwrap_or_default();
    let stderr = err_rx.recv_timeout(wait).unwrap_or_default();
    Ok(Outcome {
        code: status.code(),
        timed_out,
        stdout,
        stderr,
        elapsed: start.elapsed(),
    })
}

fn kill_group(pid: libc::pid_t, sig: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals the process group we created.
    unsafe {
        libc::kill(-pid, sig);
    }
}

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut p) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                match p.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if buf.len() < OUTPUT_LIMIT {
                            buf.extend_from_slice(&chunk[..n.min(OUTPUT_LIMIT - buf.len())]);
                        }
                    }
                }
            }
            let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
        });
    } else {
        let _ = tx.send(String::new());
    }
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh() -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into()]
    }

    fn script(s: &str) -> ShellScript {
        ShellScript {
            script: s.into(),
            env: vec![("f2bV_x".into(), "va lue".into())],
        }
    }

    #[test]
    fn exit_codes_and_output() {
        let o = run(
            &sh(),
            &script("printf '%s' \"$f2bV_x\"; echo err >&2; exit 3"),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(o.code, Some(3));
        assert_eq!(o.stdout, "va lue");
        assert_eq!(o.stderr.trim(), "err");
        assert!(!o.success());
        assert!(run(&sh(), &script("true"), Duration::from_secs(5))
            .unwrap()
            .success());
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("late");
        // a grandchild that would write the marker after 2 s
        let s = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let o = run(&sh(), &script(&s), Duration::from_millis(300)).unwrap();
        assert!(o.timed_out);
        assert!(o.elapsed < Duration::from_secs(2), "{:?}", o.elapsed);
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "grandchild survived the timeout");
    }
}
