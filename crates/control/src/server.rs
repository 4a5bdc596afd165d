//! The control-socket server: a Unix socket, one thread per connection,
//! explicit limits, clean shutdown.
//!
//! Threads rather than an async runtime: the [`Handler`] is synchronous (it
//! talks to the jails under a lock and returns), connections are few and
//! short-lived (one `fail2ban-client` call each), and the number of threads
//! is capped by [`ServerConfig::max_connections`]. A connection over the cap
//! gets an error reply and is closed at once by the accept loop, so a flood
//! of clients costs one `accept` and one small write each.
//!
//! The socket file is created with mode 0600 before anyone can connect to
//! it: it is bound inside a fresh private (0700) directory next to the final
//! path, chmodded, then renamed into place. This needs no process-wide
//! `umask` change, which would race with other threads creating files.

use crate::command::Command;
use crate::error::CommandError;
use crate::frame::{encode_frame, find, split_frame, Frame, FrameError, END};
use crate::pickle::DecodeOptions;
use crate::value::Value;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the server calls for each decoded command.
///
/// Implemented by the daemon (the ban manager and jails); tests implement it
/// with a small in-memory map. Errors become `(1, exception)` replies.
pub trait Handler: Send + Sync + 'static {
    /// Run one command and produce the reply value.
    fn handle(&self, cmd: Command) -> Result<Value, CommandError>;
}

impl<F> Handler for F
where
    F: Fn(Command) -> Result<Value, CommandError> + Send + Sync + 'static,
{
    fn handle(&self, cmd: Command) -> Result<Value, CommandError> {
        self(cmd)
    }
}

/// Limits of the server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Connections served at once; more get an error reply and are closed.
    pub max_connections: usize,
    /// Largest request, in bytes (a `reload --all` stream of many jails can
    /// be a few hundred KiB).
    pub max_request: usize,
    /// Deepest nesting in a request (a reload stream nests 4 levels).
    pub max_depth: usize,
    /// A connection silent this long is closed.
    pub read_timeout: Duration,
    /// A client that does not read its reply this long is dropped.
    pub write_timeout: Duration,
    /// How long [`Server::shutdown`] waits for running commands to finish.
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            max_connections: 64,
            max_request: 8 << 20,
            max_depth: 32,
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// Errors setting the server up.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another server answers on the socket.
    #[error("{path}: a server is already listening on this socket")]
    AlreadyRunning {
        /// socket path
        path: PathBuf,
    },
    /// Something that is not a socket is in the way.
    #[error("{path}: exists and is not a socket; not removing it")]
    NotASocket {
        /// socket path
        path: PathBuf,
    },
    /// A system call failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// path involved
        path: PathBuf,
        /// the operation
        what: &'static str,
        /// the OS error
        source: io::Error,
    },
}

fn io_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(io::Error) -> ServerError + 'a {
    move |source| ServerError::Io {
        path: path.to_owned(),
        what,
        source,
    }
}

/// A shutdown switch shared by the server, its connections and whoever
/// wants to stop it (the handler of `stop`, a signal handler thread).
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A new, untriggered switch.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Ask the server to stop: it stops accepting, lets running commands
    /// finish and closes idle connections.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`Shutdown::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Counters, for observability and tests.
#[derive(Debug, Default)]
pub struct Stats {
    /// connections accepted and served
    pub accepted: AtomicU64,
    /// connections refused because of `max_connections`
    pub refused: AtomicU64,
    /// requests answered (including error replies)
    pub requests: AtomicU64,
    /// frames that failed to decode
    pub bad_frames: AtomicU64,
}

struct Shared {
    config: ServerConfig,
    handler: Arc<dyn Handler>,
    shutdown: Shutdown,
    active: Mutex<usize>,
    idle: Condvar,
    active_fast: AtomicUsize,
    stats: Stats,
}

