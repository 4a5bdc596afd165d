//! [`MetricsServer`]: an opt-in HTTP endpoint serving `GET /metrics`.
//!
//! Plain `std::net`: one accept thread, one short-lived thread per connection,
//! at most [`MAX_CONNECTIONS`] at once (more get `503`), read and write timeouts,
//! requests capped at [`MAX_REQUEST`] bytes. Anything but `GET /metrics` gets
//! `404` (or `405` for other methods).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 8;
/// Bytes of request head read at most.
pub const MAX_REQUEST: usize = 8192;
/// Read/write timeout per connection.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Renders the page on each scrape (e.g. locks the daemon's state and calls
/// [`crate::render_metrics`]).
pub type RenderFn = dyn Fn() -> String + Send + Sync + 'static;

/// The running endpoint; stopped by [`MetricsServer::shutdown`] or on drop.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// The endpoint could not start.
#[derive(Debug, thiserror::Error)]
#[error("metrics: cannot listen on {addr}: {source}")]
pub struct BindError {
    pub addr: String,
    #[source]
    pub source: io::Error,
}

impl MetricsServer {
    /// Listen on `addr` (e.g. `127.0.0.1:9191`; port 0 picks one) and serve in a
    /// background thread.
    pub fn bind<A: ToSocketAddrs + std::fmt::Debug>(
        addr: A,
        render: Arc<RenderFn>,
    ) -> Result<MetricsServer, BindError> {
        let err = |source| BindError {
            addr: format!("{addr:?}"),
            source,
        };
        let listener = TcpListener::bind(&addr).map_err(err)?;
        let local = listener.local_addr().map_err(err)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || accept_loop(listener, render, stop2))
            .map_err(err)?;
        Ok(MetricsServer {
            addr: local,
            stop,
            thread: Some(thread),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting and wait for the accept thread.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_now();
        }
    }
}

fn accept_loop(listener: TcpListener, render: Arc<RenderFn>, stop: Arc<AtomicBool>) {
    let active = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = conn else {
            // EMFILE and friends: back off a little rather than spin.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = respond(
                &mut stream,
                "503 Service Unavailable",
                "text/plain",
                b"busy\n",
            );
            continue;
        }
        let render = Arc::clone(&render);
        let active2 = Arc::clone(&active);
        let spawned = std::thread::Builder::new()
            .name("metrics-conn".into())
            .spawn(move || {
                let _ = handle(&mut stream, &*render);
                active2.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn respond(stream: &mut TcpStream, status: &str, ctype: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn handle(stream: &mut TcpStream, render: &RenderFn) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && !buf.windows(2).any(|w| w == b"\n\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_REQUEST {
            return respond(
                stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"too large\n",
            );
        }
    }
    let head = String::from_utf8_lossy(&buf);
    let first = head.lines().next().unwrap_or("");
    let mut parts = first.split(' ');
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET", "/metrics") => {
            let body = render();
            respond(
                stream,
                "200 OK",
                "text/plain; version=0.0.4; charset=utf-8",
                body.as_bytes(),
            )
        }
        ("GET", _) => respond(
            stream,
            "404 Not Found",
            "text/plain",
            b"not found: try /metrics\n",
        ),
        _ => respond(
            stream,
            "405 Method Not Allowed",
            "text/plain",
            b"GET only\n",
        ),
    }
}
