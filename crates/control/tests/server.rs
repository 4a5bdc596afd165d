//! The server over a real Unix socket: socket creation, bad input, clients
//! that vanish, floods, shutdown.

mod common;

use bailiff_control::frame::{encode_frame, split_frame, Frame, END};
use bailiff_control::pickle::DecodeOptions;
use bailiff_control::{
    Client, Command, CommandError, Handler, Reply, Server, ServerConfig, ServerError, Shutdown,
    Value,
};
use common::{MemHandler, TestServer};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn ping(sock: &std::path::Path) -> Result<Value, String> {
    let mut c = Client::connect(sock, Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
    match c.command(&["ping"]).map_err(|e| e.to_string())? {
        Reply::Ok(v) => Ok(v),
        Reply::Err(e) => Err(e.py_str()),
    }
}

/// Read one reply frame from a raw stream.
fn read_reply(s: &mut UnixStream) -> Option<Value> {
    read_reply_buf(s, &mut Vec::new())
}

/// Read one reply frame, keeping bytes of later frames in `buf`.
fn read_reply_buf(s: &mut UnixStream, buf: &mut Vec<u8>) -> Option<Value> {
    let opts = DecodeOptions {
        server_reply: true,
        ..DecodeOptions::default()
    };
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((frame, used)) = split_frame(buf, &opts, true) {
            buf.drain(..used);
            return match frame {
                Ok(Frame::Value(v)) => Some(v),
                _ => None,
            };
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn is_error_reply(v: &Option<Value>) -> bool {
    matches!(v, Some(Value::Tuple(t)) if t.len() == 2 && t[0] == Value::Int(1))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn socket_is_0600_and_stale_sockets_are_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("bailiff.sock");
    // A stale socket: bound, then its listener dropped.
    std::fs::create_dir_all(sock.parent().unwrap()).unwrap();
    drop(UnixListener::bind(&sock).unwrap());
    assert!(std::fs::symlink_metadata(&sock)
        .unwrap()
        .file_type()
        .is_socket());

    let h = Arc::new(MemHandler::with_sshd());
    let server = Server::bind(&sock, ServerConfig::default(), h.clone(), Shutdown::new()).unwrap();
    let md = std::fs::symlink_metadata(&sock).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o600);
    assert_eq!(ping(&sock).unwrap(), Value::str("pong"));
    // No temp directory left behind.
    let leftovers: Vec<_> = std::fs::read_dir(sock.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");

    // A live socket is not stolen.
    match Server::bind(&sock, ServerConfig::default(), h.clone(), Shutdown::new()) {
        Err(ServerError::AlreadyRunning { .. }) => {}
        Err(e) => panic!("expected AlreadyRunning, got {e}"),
        Ok(_) => panic!("expected AlreadyRunning, got a second server"),
    }
    assert_eq!(ping(&sock).unwrap(), Value::str("pong"));

    // Shutdown removes the socket file.
    server.shutdown();
    assert!(!sock.exists());

    // A regular file in the way is left alone.
    std::fs::write(&sock, b"not a socket").unwrap();
    match Server::bind(&sock, ServerConfig::default(), h, Shutdown::new()) {
        Err(ServerError::NotASocket { .. }) => {}
        Err(e) => panic!("expected NotASocket, got {e}"),
        Ok(_) => panic!("expected NotASocket, got a server"),
    }
    assert_eq!(std::fs::read(&sock).unwrap(), b"not a socket");
}

#[test]
fn malformed_frames_get_error_replies_and_the_connection_goes_on() {
    let ts = TestServer::start(Arc::new(MemHandler::with_sshd()), ServerConfig::default());
    let mut s = UnixStream::connect(&ts.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let bad: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        b"cos\nsystem\n(S'touch /tmp/pwned'\ntR.".to_vec(),
        vec![0x80, 4, 0x8c, 10, b'a'], // truncated
        Vec::new(),
        encode_frame(&Value::str("not a list"))[..]
            .strip_suffix(END)
            .unwrap()
            .to_vec(),
        bailiff_control::pickle::encode(&Value::List(vec![Value::List(vec![])])),
        bailiff_control::pickle::encode(&Value::List(vec![])),
    ];
    for b in &bad {
        s.write_all(b).unwrap();
        s.write_all(END).unwrap();
        let reply = read_reply(&mut s);
        assert!(is_error_reply(&reply), "{b:?} -> {reply:?}");
    }
    // Same connection still serves, and several requests in one write are
    // answered in order.
    let mut both = encode_frame(&Value::str_list(["ping"]));
    both.extend(encode_frame(&Value::str_list(["echo", "x"])));
    s.write_all(&both).unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_reply_buf(&mut s, &mut buf),
        Some(Value::Tuple(vec![Value::Int(0), Value::str("pong")]))
    );
    assert_eq!(
        read_reply_buf(&mut s, &mut buf),
        Some(Value::Tuple(vec![Value::Int(0), Value::str_list(["x"])]))
    );
    let stats = ts.server.as_ref().unwrap().stats();
    assert!(stats.bad_frames.load(Ordering::Relaxed) >= 3);
}

#[test]
fn oversized_requests_are_answered_and_closed() {
    let cfg = ServerConfig {
        max_request: 1000,
        ..ServerConfig::default()
    };
    let ts = TestServer::start(Arc::new(MemHandler::with_sshd()), cfg);
    let mut s = UnixStream::connect(&ts.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // No terminator ever: the server must stop buffering at the limit.
    let _ = s.write_all(&vec![b'N'; 5000]);
    let reply = read_reply(&mut s);
    assert!(is_error_reply(&reply), "{reply:?}");
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "connection should be closed");
    // A request over the limit but terminated: also refused.
    let big = Value::List(vec![Value::str("echo"), Value::str("x".repeat(2000))]);
    let mut c = Client::connect(&ts.sock, Some(Duration::from_secs(10))).unwrap();
    match c.send(&[big]) {
        Ok(Reply::Err(_)) | Err(_) => {}
        Ok(Reply::Ok(v)) => panic!("oversized request served: {v:?}"),
    }
    assert_eq!(ping(&ts.sock).unwrap(), Value::str("pong"));
}

#[test]
fn clients_hanging_up_mid_request_do_not_hurt() {
    let ts = TestServer::start(Arc::new(MemHandler::with_sshd()), ServerConfig::default());
    let frame = encode_frame(&Value::str_list(["status", "sshd"]));
    for cut in [1, 5, frame.len() / 2, frame.len() - 3] {
        let mut s = UnixStream::connect(&ts.sock).unwrap();
        s.write_all(&frame[..cut]).unwrap();
        drop(s);
    }
    // A client that sends a request and leaves without reading the reply.
    for _ in 0..20 {
        let mut s = UnixStream::connect(&ts.sock).unwrap();
        s.write_all(&frame).unwrap();
        drop(s);
    }
    let server = ts.server.as_ref().unwrap();
    wait_until("connections to drain", || server.active_connections() == 0);
    assert_eq!(ping(&ts.sock).unwrap(), Value::str("pong"));
}

#[test]
fn idle_connections_time_out() {
    let cfg = ServerConfig {
        read_timeout: Duration::from_millis(300),
        ..ServerConfig::default()
    };
    let ts = TestServer::start(Arc::new(MemHandler::with_sshd()), cfg);
    let mut s = UnixStream::connect(&ts.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 16];
    assert_eq!(
        s.read(&mut buf).unwrap(),
        0,
        "server should close an idle connection"
    );
    assert!(t0.elapsed() >= Duration::from_millis(250));
}

/// Raise the soft descriptor limit towards `want` (up to the hard limit);
/// returns the limit in effect.
fn raise_fd_limit(want: u64) -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid pointer to an rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    if lim.rlim_cur < want as libc::rlim_t {
        lim.rlim_cur = (want as libc::rlim_t).min(lim.rlim_max);
        // SAFETY: valid pointer to an rlimit.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
        // SAFETY: as above.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    }
    lim.rlim_cur as usize
}

#[test]
fn ten_thousand_clients_at_once() {
    let cfg = ServerConfig {
        max_connections: 32,
        read_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    let ts = TestServer::start(Arc::new(MemHandler::with_sshd()), cfg);
    let sock = ts.sock.clone();
    // 10,000 held connections need as many descriptors: raise the soft limit.
    let clients = raise_fd_limit(10_300).saturating_sub(300).min(10_000);
    if clients < 10_000 {
        eprintln!(
            "WARNING: descriptor limit too low; flooding with {clients} clients instead of 10,000"
        );
    }
    let per_thread = clients / 8;
    let clients = per_thread * 8;
    let opened = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    // 8 threads open 1,250 connections each and hold them all open.
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let sock = sock.clone();
            let opened = Arc::clone(&opened);
            let failed = Arc::clone(&failed);
            std::thread::spawn(move || {
                let mut held = Vec::with_capacity(per_thread);
                for _ in 0..per_thread {
                    match UnixStream::connect(&sock) {
                        Ok(s) => {
                            opened.fetch_add(1, Ordering::Relaxed);
                            held.push(s);
                        }
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                held
            })
        })
        .collect();
    let mut held: Vec<UnixStream> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    eprintln!(
        "opened {} connections, {} connect errors",
        opened.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed)
    );
    assert_eq!(
        opened.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed),
        clients
    );
    assert!(opened.load(Ordering::Relaxed) >= clients * 9 / 10);
    let server = ts.server.as_ref().unwrap();
    wait_until("all connections accepted or refused", || {
        let st = server.stats();
        st.accepted.load(Ordering::Relaxed) + st.refused.load(Ordering::Relaxed)
            >= opened.load(Ordering::Relaxed) as u64
    });
    assert!(server.active_connections() <= 32);
    // The refused ones were told why.
    let mut told = 0;
    for s in held.iter_mut().rev().take(50) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if is_error_reply(&read_reply(s)) {
            told += 1;
        }
    }
    assert!(
        told >= 40,
        "only {told} of 50 refused clients got an error reply"
    );
    // The server is still alive, and once the flood is gone it serves again.
    drop(held);
    wait_until("flood to drain", || server.active_connections() == 0);
    assert_eq!(ping(&sock).unwrap(), Value::str("pong"));
    let st = server.stats();
    eprintln!(
        "accepted {}, refused {}",
        st.accepted.load(Ordering::Relaxed),
        st.refused.load(Ordering::Relaxed)
    );
}

