//! [`Mailer`]: hand a message to the local `sendmail` binary, with no shell in
//! between. Header values are kept on one line, so text from a log can never add a
//! header or a recipient.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::ticket::Ticket;
use crate::ActionError;

/// Sends mail through a sendmail-compatible program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailer {
    /// Default `/usr/sbin/sendmail`.
    pub program: PathBuf,
    pub sender: String,
    pub sender_name: String,
    pub recipients: Vec<String>,
    pub timeout: Duration,
}

fn mail_err(program: &std::path::Path, message: impl Into<String>) -> ActionError {
    ActionError::Mail {
        program: program.display().to_string(),
        message: message.into(),
    }
}

/// One line, no control characters: safe inside a header.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn address_ok(a: &str) -> bool {
    !a.is_empty()
        && !a.starts_with('-')
        && a.chars()
            .all(|c| !c.is_control() && !c.is_whitespace() && c != '<' && c != '>' && c != ',')
}

impl Mailer {
    /// A mailer for `/usr/sbin/sendmail` from `sender` to `recipients`.
    pub fn new(sender: &str, recipients: &[&str]) -> Result<Mailer, ActionError> {
        let m = Mailer {
            program: PathBuf::from("/usr/sbin/sendmail"),
            sender: sender.to_string(),
            sender_name: "bailiff".to_string(),
            recipients: recipients.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_secs(60),
        };
        if !address_ok(sender)
            || m.recipients.is_empty()
            || !m.recipients.iter().all(|r| address_ok(r))
        {
            return Err(mail_err(&m.program, "bad sender or recipient address"));
        }
        Ok(m)
    }

    /// Use another sendmail-compatible program.
    pub fn program(mut self, p: impl Into<PathBuf>) -> Mailer {
        self.program = p.into();
        self
    }

    /// The full message (headers and body) for `subject` and `body`.
    pub fn message(&self, subject: &str, body: &str) -> String {
        let mut m = String::with_capacity(body.len() + 256);
        m.push_str(&format!(
            "From: {} <{}>\n",
            one_line(&self.sender_name),
            self.sender
        ));
        m.push_str(&format!("To: {}\n", self.recipients.join(", ")));
        m.push_str(&format!("Subject: {}\n", one_line(subject)));
        m.push_str("MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\n\n");
        for line in body.split('\n') {
            m.push_str(line.trim_end_matches('\r'));
            m.push('\n');
        }
        m
    }

    /// Run `sendmail -i -f SENDER -- RECIPIENTS...` with the message on stdin.
    pub fn send(&self, subject: &str, body: &str) -> Result<(), ActionError> {
        let msg = self.message(subject, body);
        let mut child = Command::new(&self.program)
            .arg("-i")
            .arg("-f")
            .arg(&self.sender)
            .arg("--")
            .args(&self.recipients)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| mail_err(&self.program, format!("cannot run: {e}")))?;
        if let Some(mut si) = child.stdin.take() {
            si.write_all(msg.as_bytes())
                .map_err(|e| mail_err(&self.program, format!("write: {e}")))?;
        }
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(st)) if st.success() => return Ok(()),
                Ok(Some(st)) => {
                    let mut e = String::new();
                    if let Some(mut se) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut se, &mut e);
                    }
                    return Err(mail_err(&self.program, format!("{st}: {}", e.trim())));
                }
                Ok(None) if start.elapsed() > self.timeout => {
                    // SAFETY: kill(2) on the process group we created for the child.
                    unsafe {
                        libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL);
                    }
                    let _ = child.wait();
                    return Err(mail_err(&self.program, "timed out"));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(mail_err(&self.program, e.to_string())),
            }
        }
    }
}

/// Subject and body of a ban notice, in the spirit of the `sendmail-whois-matches` action.
pub fn ban_notice(jail: &str, host: &str, ticket: &Ticket) -> (String, String) {
    let ip = ticket.ip.map(|i| i.to_string()).unwrap_or_default();
    let subject = format!("[bailiff] {jail}: banned {ip} from {host}");
    let mut body = format!(
        "The IP {ip} has just been banned by bailiff after {} attempts against {jail}.\n",
        ticket.failures
    );
    if !ticket.matches.is_empty() {
        body.push_str("\nMatches:\n");
        for m in &ticket.matches {
            body.push_str(m);
            body.push('\n');
        }
    }
    (subject, body)
}
