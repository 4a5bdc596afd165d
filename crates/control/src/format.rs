//! Output as `fail2ban-client` prints it, and a JSON form for scripts.
//!
//! [`beautify`] turns a successful reply into the text `fail2ban-client`
//! prints for the same command (status trees, lists of regexes and paths,
//! ban lists with a separator, ...); [`beautify_error`] does the same for a
//! failed command. [`reply_json`] and [`error_json`] give machine-readable
//! equivalents: status trees become objects, everything else maps to plain
//! JSON.

use crate::value::Value;
use serde_json::json;

/// Python's `logging.getLevelName` for fail2ban's levels.
fn level_name(level: i64) -> String {
    match level {
        50 => "CRITICAL".into(),
        40 => "ERROR".into(),
        30 => "WARNING".into(),
        25 => "NOTICE".into(),
        20 => "INFO".into(),
        18 => "MSG".into(),
        10 => "DEBUG".into(),
        7 => "TRACE".into(),
        5 => "HEAVY".into(),
        0 => "NOTSET".into(),
        n => format!("Level {n}"),
    }
}

/// Python's `" ".join(map(str, v))` when `v` is a list, else `str(v)`.
fn status_value(v: &Value) -> String {
    match v {
        Value::List(items) => items
            .iter()
            .map(Value::py_str)
            .collect::<Vec<_>>()
            .join(" "),
        other => other.py_str(),
    }
}

/// Items of a list or tuple, only if all are `str` (Python's `+`/`join` would
/// fail otherwise).
fn strs(v: &Value) -> Option<Vec<&str>> {
    match v {
        Value::List(items) | Value::Tuple(items) => items.iter().map(Value::as_str).collect(),
        _ => None,
    }
}

fn tree_list(header: &str, items: &[&str]) -> String {
    let mut msg = String::from(header);
    if let Some((last, init)) = items.split_last() {
        for item in init {
            msg.push_str("|- ");
            msg.push_str(item);
            msg.push('\n');
        }
        msg.push_str("`- ");
        msg.push_str(last);
    }
    msg
}

fn pair(v: &Value) -> Option<(&Value, &Value)> {
    match v {
        Value::List(p) | Value::Tuple(p) if p.len() >= 2 => Some((&p[0], &p[1])),
        _ => None,
    }
}

fn status_tree(cmd: &[String], response: &Value) -> Option<String> {
    let entries = response.as_seq()?;
    let mut lines = Vec::new();
    if cmd.len() > 1 {
        lines.push(format!("Status for the jail: {}", cmd[1]));
        for (n, section) in entries.iter().enumerate() {
            let last = n + 1 == entries.len();
            let (name, items) = pair(section)?;
            lines.push(format!(
                "{} {}",
                if last { "`-" } else { "|-" },
                name.py_str()
            ));
            let indent = if last { "   " } else { "|  " };
            let items = items.as_seq()?;
            for (m, item) in items.iter().enumerate() {
                let branch = if m + 1 == items.len() { "`-" } else { "|-" };
                let (k, v) = pair(item)?;
                lines.push(format!(
                    "{indent}{branch} {}:\t{}",
                    k.py_str(),
                    status_value(v)
                ));
            }
        }
    } else {
        lines.push("Status".to_owned());
        for (n, item) in entries.iter().enumerate() {
            let branch = if n + 1 == entries.len() { "`-" } else { "|-" };
            let (k, v) = pair(item)?;
            lines.push(format!("{branch} {}:\t{}", k.py_str(), status_value(v)));
        }
    }
    Some(lines.join("\n"))
}

/// The text `fail2ban-client` prints for the successful reply `response` to
/// the command `cmd` (the words as typed, e.g. `["get", "sshd", "banip", ","]`).
pub fn beautify<S: AsRef<str>>(cmd: &[S], response: &Value) -> String {
    let cmd: Vec<String> = cmd.iter().map(|s| s.as_ref().to_owned()).collect();
    match beautify_inner(&cmd, response) {
        Some(s) => s,
        // Where fail2ban's beautifier hits a type error it prints both reprs.
        None => format!("{}{}", response.py_repr(), response.py_repr()),
    }
}