#[test]
fn many_concurrent_clients_are_all_served() {
    let ts = TestServer::start(Arc::new(MemHandler::with_sshd()), ServerConfig::default());
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let sock = ts.sock.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(&sock, Some(Duration::from_secs(20))).unwrap();
                for j in 0..50 {
                    let ip = format!("10.{i}.{j}.1");
                    let r = c.command(&["set", "sshd", "banip", &ip]).unwrap();
                    assert_eq!(r, Reply::Ok(Value::Int(1)));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = Client::connect(&ts.sock, None).unwrap();
    let status = c
        .command(&["status", "sshd"])
        .unwrap()
        .into_result()
        .unwrap();
    let text = bailiff_control::format::beautify(&["status", "sshd"], &status);
    assert!(text.contains("Currently banned:\t1600"), "{text}");
}

struct SlowHandler {
    started: AtomicUsize,
}

impl Handler for SlowHandler {
    fn handle(&self, cmd: Command) -> Result<Value, CommandError> {
        match cmd {
            Command::Sleep(secs) => {
                self.started.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(Duration::from_secs_f64(secs));
                Ok(Value::None)
            }
            Command::Echo(_) => panic!("handler bug"),
            _ => Ok(Value::str("pong")),
        }
    }
}

#[test]
fn shutdown_lets_running_commands_finish_and_survives_handler_panics() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s.sock");
    let handler = Arc::new(SlowHandler {
        started: AtomicUsize::new(0),
    });
    let server = Server::bind(
        &sock,
        ServerConfig::default(),
        handler.clone(),
        Shutdown::new(),
    )
    .unwrap();

    // A panicking handler becomes an error reply; the server lives on.
    let mut c = Client::connect(&sock, Some(Duration::from_secs(10))).unwrap();
    assert!(matches!(
        c.command(&["echo", "boom"]).unwrap(),
        Reply::Err(_)
    ));
    assert_eq!(c.command(&["ping"]).unwrap(), Reply::Ok(Value::str("pong")));

    let sock2 = sock.clone();
    let slow = std::thread::spawn(move || {
        let mut c = Client::connect(&sock2, Some(Duration::from_secs(10))).unwrap();
        c.command(&["sleep", "0.5"])
    });
    wait_until("slow command to start", || {
        handler.started.load(Ordering::SeqCst) == 1
    });
    let t0 = Instant::now();
    server.shutdown();
    // shutdown waited for the running command, whose reply was delivered.
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(slow.join().unwrap().unwrap(), Reply::Ok(Value::None));
    assert!(!sock.exists());
    assert!(UnixStream::connect(&sock).is_err());
}

#[test]
fn large_request_in_small_pieces_is_served() {
    let ts = TestServer::start(Arc::new(MemHandler::with_sshd()), ServerConfig::default());
    let words: Vec<String> = (0..100_000).map(|i| format!("w{i}")).collect();
    let mut req = vec!["echo".to_owned()];
    req.extend(words.iter().cloned());
    let frame = encode_frame(&Value::str_list(req));
    assert!(frame.len() > 500_000);
    let mut s = UnixStream::connect(&ts.sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let t0 = Instant::now();
    for piece in frame.chunks(512) {
        s.write_all(piece).unwrap();
    }
    let reply = read_reply(&mut s);
    assert_eq!(
        reply,
        Some(Value::Tuple(vec![Value::Int(0), Value::str_list(words)]))
    );
    eprintln!(
        "{} bytes in 512-byte writes answered in {:?}",
        frame.len(),
        t0.elapsed()
    );
}
