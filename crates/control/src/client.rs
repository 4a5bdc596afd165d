//! The control-socket client: talks to bailiff or to a real fail2ban-server.

use crate::error::CommandError;
use crate::frame::{encode_frame, split_frame, Frame, FrameError, CLOSE, END};
use crate::pickle::DecodeOptions;
use crate::value::Value;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Errors talking to the server (as opposed to the server reporting that a
/// command failed, which is [`Reply::Err`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached.
    #[error("{path}: cannot connect: {source}")]
    Connect {
        /// socket path
        path: PathBuf,
        /// the OS error
        source: io::Error,
    },
    /// Reading or writing failed, or the server hung up.
    #[error("control socket: {0}")]
    Io(#[from] io::Error),
    /// The reply was not a pickle we accept.
    #[error("bad reply from server: {0}")]
    Frame(#[from] FrameError),
    /// The reply decoded but is not `(code, value)`.
    #[error("unexpected reply from server: {0}")]
    Protocol(String),
}

/// A server's answer to one command.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `(0, value)`: the command succeeded.
    Ok(Value),
    /// `(1, exception)`: the command failed; usually a [`Value::Exception`].
    Err(Value),
}

impl Reply {
    /// Success value, or the failure as a [`CommandError`].
    pub fn into_result(self) -> Result<Value, CommandError> {
        match self {
            Reply::Ok(v) => Ok(v),
            Reply::Err(e) => Err(CommandError::from_value(&e)),
        }
    }
}

/// A connection to a control socket.
pub struct Client {
    stream: Option<UnixStream>,
    buf: Vec<u8>,
    opts: DecodeOptions,
}

impl Client {
    /// Connect to the socket at `path`; `timeout` bounds every read and write.
    pub fn connect(
        path: impl AsRef<Path>,
        timeout: Option<Duration>,
    ) -> Result<Client, ClientError> {
        let path = path.as_ref();
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_owned(),
            source,
        })?;
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        Ok(Client {
            stream: Some(stream),
            buf: Vec::new(),
            opts: DecodeOptions {
                max_size: 64 << 20,
                max_depth: 64,
                max_values: 10_000_000,
                max_bytes: 256 << 20,
                // Replies of failed commands carry exception objects.
                server_reply: true,
            },
        })
    }

    /// Send one request (a list of values) and read the reply.
    pub fn send(&mut self, request: &[Value]) -> Result<Reply, ClientError> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection closed"))?;
        stream.write_all(&encode_frame(&Value::List(request.to_vec())))?;
        let mut chunk = vec![0u8; 32 << 10];
        loop {
            if let Some((frame, used)) = split_frame(&self.buf, &self.opts, true) {
                self.buf.drain(..used);
                return match frame? {
                    Frame::Value(v) => parse_reply(v),
                    Frame::Close => {
                        Err(ClientError::Protocol("server closed the connection".into()))
                    }
                };
            }
            let n = stream.read(&mut chunk)?;
            if n == 0 {
                return Err(ClientError::Io(io::Error::new(
                    io::ErrorKind::ConnectionReset,
                    "server closed the connection before replying",
                )));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Send a command given as words (`["status", "sshd"]`).
    pub fn command<S: AsRef<str>>(&mut self, words: &[S]) -> Result<Reply, ClientError> {
        let request: Vec<Value> = words
            .iter()
            .map(|w| Value::Str(w.as_ref().to_owned()))
            .collect();
        self.send(&request)
    }

    /// Say goodbye and close.
    pub fn close(mut self) {
        self.close_inner();
    }

    fn close_inner(&mut self) {
        if let Some(mut s) = self.stream.take() {
            let mut bye = CLOSE.to_vec();
            bye.extend_from_slice(END);
            let _ = s.write_all(&bye);
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close_inner();
    }
}

fn parse_reply(v: Value) -> Result<Reply, ClientError> {
    match v {
        Value::Tuple(mut items) | Value::List(mut items) if items.len() == 2 => {
            let value = items.pop().unwrap_or(Value::None);
            match items[0].as_i64() {
                Some(0) => Ok(Reply::Ok(value)),
                Some(_) => Ok(Reply::Err(value)),
                None => Err(ClientError::Protocol(format!(
                    "bad return code {}",
                    items[0].py_repr()
                ))),
            }
        }
        // fail2ban answers an undecodable request with a bare "ERROR: ..." string.
        Value::Str(s) => Ok(Reply::Err(Value::Str(s))),
        other => Err(ClientError::Protocol(other.py_repr())),
    }
}