fn beautify_inner(c: &[String], r: &Value) -> Option<String> {
    let arg = |i: usize| c.get(i).map(String::as_str);
    let s = |v: &Value| v.as_str().map(str::to_owned);
    Some(match arg(0)? {
        "ping" => format!("Server replied: {}", s(r)?),
        "version" => r.py_str(),
        "start" => "Jail started".into(),
        "stop" if matches!(r, Value::None) => {
            if c.len() == 1 {
                "Shutdown successful".into()
            } else {
                "Jail stopped".into()
            }
        }
        "stop" => r.py_str(),
        "add" => format!("Added jail {}", s(r)?),
        "flushlogs" => format!("logs: {}", s(r)?),
        "echo" => strs(r)?.join(" "),
        "status" => status_tree(c, r)?,
        _ if c.len() < 2 => r.py_str(),
        _ => match arg(1)? {
            "syslogsocket" => format!("Current syslog socket is:\n`- {}", s(r)?),
            "logtarget" => format!("Current logging target is:\n`- {}", s(r)?),
            "loglevel" => {
                let name = match r {
                    Value::Int(i) => Value::Str(level_name(*i)),
                    other => other.clone(),
                };
                format!("Current logging level is {}", name.py_repr())
            }
            "dbfile" => match r {
                Value::None => "Database currently disabled".into(),
                _ => format!("Current database file is:\n`- {}", s(r)?),
            },
            "dbpurgeage" => match r {
                Value::None => "Database currently disabled".into(),
                Value::Int(i) => format!("Current database purge age is:\n`- {i}seconds"),
                Value::Float(f) => format!(
                    "Current database purge age is:\n`- {}seconds",
                    f.trunc() as i64
                ),
                _ => return None,
            },
            _ if c.len() < 3 => r.py_str(),
            _ => beautify_jail(c, r)?,
        },
    })
}

fn beautify_jail(c: &[String], r: &Value) -> Option<String> {
    let seq_len = || {
        r.as_seq().map(<[Value]>::len).or(match r {
            Value::Str(s) => Some(s.chars().count()),
            Value::Dict(d) => Some(d.len()),
            _ => None,
        })
    };
    Some(match c[2].as_str() {
        "logpath" | "addlogpath" | "dellogpath" => {
            if seq_len()? == 0 {
                "No file is currently monitored".into()
            } else {
                tree_list("Current monitored log file(s):\n", &strs(r)?)
            }
        }
        "logencoding" => format!("Current log encoding is set to:\n{}", r.as_str()?),
        "journalmatch" | "addjournalmatch" | "deljournalmatch" => {
            if seq_len()? == 0 {
                "No journal match filter set".into()
            } else {
                let groups: Option<Vec<String>> = r
                    .as_seq()?
                    .iter()
                    .map(|g| strs(g).map(|w| w.join(" ")))
                    .collect();
                format!("Current match filter:\n{}", groups?.join(" + "))
            }
        }
        "datepattern" => {
            let mut msg = String::from("Current date pattern set to: ");
            match r {
                Value::None => msg.push_str("Not set/required"),
                Value::Tuple(p) | Value::List(p)
                    if !p.is_empty() && matches!(p[0], Value::None) =>
                {
                    msg.push_str(&p.get(1)?.py_str())
                }
                Value::Tuple(p) if p.len() == 2 => {
                    msg.push_str(&format!("{} ({})", p[0].py_str(), p[1].py_str()));
                }
                _ => return None,
            }
            msg
        }
        "ignoreip" | "addignoreip" | "delignoreip" => {
            if seq_len()? == 0 {
                "No IP address/network is ignored".into()
            } else {
                tree_list("These IP addresses/networks are ignored:\n", &strs(r)?)
            }
        }
        "failregex" | "addfailregex" | "delfailregex" | "ignoreregex" | "addignoreregex"
        | "delignoreregex" => {
            if seq_len()? == 0 {
                "No regular expression is defined".into()
            } else {
                let items = strs(r)?;
                let mut msg = String::from("The following regular expression are defined:\n");
                let last = items.len() - 1;
                for (n, l) in items.iter().enumerate() {
                    let branch = if n == last { "`-" } else { "|-" };
                    msg.push_str(&format!("{branch} [{n}]: {l}"));
                    if n != last {
                        msg.push('\n');
                    }
                }
                msg
            }
        }
        "actions" => {
            if seq_len()? == 0 {
                format!("No actions for jail {}", c[1])
            } else {
                format!(
                    "The jail {} has the following actions:\n{}",
                    c[1],
                    strs(r)?.join(", ")
                )
            }
        }
        what @ ("actionproperties" | "actionmethods") => {
            let kind = if what == "actionproperties" {
                "properties"
            } else {
                "methods"
            };
            let act = c.get(3)?;
            if seq_len()? == 0 {
                format!("No {kind} for jail {} action {act}", c[1])
            } else {
                format!(
                    "The jail {} action {act} has the following {kind}:\n{}",
                    c[1],
                    strs(r)?.join(", ")
                )
            }
        }
        "banip" if c[0] == "get" => match r {
            Value::List(_) => {
                let sep = match c.get(3).map(String::as_str) {
                    None => " ",
                    Some("--with-time") => "\n",
                    Some(sep) => sep,
                };
                strs(r)?.join(sep)
            }
            other => other.py_str(),
        },
        _ => r.py_str(),
    })
}

