//! The pickle codec against Python's own `pickle` (the oracle): Python
//! pickles values with every protocol, we decode them and must print the same
//! `repr`; we encode, Python loads, and must print the same `repr`. Opcodes
//! that import or call are refused, and limits hold.

mod common;

use bailiff_control::pickle::{decode, decode_with, encode, DecodeOptions, PickleError};
use bailiff_control::Value;
use std::io::Write;
use std::process::{Command, Stdio};

const PY: &str = "/usr/bin/python3";

fn have_python() -> bool {
    common::have_tool(PY)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Python expressions covering every data type fail2ban sends.
const EXPRS: &[&str] = &[
    "None",
    "True",
    "False",
    "0",
    "255",
    "256",
    "65535",
    "65536",
    "-1",
    "-2147483648",
    "2147483648",
    "2**63-1",
    "-2**63",
    "2**64",
    "-2**200",
    "1.5",
    "-0.0",
    "1e100",
    "0.1",
    "''",
    "'pong'",
    "'it\\'s \"quoted\"'",
    "'caf\\xe9 \\u20ac \\U0001f600 \\n\\t\\\\'",
    "'x' * 300",
    "b''",
    "b'\\x00\\xff abc'",
    "bytearray(b'ab')",
    "[]",
    "['status', 'sshd']",
    "()",
    "(1,)",
    "(1, 2)",
    "(1, 2, 3)",
    "(1, 2, 3, 4)",
    "{}",
    "{'sshd': ['192.0.2.1'], 'web': []}",
    "{1: None, (1, 2): 'x'}",
    "{'a', }",
    "set()",
    "frozenset(['a'])",
    "frozenset()",
    "[('Number of jail', 1), ('Jail list', 'sshd')]",
    "[('Filter', [('Currently failed', 0), ('Total failed', 5), ('File list', ['/var/log/auth.log'])]), ('Actions', [('Currently banned', 1), ('Total banned', 1), ('Banned IP list', ['192.0.2.1'])])]",
    "(lambda s: [s, s, (s, s)])('shared')",
    "(lambda l: [l, l, {'k': l}])(['shared', 1])",
    "['reload', '--all', [], [['set', 'sshd', 'maxretry', 5], ['multi-set', 'sshd', 'addfailregex', ['a', 'b']]]]",
    "[[[[[[[[[[1]]]]]]]]]]",
];

/// For each expression and protocol: (protocol, expr, hex pickle, repr).
fn python_pickles() -> Vec<(u8, String, Vec<u8>, String)> {
    let script = r#"
import pickle, sys
exprs = [l.rstrip('\n') for l in sys.stdin]
for proto in range(0, 6):
    for e in exprs:
        v = eval(e)
        if isinstance(v, bytearray) and proto < 5:
            v = bytes(v)
        print(proto, pickle.dumps(v, proto).hex(), repr(v if not isinstance(v, bytearray) else bytes(v)).encode('unicode_escape').decode(), sep='\t')
"#;
    let mut child = Command::new(PY)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    {
        let mut stdin = child.stdin.take().unwrap();
        for e in EXPRS {
            writeln!(stdin, "{e}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .zip(EXPRS.iter().cycle())
        .map(|(line, e)| {
            let mut parts = line.splitn(3, '\t');
            let proto: u8 = parts.next().unwrap().parse().unwrap();
            let data = unhex(parts.next().unwrap());
            let repr = parts.next().unwrap().to_owned();
            (proto, e.to_string(), data, repr)
        })
        .collect()
}

/// Python's `unicode_escape` of a repr, to compare on one line.
fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || (0x7f..0x100).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if (c as u32) >= 0x10000 => out.push_str(&format!("\\U{:08x}", c as u32)),
            c if (c as u32) >= 0x100 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[test]
fn decodes_what_python_pickles_with_every_protocol() {
    if !have_python() {
        return;
    }
    let cases = python_pickles();
    assert_eq!(cases.len(), EXPRS.len() * 6);
    let mut bad = Vec::new();
    for (proto, expr, data, repr) in &cases {
        match decode(data) {
            Ok(v) => {
                let ours = escape(&v.py_repr());
                if &ours != repr {
                    bad.push(format!("proto {proto} {expr}: ours {ours} python {repr}"));
                }
            }
            Err(e) => {
                // Protocols 0-2 pickle bytes/sets/frozensets through a
                // constructor call (REDUCE): refusing those is correct.
                let is_set = expr.contains("set") || expr.starts_with("{'a'");
                let needs_call = *proto <= 2
                    && (expr.starts_with('b') || is_set || expr.contains("bytearray"))
                    || *proto <= 3 && is_set
                    || *proto <= 4 && expr.contains("bytearray");
                if !(needs_call && matches!(e, PickleError::Refused { .. })) {
                    bad.push(format!("proto {proto} {expr}: {e}"));
                }
                // A client reading a server's reply applies those few
                // builtin constructors itself.
                let reply = DecodeOptions {
                    server_reply: true,
                    ..DecodeOptions::default()
                };
                match decode_with(data, &reply) {
                    Ok(v) if &escape(&v.py_repr()) == repr => {}
                    other => bad.push(format!(
                        "proto {proto} {expr} as a reply: {other:?}, python {repr}"
                    )),
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} failures:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn python_loads_what_we_encode() {
    if !have_python() {
        return;
    }
    // Decode Python's protocol-5 pickles, re-encode them ourselves, and let
    // Python read ours back: the reprs must agree with the original.
    let cases: Vec<_> = python_pickles().into_iter().filter(|c| c.0 == 5).collect();
    let mut ours = Vec::new();
    for (_, expr, data, repr) in &cases {
        let v = decode(data).unwrap_or_else(|e| panic!("{expr}: {e}"));
        ours.push((expr.clone(), hex(&encode(&v)), repr.clone()));
    }
    // A class that is no exception of builtins/fail2ban is never named in
    // what we send: Python would import and call it.
    let evil = Value::Exception {
        module: "os".into(),
        name: "system".into(),
        args: vec![Value::str("id")],
    };
    let bytes = encode(&evil);
    let back = decode_with(
        &bytes,
        &DecodeOptions {
            server_reply: true,
            ..DecodeOptions::default()
        },
    )
    .unwrap();
    assert!(
        matches!(back, Value::Exception { ref module, ref name, .. } if module == "builtins" && name == "Exception"),
        "{back:?}"
    );
    // Exceptions as fail2ban-client expects them.
    let exc = Value::Tuple(vec![
        Value::Int(1),
        bailiff_control::CommandError::unknown_jail("sshd").to_value(),
    ]);
    let script = r#"
import pickle, sys
sys.path.insert(0, '/usr/lib/python3/dist-packages')
for line in sys.stdin:
    v = pickle.loads(bytes.fromhex(line.strip()))
    if isinstance(v, tuple) and len(v) == 2 and isinstance(v[1], BaseException):
        print(type(v[1]).__module__, type(v[1]).__name__, v[1].args, isinstance(v[1], KeyError))
    else:
        print(repr(v).encode('unicode_escape').decode())
"#;
    let mut child = Command::new(PY)
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (_, h, _) in &ours {
            writeln!(stdin, "{h}").unwrap();
        }
        writeln!(stdin, "{}", hex(&encode(&exc))).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python failed to load our pickles");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), ours.len() + 1);
    for ((expr, _, repr), got) in ours.iter().zip(&lines) {
        assert_eq!(got, repr, "{expr}");
    }
    assert_eq!(
        lines[ours.len()],
        "fail2ban.exceptions UnknownJailException ('sshd',) True"
    );
}

#[test]
fn refuses_code_running_opcodes() {
    // Each of these is a classic pickle exploit shape, or a piece of one.
    let payloads: Vec<(&str, Vec<u8>)> = vec![
        (
            "GLOBAL+REDUCE os.system",
            b"cos\nsystem\n(S'id'\ntR.".to_vec(),
        ),
        ("STACK_GLOBAL", {
            let mut v = vec![0x80, 4, 0x8c, 2];
            v.extend_from_slice(b"os");
            v.extend_from_slice(&[0x8c, 6]);
            v.extend_from_slice(b"system");
            v.extend_from_slice(&[0x93, 0x8c, 2]);
            v.extend_from_slice(b"id");
            v.extend_from_slice(&[0x85, b'R', b'.']);
            v
        }),
        ("INST", b"(S'id'\nios\nsystem\n.".to_vec()),
        ("OBJ", b"(N(o.".to_vec()),
        ("BUILD", b"}}b.".to_vec()),
        ("NEWOBJ", vec![0x80, 2, b'N', b')', 0x81, b'.']),
        ("NEWOBJ_EX", vec![0x80, 4, b'N', b')', b'}', 0x92, b'.']),
        ("EXT1", vec![0x80, 2, 0x82, 1, b'.']),
        ("EXT2", vec![0x80, 2, 0x83, 1, 0, b'.']),
        ("EXT4", vec![0x80, 2, 0x84, 1, 0, 0, 0, b'.']),
        ("PERSID", b"Pfoo\n.".to_vec()),
        ("BINPERSID", b"S'x'\nQ.".to_vec()),
        ("NEXT_BUFFER", vec![0x80, 5, 0x97, b'.']),
        ("READONLY_BUFFER", vec![0x80, 5, b'N', 0x98, b'.']),
        ("REDUCE alone", b"NNR.".to_vec()),
    ];
    for (name, p) in payloads {
        match decode(&p) {
            Err(PickleError::Refused { .. }) => {}
            other => panic!("{name}: expected refusal, got {other:?}"),
        }
    }
    // Even when reading a server's reply, functions are refused; class names
    // become data (module, name, args) and nothing is looked up or called.
    let client = DecodeOptions {
        server_reply: true,
        ..DecodeOptions::default()
    };
    assert!(matches!(
        decode_with(b"cos\nsystem\n(S'id'\ntR.", &client),
        Err(PickleError::Refused { .. })
    ));
    assert!(matches!(
        decode_with(b"cbuiltins\neval\n(S'1'\ntR.", &client),
        Err(PickleError::Refused { .. })
    ));
    let ok = decode_with(b"cbuiltins\nValueError\n(S'bad'\ntR.", &client).unwrap();
    assert_eq!(
        ok,
        Value::Exception {
            module: "builtins".into(),
            name: "ValueError".into(),
            args: vec![Value::str("bad")]
        }
    );
    // re.error pickles its extra attributes with BUILD; they are dropped.
    let re_error = b"\x80\x04\x8c\x02re\x8c\x05error\x93\x8c\x01x\x85R}(\x8c\x03posNub.";
    assert_eq!(
        decode_with(re_error, &client).unwrap(),
        Value::Exception {
            module: "re".into(),
            name: "error".into(),
            args: vec![Value::str("x")]
        }
    );
    assert!(decode(re_error).is_err());
    // BUILD on anything but an exception stays refused.
    assert!(matches!(
        decode_with(b"}}b.", &client),
        Err(PickleError::Refused { .. })
    ));
    // ...and the strict decoder refuses the same bytes.
    assert!(decode(b"cbuiltins\nValueError\n(S'bad'\ntR.").is_err());
}

#[test]
fn limits_hold() {
    // Depth: 100 nested lists.
    let mut p = vec![0x80, 4];
    p.extend([b']'; 100]);
    p.extend([b'a'; 99]);
    p.push(b'.');
    assert_eq!(decode(&p), Err(PickleError::Limit("nesting depth")));
    // Size.
    let opts = DecodeOptions {
        max_size: 10,
        ..DecodeOptions::default()
    };
    assert_eq!(
        decode_with(&encode(&Value::str("x".repeat(20))), &opts),
        Err(PickleError::Limit("input size"))
    );
    // Memo expansion bomb: each level holds the previous one twice.
    let mut p = vec![0x80, 4, b']', 0x94, b'0'];
    for i in 0..25u8 {
        p.extend_from_slice(&[b'h', i, b'h', i, 0x86, 0x94, b'0']);
    }
    p.extend_from_slice(&[b'h', 25, b'.']);
    assert_eq!(decode(&p), Err(PickleError::Limit("number of values")));
    // A list that contains itself.
    let p = vec![0x80, 4, b']', 0x94, b'h', 0, b'a', b'.'];
    assert_eq!(decode(&p), Err(PickleError::Limit("nesting depth")));
    // Lengths beyond the data, truncation, garbage, trailing bytes.
    assert_eq!(
        decode(&[0x80, 4, b'X', 0xff, 0xff, 0xff, 0x7f]),
        Err(PickleError::Truncated)
    );
    assert_eq!(
        decode(&[0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Err(PickleError::Truncated)
    );
    assert_eq!(decode(b""), Err(PickleError::Truncated));
    assert!(matches!(
        decode(b"\xff"),
        Err(PickleError::UnknownOpcode { .. })
    ));
    assert!(matches!(decode(b"a."), Err(PickleError::Malformed { .. })));
    assert!(matches!(decode(b"NN."), Err(PickleError::Malformed { .. })));
    assert_eq!(decode(b"N.N"), Err(PickleError::Trailing));
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A deterministic pseudo-random walk over short inputs built from opcode bytes.
    let alphabet: Vec<u8> = b"(.012NJKMILFGVXSTUBC]la)tdsu}pqrghjeN\n'"
        .iter()
        .copied()
        .chain([
            0x80, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f, 0x90, 0x91,
            0x94, 0x95, 0x96, 0x00, 0xff, 0x04,
        ])
        .collect();
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..200_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 24) as usize;
        let mut buf = Vec::with_capacity(len);
        let mut y = x;
        for _ in 0..len {
            y = y
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            buf.push(alphabet[(y >> 33) as usize % alphabet.len()]);
        }
        let _ = decode(&buf);
        let _ = decode_with(
            &buf,
            &DecodeOptions {
                server_reply: true,
                ..DecodeOptions::default()
            },
        );
    }
}

#[test]
fn memoized_strings_are_not_copied_without_bound() {
    // A 1 MiB string memoized once and referenced 10,000 times: resolving
    // it would copy 10 GiB. The decoder must stop at max_bytes, quickly.
    let mut p = vec![0x80, 4, b'B'];
    p.extend_from_slice(&(1u32 << 20).to_le_bytes());
    p.extend(vec![b'x'; 1 << 20]);
    p.extend_from_slice(&[0x94, b'0', b']', b'(']);
    for _ in 0..10_000 {
        p.extend_from_slice(&[b'h', 0]);
    }
    p.extend_from_slice(b"e.");
    let t0 = std::time::Instant::now();
    assert_eq!(decode(&p), Err(PickleError::Limit("total size of strings")));
    assert!(t0.elapsed() < std::time::Duration::from_secs(5));
    // Many BINPUTs of the same big string and DUPs do not copy it either.
    let mut p = vec![0x80, 4, b'B'];
    p.extend_from_slice(&(1u32 << 20).to_le_bytes());
    p.extend(vec![b'y'; 1 << 20]);
    for i in 0..=255u8 {
        p.extend_from_slice(&[b'q', i, b'2', b'0']);
    }
    p.push(b'.');
    let t0 = std::time::Instant::now();
    assert_eq!(decode(&p).unwrap(), Value::Bytes(vec![b'y'; 1 << 20]));
    assert!(t0.elapsed() < std::time::Duration::from_secs(5));
    // Within the limit, shared strings resolve fine.
    let small = DecodeOptions {
        max_bytes: 100,
        ..DecodeOptions::default()
    };
    let v = Value::List(vec![Value::str("abc"); 10]);
    assert_eq!(decode_with(&encode(&v), &small).unwrap(), v);
}