/// A running control-socket server.
pub struct Server {
    path: PathBuf,
    ident: (u64, u64),
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

const POLL: Duration = Duration::from_millis(100);

impl Server {
    /// Create the socket at `path` (mode 0600; a stale socket is replaced,
    /// a live one is an error) and start serving `handler` on it.
    pub fn bind(
        path: impl AsRef<Path>,
        config: ServerConfig,
        handler: Arc<dyn Handler>,
        shutdown: Shutdown,
    ) -> Result<Server, ServerError> {
        let path = path.as_ref().to_owned();
        let (listener, ident) = bind_private(&path)?;
        listener
            .set_nonblocking(true)
            .map_err(io_err(&path, "set_nonblocking"))?;
        let shared = Arc::new(Shared {
            config,
            handler,
            shutdown,
            active: Mutex::new(0),
            idle: Condvar::new(),
            active_fast: AtomicUsize::new(0),
            stats: Stats::default(),
        });
        let sh = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("control-accept".into())
            .spawn(move || accept_loop(listener, sh))
            .map_err(io_err(&path, "spawn accept thread"))?;
        Ok(Server {
            path,
            ident,
            shared,
            accept: Some(accept),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The switch that stops this server.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shared.shutdown.clone()
    }

    /// Connections being served right now.
    pub fn active_connections(&self) -> usize {
        self.shared.active_fast.load(Ordering::SeqCst)
    }

    /// Counters since start.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Block until the shutdown switch is triggered, then stop cleanly.
    pub fn wait(mut self) {
        while !self.shared.shutdown.is_triggered() {
            std::thread::sleep(POLL);
        }
        self.finish();
    }

    /// Trigger the shutdown switch and stop cleanly: no new connections,
    /// running commands finish (up to `shutdown_grace`), the socket file is
    /// removed.
    pub fn shutdown(mut self) {
        self.shared.shutdown.trigger();
        self.finish();
    }

    fn finish(&mut self) {
        self.shared.shutdown.trigger();
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let deadline = Instant::now() + self.shared.config.shutdown_grace;
        if let Ok(mut active) = self.shared.active.lock() {
            while *active > 0 {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                match self.shared.idle.wait_timeout(active, deadline - now) {
                    Ok((guard, _)) => active = guard,
                    Err(_) => return,
                }
            }
        }
        // Remove the socket only if it is still ours.
        if let Ok(md) = std::fs::symlink_metadata(&self.path) {
            if (md.dev(), md.ino()) == self.ident {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.accept.is_some() {
            self.finish();
        }
    }
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Bind a listener at `path` with mode 0600 from the first instant.
fn bind_private(path: &Path) -> Result<(UnixListener, (u64, u64)), ServerError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io_err(&parent, "create socket directory"))?;
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_socket() => {
            // A stale socket (nobody listens) is replaced atomically by the
            // rename below; a live one is left alone.
            if UnixStream::connect(path).is_ok() {
                return Err(ServerError::AlreadyRunning {
                    path: path.to_owned(),
                });
            }
        }
        Ok(_) => {
            return Err(ServerError::NotASocket {
                path: path.to_owned(),
            })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(path, "stat socket")(e)),
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmpdir = parent.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&tmpdir)
        .map_err(io_err(&tmpdir, "create private directory"))?;
    let result = (|| {
        let tmp = tmpdir.join("s");
        let listener = UnixListener::bind(&tmp).map_err(io_err(&tmp, "bind"))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .map_err(io_err(&tmp, "chmod 0600"))?;
        std::fs::rename(&tmp, path).map_err(io_err(path, "move socket into place"))?;
        let md = std::fs::symlink_metadata(path).map_err(io_err(path, "stat socket"))?;
        Ok((listener, (md.dev(), md.ino())))
    })();
    let _ = std::fs::remove_dir_all(&tmpdir);
    result
}

fn wait_readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, count 1.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    n > 0
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) {
    let fd = listener.as_raw_fd();
    while !shared.shutdown.is_triggered() {
        if !wait_readable(fd, POLL) {
            continue;
        }
        loop {
            if shared.shutdown.is_triggered() {
                return;
            }
            match listener.accept() {
                Ok((stream, _)) => admit(stream, &shared),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // EMFILE/ENFILE and the like: back off briefly, keep serving.
                    std::thread::sleep(Duration::from_millis(10));
                    break;
                }
            }
        }
    }
}

fn admit(stream: UnixStream, shared: &Arc<Shared>) {
    let _ = stream.set_nonblocking(false);
    {
        let Ok(mut active) = shared.active.lock() else {
            return;
        };
        if *active >= shared.config.max_connections {
            drop(active);
            shared.stats.refused.fetch_add(1, Ordering::Relaxed);
            refuse(
                stream,
                "too many connections to the control socket, try again",
            );
            return;
        }
        *active += 1;
        shared.active_fast.fetch_add(1, Ordering::SeqCst);
    }
    shared.stats.accepted.fetch_add(1, Ordering::Relaxed);
    let sh = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("control-conn".into())
        .spawn(move || {
            let sh2 = Arc::clone(&sh);
            let _guard = ActiveGuard(sh2);
            serve_connection(stream, &sh);
        });
    if spawned.is_err() {
        release(shared);
    }
}

struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        release(&self.0);
    }
}

