//! [`CommandError`]: why a command failed, and the Python exception it
//! becomes on the wire so that `fail2ban-client` prints it the way it prints
//! fail2ban's own errors.

use crate::value::Value;

/// The kind of a failed command; each maps to the Python exception class
/// fail2ban itself raises in that situation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The jail does not exist (`fail2ban.exceptions.UnknownJailException`,
    /// printed as "Sorry but the jail 'x' does not exist").
    UnknownJail,
    /// The jail already exists (`fail2ban.exceptions.DuplicateJailException`).
    DuplicateJail,
    /// Too few arguments (`IndexError`, printed as "Sorry but the command is invalid").
    Invalid,
    /// A bad argument value (`ValueError`).
    Value,
    /// Anything else (`Exception`).
    Other,
}

/// A command failed. `message` is the exception's single argument; for
/// [`ErrorKind::UnknownJail`] and [`ErrorKind::DuplicateJail`] it is the jail name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.display())]
pub struct CommandError {
    /// what went wrong
    pub kind: ErrorKind,
    /// the exception argument
    pub message: String,
}

impl CommandError {
    /// The jail `name` does not exist.
    pub fn unknown_jail(name: impl Into<String>) -> Self {
        CommandError {
            kind: ErrorKind::UnknownJail,
            message: name.into(),
        }
    }

    /// The jail `name` exists already.
    pub fn duplicate_jail(name: impl Into<String>) -> Self {
        CommandError {
            kind: ErrorKind::DuplicateJail,
            message: name.into(),
        }
    }

    /// Missing arguments, malformed command.
    pub fn invalid(message: impl Into<String>) -> Self {
        CommandError {
            kind: ErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// A bad argument value.
    pub fn value(message: impl Into<String>) -> Self {
        CommandError {
            kind: ErrorKind::Value,
            message: message.into(),
        }
    }

    /// Any other failure.
    pub fn other(message: impl Into<String>) -> Self {
        CommandError {
            kind: ErrorKind::Other,
            message: message.into(),
        }
    }

    /// Prefix the message with where it happened (for nested streams).
    pub fn context(mut self, prefix: impl AsRef<str>) -> Self {
        if !matches!(self.kind, ErrorKind::UnknownJail | ErrorKind::DuplicateJail) {
            self.message = format!("{}: {}", prefix.as_ref(), self.message);
        }
        self
    }

    fn display(&self) -> String {
        match self.kind {
            ErrorKind::UnknownJail => {
                format!("Sorry but the jail '{}' does not exist", self.message)
            }
            ErrorKind::DuplicateJail => format!("The jail '{}' already exists", self.message),
            ErrorKind::Invalid => format!("Sorry but the command is invalid ({})", self.message),
            _ => self.message.clone(),
        }
    }

    /// The Python exception `(module, class)` this error is sent as.
    pub fn python_class(&self) -> (&'static str, &'static str) {
        match self.kind {
            ErrorKind::UnknownJail => ("fail2ban.exceptions", "UnknownJailException"),
            ErrorKind::DuplicateJail => ("fail2ban.exceptions", "DuplicateJailException"),
            ErrorKind::Invalid => ("builtins", "IndexError"),
            ErrorKind::Value => ("builtins", "ValueError"),
            ErrorKind::Other => ("builtins", "Exception"),
        }
    }

    /// The exception value that goes into a `(1, exc)` reply.
    pub fn to_value(&self) -> Value {
        let (module, name) = self.python_class();
        Value::Exception {
            module: module.to_owned(),
            name: name.to_owned(),
            args: vec![Value::Str(self.message.clone())],
        }
    }

    /// Read an exception received from a server back into an error.
    pub fn from_value(v: &Value) -> Self {
        match v {
            Value::Exception { name, args, .. } => {
                let message = match args.as_slice() {
                    [one] => one.py_str(),
                    _ => v.py_str(),
                };
                let kind = match name.as_str() {
                    "UnknownJailException" => ErrorKind::UnknownJail,
                    "DuplicateJailException" => ErrorKind::DuplicateJail,
                    "IndexError" => ErrorKind::Invalid,
                    "ValueError" => ErrorKind::Value,
                    _ => ErrorKind::Other,
                };
                CommandError { kind, message }
            }
            other => CommandError::other(other.py_str()),
        }
    }
}