/// The text `fail2ban-client` prints when the command failed with the
/// exception `err` (a [`Value::Exception`], or a bare string from very old
/// servers).
pub fn beautify_error(err: &Value) -> String {
    match err {
        Value::Exception { name, args, .. } => {
            let first = args.first().map(Value::py_str).unwrap_or_default();
            match name.as_str() {
                "UnknownJailException" => format!("Sorry but the jail '{first}' does not exist"),
                "IndexError" => "Sorry but the command is invalid".into(),
                "DuplicateJailException" => format!("The jail '{first}' already exists"),
                // str(KeyError('x')) is the repr of its argument.
                "KeyError" if args.len() == 1 => args[0].py_repr(),
                _ => err.py_str(),
            }
        }
        other => other.py_str(),
    }
}

/// Plain JSON for any protocol value: lists, tuples and sets become arrays,
/// dicts become objects (keys through `str()`), bytes are decoded lossily.
pub fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::None => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::BigInt(_) => json!(v.py_str()),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::Str(s) => json!(s),
        Value::Bytes(b) => json!(String::from_utf8_lossy(b)),
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            serde_json::Value::Array(items.iter().map(to_json).collect())
        }
        Value::Dict(pairs) => serde_json::Value::Object(
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().map_or_else(|| k.py_str(), str::to_owned),
                        to_json(v),
                    )
                })
                .collect(),
        ),
        Value::Exception { .. } => error_json(v),
    }
}

/// A list of `(name, value)` pairs as an object, recursively (status trees).
fn pairs_to_object(v: &Value) -> Option<serde_json::Value> {
    let items = v.as_seq()?;
    let mut map = serde_json::Map::new();
    for item in items {
        let (k, val) = pair(item)?;
        let key = k.as_str()?.to_owned();
        let val = if val.as_seq().is_some_and(|s| {
            !s.is_empty()
                && s.iter()
                    .all(|x| pair(x).is_some_and(|(k, _)| k.as_str().is_some()))
        }) {
            pairs_to_object(val).unwrap_or_else(|| to_json(val))
        } else if key == "Jail list" {
            // The server sends "a, b"; scripts want a list.
            match val.as_str() {
                Some("") => json!([]),
                Some(s) => json!(s.split(", ").collect::<Vec<_>>()),
                None => to_json(val),
            }
        } else {
            to_json(val)
        };
        map.insert(key, val);
    }
    Some(serde_json::Value::Object(map))
}

/// JSON for a successful reply to `cmd`: status trees become nested
/// objects (`{"Filter": {"Currently failed": 0, ...}, "Actions": {...}}`),
/// anything else goes through [`to_json`].
pub fn reply_json<S: AsRef<str>>(cmd: &[S], response: &Value) -> serde_json::Value {
    if cmd.first().map(AsRef::as_ref) == Some("status") {
        if let Some(obj) = pairs_to_object(response) {
            return obj;
        }
    }
    to_json(response)
}

/// JSON for a failed command: `{"error": {"type": ..., "message": ...}}`.
pub fn error_json(err: &Value) -> serde_json::Value {
    let (kind, args) = match err {
        Value::Exception { name, args, .. } => (name.clone(), args.clone()),
        other => ("Exception".to_owned(), vec![other.clone()]),
    };
    json!({
        "error": {
            "type": kind,
            "message": beautify_error(err),
            "args": args.iter().map(to_json).collect::<Vec<_>>(),
        }
    })
}

/// Exit code `fail2ban-client` returns when the server reports a failure.
pub const EXIT_FAILURE: i32 = 255;

