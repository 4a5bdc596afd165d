//! [`MetricsServer`]: an opt-in HTTP endpoint serving `GET /metrics`.
//!
//! Plain `std::net`: one accept thread, one short-lived thread per connection,
//! at most [`MAX_CONNECTIONS`] at once (further clients wait in the listen backlog
//! until a slot frees), read and write timeouts,
//! requests capped at [`MAX_REQUEST`] bytes. Anything but `GET /metrics` gets
//! `404` (or `405` for other methods).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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
    slots: Slots,
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
        let slots: Slots = Arc::new((Mutex::new(0), Condvar::new()));
        let slots2 = Arc::clone(&slots);
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || accept_loop(listener, render, stop2, slots2))
            .map_err(err)?;
        Ok(MetricsServer {
            addr: local,
            stop,
            slots,
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
        // Wake the accept thread whether it waits for a slot or in accept().
        {
            let (m, cv) = &*self.slots;
            let _n = m.lock().unwrap_or_else(|e| e.into_inner());
            cv.notify_all();
        }
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

/// Connection slots: a counter and a condition variable to wait for a free one.
type Slots = Arc<(Mutex<usize>, Condvar)>;

fn release(slots: &Slots) {
    let (m, cv) = &**slots;
    let mut n = m.lock().unwrap_or_else(|e| e.into_inner());
    *n = n.saturating_sub(1);
    cv.notify_one();
}

fn accept_loop(listener: TcpListener, render: Arc<RenderFn>, stop: Arc<AtomicBool>, slots: Slots) {
    loop {
        // Take a slot before accepting: beyond the limit, clients queue in the backlog.
        {
            let (m, cv) = &*slots;
            let mut n = m.lock().unwrap_or_else(|e| e.into_inner());
            while *n >= MAX_CONNECTIONS && !stop.load(Ordering::SeqCst) {
                n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
            }
            if stop.load(Ordering::SeqCst) {
                break;
            }
            *n += 1;
        }
        let conn = listener.accept();
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok((mut stream, _)) = conn else {
            release(&slots);
            // EMFILE and friends: back off a little rather than spin.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let render = Arc::clone(&render);
        let slots2 = Arc::clone(&slots);
        let spawned = std::thread::Builder::new()
            .name("metrics-conn".into())
            .spawn(move || {
                let _ = handle(&mut stream, &*render);
                finish(&mut stream);
                release(&slots2);
            });
        if spawned.is_err() {
            release(&slots);
        }
    }
}

/// Close politely: stop writing, then read what the client still sends (bounded
/// in bytes and time) so the close does not turn into a reset that loses the reply.
fn finish(stream: &mut TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 4096];
    let mut total = 0;
    while total < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
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
