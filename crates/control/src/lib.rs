//! bailiff-control: fail2ban's control-socket protocol, so that the real
//! `fail2ban-client` (and scripts that speak to the socket) work unchanged
//! against bailiff, and `bailiff client` works against bailiff or a real
//! `fail2ban-server`.
//!
//! # Data flow
//!
//! ```text
//! socket bytes ─frame─▶ pickle::decode ─▶ Value ─Command::parse─▶ Command
//!        ▲                                                          │
//!        │                                                   Handler::handle
//!        └─frame◀─ pickle::encode ◀─ (0, Value) | (1, exception) ◀──┘
//! ```
//!
//! - [`Value`]: the Python data that travels (str, int, list, tuple, dict,
//!   set, ...), with Python's `str()`/`repr()`.
//! - [`pickle`]: a data-only pickle decoder (refuses every opcode that would
//!   import or call; bounded size, depth and expansion) and a protocol-4
//!   encoder. A client reading a *server's* reply may opt in to reading
//!   exception objects and builtin data constructors as data
//!   ([`pickle::DecodeOptions::server_reply`]); the server never does.
//! - [`frame`]: `<F2B_END_COMMAND>` framing and `<F2B_CLOSE_COMMAND>`.
//! - [`Command`] (with [`Set`], [`JailSet`], [`Get`], [`JailGet`]): every
//!   command of fail2ban 1.0's protocol, typed, and back to a request with
//!   [`Command::to_request`]; [`CommandError`] for bad commands and failed
//!   ones, sent as the Python exception fail2ban uses.
//! - [`Server`]: the Unix socket (mode 0600), one thread per connection,
//!   limits from [`ServerConfig`], stopped through [`Shutdown`]; it calls a
//!   [`Handler`] that the daemon implements.
//! - [`Client`]: sends a command, reads a [`Reply`].
//! - [`format`](mod@format): what `fail2ban-client` prints for a reply, and JSON.
//!
//! # Example
//!
//! ```no_run
//! use bailiff_control::{Client, Command, CommandError, Server, ServerConfig, Shutdown, Value};
//! use std::sync::Arc;
//!
//! let handler = |cmd: Command| -> Result<Value, CommandError> {
//!     match cmd {
//!         Command::Ping => Ok(Value::str("pong")),
//!         _ => Err(CommandError::other("Invalid command")),
//!     }
//! };
//! let server = Server::bind("/run/bailiff.sock", ServerConfig::default(), Arc::new(handler), Shutdown::new())?;
//! let mut client = Client::connect("/run/bailiff.sock", None)?;
//! let reply = client.command(&["ping"])?;
//! println!("{}", bailiff_control::format::beautify(&["ping"], &reply.into_result()?));
//! server.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod client;
pub mod command;
pub mod error;
pub mod format;
pub mod frame;
pub mod pickle;
pub mod server;
pub mod value;

pub use client::{Client, ClientError, Reply};
pub use command::{Command, Get, JailGet, JailSet, ReloadOptions, Set};
pub use error::{CommandError, ErrorKind};
pub use server::{Handler, Server, ServerConfig, ServerError, Shutdown, Stats};
pub use value::Value;