/// What `fail2ban-client` prints on stdout for `reply` to `cmd`, and the exit
/// code it returns (0, or [`EXIT_FAILURE`] for a failed command); with
/// `json`, the JSON form instead of the text.
pub fn render<S: AsRef<str>>(cmd: &[S], reply: &crate::client::Reply, json: bool) -> (String, i32) {
    use crate::client::Reply;
    match (reply, json) {
        (Reply::Ok(v), false) => (beautify(cmd, v), 0),
        (Reply::Ok(v), true) => (reply_json(cmd, v).to_string(), 0),
        (Reply::Err(e), false) => (beautify_error(e), EXIT_FAILURE),
        (Reply::Err(e), true) => (error_json(e).to_string(), EXIT_FAILURE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CommandError;

    fn jail_status() -> Value {
        let l = |v: &[&str]| Value::str_list(v.iter().copied());
        Value::List(vec![
            Value::pair(
                "Filter",
                Value::List(vec![
                    Value::pair("Currently failed", Value::Int(1)),
                    Value::pair("Total failed", Value::Int(9)),
                    Value::pair("File list", l(&["/var/log/auth.log"])),
                ]),
            ),
            Value::pair(
                "Actions",
                Value::List(vec![
                    Value::pair("Currently banned", Value::Int(1)),
                    Value::pair("Total banned", Value::Int(2)),
                    Value::pair("Banned IP list", l(&["192.0.2.1"])),
                ]),
            ),
        ])
    }

    #[test]
    fn status_json_is_an_object_tree() {
        let j = reply_json(&["status", "sshd"], &jail_status());
        assert_eq!(j["Filter"]["Total failed"], json!(9));
        assert_eq!(j["Filter"]["File list"], json!(["/var/log/auth.log"]));
        assert_eq!(j["Actions"]["Banned IP list"], json!(["192.0.2.1"]));
        let s = Value::List(vec![
            Value::pair("Number of jail", Value::Int(2)),
            Value::pair("Jail list", Value::str("a, sshd")),
        ]);
        assert_eq!(
            reply_json(&["status"], &s),
            json!({"Number of jail": 2, "Jail list": ["a", "sshd"]})
        );
        let none = Value::List(vec![
            Value::pair("Number of jail", Value::Int(0)),
            Value::pair("Jail list", Value::str("")),
        ]);
        assert_eq!(reply_json(&["status"], &none)["Jail list"], json!([]));
    }

    #[test]
    fn other_json() {
        let banned = Value::List(vec![Value::Dict(vec![(
            Value::str("sshd"),
            Value::str_list(["192.0.2.1"]),
        )])]);
        assert_eq!(
            reply_json(&["banned"], &banned),
            json!([{"sshd": ["192.0.2.1"]}])
        );
        assert_eq!(
            reply_json(&["get", "sshd", "bantime"], &Value::Int(600)),
            json!(600)
        );
        assert_eq!(reply_json(&["get", "dbfile"], &Value::None), json!(null));
        let e = error_json(&CommandError::unknown_jail("web").to_value());
        assert_eq!(e["error"]["type"], json!("UnknownJailException"));
        assert_eq!(
            e["error"]["message"],
            json!("Sorry but the jail 'web' does not exist")
        );
        assert_eq!(e["error"]["args"], json!(["web"]));
    }

    #[test]
    fn render_gives_text_json_and_exit_codes() {
        use crate::client::Reply;
        let ok = Reply::Ok(Value::str("pong"));
        assert_eq!(
            render(&["ping"], &ok, false),
            ("Server replied: pong".into(), 0)
        );
        assert_eq!(render(&["ping"], &ok, true), ("\"pong\"".into(), 0));
        let err = Reply::Err(CommandError::unknown_jail("x").to_value());
        let (text, code) = render(&["status", "x"], &err, false);
        assert_eq!(
            (text.as_str(), code),
            ("Sorry but the jail 'x' does not exist", EXIT_FAILURE)
        );
        let (text, _) = render(&["status", "x"], &err, true);
        assert!(text.contains("UnknownJailException"));
    }

    #[test]
    fn type_errors_fall_back_like_the_beautifier() {
        // fail2ban's beautifier prints reprs when concatenation fails.
        assert_eq!(beautify(&["ping"], &Value::Int(1)), "11");
    }
}