fn release(shared: &Shared) {
    if let Ok(mut active) = shared.active.lock() {
        *active = active.saturating_sub(1);
        shared.active_fast.fetch_sub(1, Ordering::SeqCst);
        shared.idle.notify_all();
    }
}

/// Tell an over-limit client why, without ever blocking the accept loop.
fn refuse(mut stream: UnixStream, why: &str) {
    let _ = stream.set_nonblocking(true);
    let reply = Value::Tuple(vec![Value::Int(1), CommandError::other(why).to_value()]);
    let _ = stream.write_all(&encode_frame(&reply));
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn error_reply(err: &CommandError) -> Value {
    Value::Tuple(vec![Value::Int(1), err.to_value()])
}

/// Run one decoded request through the parser and the handler.
fn dispatch(request: Value, shared: &Shared) -> Value {
    let items = match request {
        Value::List(items) | Value::Tuple(items) => items,
        other => {
            return error_reply(&CommandError::value(format!(
                "a request must be a list, got {}",
                other.py_repr()
            )))
        }
    };
    let cmd = match Command::parse(&items) {
        Ok(c) => c,
        Err(e) => return error_reply(&e),
    };
    let handler = Arc::clone(&shared.handler);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(cmd)));
    match result {
        Ok(Ok(v)) => Value::Tuple(vec![Value::Int(0), v]),
        Ok(Err(e)) => error_reply(&e),
        Err(_) => error_reply(&CommandError::other(
            "internal error while running the command",
        )),
    }
}

fn serve_connection(mut stream: UnixStream, shared: &Shared) {
    let cfg = &shared.config;
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(cfg.write_timeout));
    let opts = DecodeOptions {
        max_size: cfg.max_request,
        max_depth: cfg.max_depth,
        max_values: 1_000_000,
        max_bytes: cfg.max_request.saturating_mul(4),
        server_reply: false,
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    let mut last_activity = Instant::now();
    // Bytes of `buf` already searched for a terminator, so that a large
    // request arriving in many reads is not rescanned from the start each time.
    let mut scanned = 0;
    loop {
        loop {
            let complete = find(&buf[scanned..], END).is_some();
            if !complete && buf.len() <= opts.max_size + END.len() {
                scanned = buf.len().saturating_sub(END.len() - 1);
                break;
            }
            let Some((frame, used)) = split_frame(&buf, &opts, false) else {
                scanned = buf.len().saturating_sub(END.len() - 1);
                break;
            };
            buf.drain(..used);
            scanned = 0;
            let reply = match frame {
                Ok(Frame::Close) => return,
                Ok(Frame::Value(request)) => dispatch(request, shared),
                Err(e @ FrameError::TooLarge { .. }) => {
                    shared.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.write_all(&encode_frame(&error_reply(&CommandError::value(
                        e.to_string(),
                    ))));
                    return;
                }
                Err(e) => {
                    shared.stats.bad_frames.fetch_add(1, Ordering::Relaxed);
                    error_reply(&CommandError::value(e.to_string()))
                }
            };
            shared.stats.requests.fetch_add(1, Ordering::Relaxed);
            if stream.write_all(&encode_frame(&reply)).is_err() {
                return;
            }
            last_activity = Instant::now();
        }
        if shared.shutdown.is_triggered() || last_activity.elapsed() >= cfg.read_timeout {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return, // hung up (possibly mid-request)
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                last_activity = Instant::now();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}
