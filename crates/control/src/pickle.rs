//! A data-only pickle codec.
//!
//! The decoder understands the opcodes of pickle protocols 0 to 5 that build
//! plain data (numbers, strings, bytes, lists, tuples, dicts, sets, the memo,
//! frames) and refuses every opcode that would import a name or call
//! something in Python (`GLOBAL`, `STACK_GLOBAL`, `REDUCE`, `BUILD`, `INST`,
//! `OBJ`, `NEWOBJ`, `NEWOBJ_EX`, `EXT1/2/4`, `PERSID`, `BINPERSID`, and the
//! out-of-band buffers of protocol 5). Input size, nesting depth, stack and
//! memo sizes, and the size after memo expansion are all bounded.
//!
//! One narrow exception, off by default: a *client* reading replies from a
//! fail2ban server must read `(1, SomeException(args))`, which Python pickles
//! as `STACK_GLOBAL` + `REDUCE`, and fail2ban's `IPAddr` values, which pickle
//! as `builtins.str('192.0.2.1')`. With [`DecodeOptions::server_reply`], a
//! global naming an exception class of `builtins` or `fail2ban.exceptions`,
//! or one of a fixed list of data constructors (`str`, `bytes`, `bytearray`,
//! `set`, `frozenset`, `list`, `tuple`, and `_codecs.encode` that protocols
//! 0-2 use for bytes), followed by `REDUCE` over a tuple of data, is
//! *interpreted by this decoder*: an exception becomes [`Value::Exception`]
//! (a name and its arguments), a constructor becomes the value it would
//! build. Nothing is looked up or called; any other global is refused. The
//! server never enables this.
//!
//! The encoder writes protocol 4 (without frames), which every Python 3.4+
//! `pickle.loads` reads. The only non-data construct it emits is an
//! exception: `STACK_GLOBAL module name`, the args tuple, `REDUCE`, which is
//! how `fail2ban-client` expects errors (`(1, exc)`) to arrive.

use crate::value::Value;
use std::collections::HashMap;

/// Limits and switches for [`decode_with`].
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Largest input accepted, in bytes.
    pub max_size: usize,
    /// Deepest nesting of containers.
    pub max_depth: usize,
    /// Largest number of values after memo references are expanded.
    pub max_values: usize,
    /// Largest total of string/bytes lengths after memo references are
    /// expanded (a memoized string referenced many times is copied each time).
    pub max_bytes: usize,
    /// Decoding a reply from a server (client side only; see the module
    /// documentation): read exception objects as [`Value::Exception`] and
    /// apply a fixed list of builtin data constructors.
    pub server_reply: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_size: 16 << 20,
            max_depth: 64,
            max_values: 1_000_000,
            max_bytes: 64 << 20,
            server_reply: false,
        }
    }
}

/// Why a pickle was not accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PickleError {
    /// The data ended before `STOP`.
    #[error("pickle data truncated")]
    Truncated,
    /// An opcode that imports or calls, refused on purpose.
    #[error("refused pickle opcode {name} (0x{op:02x}) at offset {offset}: it would import or call code")]
    Refused {
        /// opcode byte
        op: u8,
        /// opcode name
        name: &'static str,
        /// byte offset
        offset: usize,
    },
    /// A byte that is no pickle opcode.
    #[error("unknown pickle opcode 0x{op:02x} at offset {offset}")]
    UnknownOpcode {
        /// opcode byte
        op: u8,
        /// byte offset
        offset: usize,
    },
    /// A limit of [`DecodeOptions`] was exceeded.
    #[error("pickle too large or too deep: {0}")]
    Limit(&'static str),
    /// Well-formed opcodes in an order that builds nothing sensible.
    #[error("malformed pickle at offset {offset}: {what}")]
    Malformed {
        /// what was wrong
        what: &'static str,
        /// byte offset
        offset: usize,
    },
    /// Bytes after `STOP`.
    #[error("trailing data after pickle STOP")]
    Trailing,
}

/// Decode one pickle with the default (server-side, strict) options.
pub fn decode(data: &[u8]) -> Result<Value, PickleError> {
    decode_with(data, &DecodeOptions::default())
}

/// Decode one pickle.
pub fn decode_with(data: &[u8], opts: &DecodeOptions) -> Result<Value, PickleError> {
    if data.len() > opts.max_size {
        return Err(PickleError::Limit("input size"));
    }
    let mut d = Decoder {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        arena: Vec::new(),
        opts,
    };
    let node = d.run()?;
    let mut budget = Budget {
        values: opts.max_values,
        bytes: opts.max_bytes,
    };
    let value = resolve(&node, &d.arena, 0, opts.max_depth, &mut budget)?;
    Ok(value)
}

/// The decoder's own tree: like [`Value`], plus memo references and the
/// transient pieces (marks, globals) that never escape.
#[derive(Debug, Clone)]
enum Node {
    Leaf(Value),
    List(Vec<Node>),
    Tuple(Vec<Node>),
    Dict(Vec<(Node, Node)>),
    Set(Vec<Node>),
    FrozenSet(Vec<Node>),
    /// A container moved into the arena when it was memoized.
    Ref(usize),
    Global {
        module: String,
        name: String,
    },
    Exception {
        module: String,
        name: String,
        args: Vec<Node>,
    },
}

struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Node>,
    marks: Vec<usize>,
    /// Pickle memo: scalars by value, containers as `Ref` into `arena`.
    memo: HashMap<u64, Node>,
    /// Memoized containers; they keep their slot even if a memo key is reused.
    arena: Vec<Node>,
    opts: &'a DecodeOptions,
}

const MAX_STACK: usize = 1 << 20;
const MAX_MEMO: usize = 1 << 20;
const MAX_MARKS: usize = 4096;

fn refused_name(op: u8) -> Option<&'static str> {
    Some(match op {
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'R' => "REDUCE",
        b'b' => "BUILD",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => return None,
    })
}

/// Builtin constructors a reply may use, applied by [`construct`].
const CONSTRUCTORS: &[(&str, &str)] = &[
    ("builtins", "str"),
    ("builtins", "bytes"),
    ("builtins", "bytearray"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("_codecs", "encode"),
];

/// Classes a client may read by name, as data (never looked up or
/// instantiated): any well-formed class name except the data constructors,
/// which [`construct`] applies instead. fail2ban replies carry exceptions of
/// many modules (`fail2ban.exceptions`, `fail2ban.server.failregex`, `re`,
/// `sqlite3`, `builtins`).
fn allowed_exception(module: &str, name: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    // Class names are capitalized; `re.error` and `socket.error` are the
    // lowercase exceptions of the standard library.
    let classy = name.starts_with(|c: char| c.is_ascii_uppercase()) || name.ends_with("error");
    ident(name)
        && classy
        && module.split('.').all(ident)
        && !CONSTRUCTORS.iter().any(|(m, n)| *m == module && *n == name)
}

impl<'a> Decoder<'a> {
    fn malformed(&self, what: &'static str) -> PickleError {
        PickleError::Malformed {
            what,
            offset: self.pos,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self.pos.checked_add(n).ok_or(PickleError::Truncated)?;
        if end > self.data.len() {
            return Err(PickleError::Truncated);
        }
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<usize, PickleError> {
        let b = self.take(2)?;
        Ok(usize::from(u16::from_le_bytes([b[0], b[1]])))
    }

    fn u32(&mut self) -> Result<u64, PickleError> {
        let b = self.take(4)?;
        Ok(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }

    fn u64(&mut self) -> Result<u64, PickleError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length that must fit in what is left of the input.
    fn len(&self, n: u64) -> Result<usize, PickleError> {
        let n = usize::try_from(n).map_err(|_| PickleError::Truncated)?;
        if n > self.data.len() - self.pos {
            return Err(PickleError::Truncated);
        }
        Ok(n)
    }

    /// A text line (protocol 0 arguments), without its `\n`.
    fn line(&mut self) -> Result<&'a [u8], PickleError> {
        let rest = &self.data[self.pos..];
        let nl = memchr_nl(rest).ok_or(PickleError::Truncated)?;
        self.pos += nl + 1;
        Ok(&rest[..nl])
    }

    fn push(&mut self, n: Node) -> Result<(), PickleError> {
        if self.stack.len() >= MAX_STACK {
            return Err(PickleError::Limit("stack size"));
        }
        self.stack.push(n);
        Ok(())
    }

    fn pop(&mut self) -> Result<Node, PickleError> {
        match self.stack.len() {
            n if n > self.marks.last().copied().unwrap_or(0) => {
                Ok(self.stack.pop().expect("len checked"))
            }
            _ => Err(self.malformed("stack underflow")),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<Node>, PickleError> {
        let m = self.marks.pop().ok_or_else(|| self.malformed("no MARK"))?;
        if m > self.stack.len() {
            return Err(self.malformed("MARK beyond stack"));
        }
        Ok(self.stack.split_off(m))
    }

    fn memo_put(&mut self, id: u64) -> Result<(), PickleError> {
        let top = self.pop()?;
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&id) {
            return Err(PickleError::Limit("memo size"));
        }
        // Containers move into the arena and are referenced from the stack and
        // the memo, so later APPENDS/SETITEMS on them are seen by every
        // reference; strings and bytes too, so that references never copy
        // them (the copies are counted against `max_bytes` at the end).
        // Small scalars are simply copied.
        let node = self.share(top)?;
        self.memo.insert(id, node.clone());
        self.push(node)
    }

    /// Move a node into the arena unless it is a small scalar; returns what
    /// refers to it.
    fn share(&mut self, node: Node) -> Result<Node, PickleError> {
        match node {
            Node::Leaf(Value::None | Value::Bool(_) | Value::Int(_) | Value::Float(_))
            | Node::Global { .. }
            | Node::Ref(_) => Ok(node),
            other => {
                if self.arena.len() >= MAX_MEMO {
                    return Err(PickleError::Limit("memo size"));
                }
                let slot = self.arena.len();
                self.arena.push(other);
                Ok(Node::Ref(slot))
            }
        }
    }

    fn memo_get(&mut self, id: u64) -> Result<(), PickleError> {
        let node = self
            .memo
            .get(&id)
            .cloned()
            .ok_or_else(|| self.malformed("memo key missing"))?;
        self.push(node)
    }

    /// The container a mutating opcode (APPEND, SETITEM, ADDITEMS) works on:
    /// the stack slot, or the memo entry it refers to.
    fn target_mut(&mut self, index: usize) -> Result<&mut Node, PickleError> {
        let offset = self.pos;
        let slot = self.stack.get_mut(index).ok_or(PickleError::Malformed {
            what: "stack underflow",
            offset,
        })?;
        match slot {
            Node::Ref(slot) => {
                let slot = *slot;
                self.arena.get_mut(slot).ok_or(PickleError::Malformed {
                    what: "memo slot missing",
                    offset,
                })
            }
            other => Ok(other),
        }
    }

    fn extend_list(&mut self, index: usize, items: Vec<Node>) -> Result<(), PickleError> {
        let offset = self.pos;
        match self.target_mut(index)? {
            Node::List(v) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(PickleError::Malformed {
                what: "APPEND to a non-list",
                offset,
            }),
        }
    }

    fn extend_dict(&mut self, index: usize, items: Vec<Node>) -> Result<(), PickleError> {
        let offset = self.pos;
        if items.len() & 1 == 1 {
            return Err(PickleError::Malformed {
                what: "odd number of dict items",
                offset,
            });
        }
        match self.target_mut(index)? {
            Node::Dict(v) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(val)) = (it.next(), it.next()) {
                    v.push((k, val));
                }
                Ok(())
            }
            _ => Err(PickleError::Malformed {
                what: "SETITEM on a non-dict",
                offset,
            }),
        }
    }

    fn run(&mut self) -> Result<Node, PickleError> {
        loop {
            let offset = self.pos;
            let op = self.byte()?;
            if let Some(name) = refused_name(op) {
                let exception_op = matches!(op, b'c' | 0x93 | b'R' | b'b');
                if !(self.opts.server_reply && exception_op) {
                    return Err(PickleError::Refused { op, name, offset });
                }
            }
            match op {
                b'.' => {
                    // STOP
                    let top = self.pop()?;
                    if !self.stack.is_empty() || !self.marks.is_empty() {
                        return Err(self.malformed("values left on the stack at STOP"));
                    }
                    if self.pos != self.data.len() {
                        return Err(PickleError::Trailing);
                    }
                    return Ok(top);
                }
                0x80 => {
                    // PROTO
                    let v = self.byte()?;
                    if v > 5 {
                        return Err(self.malformed("unsupported protocol"));
                    }
                }
                0x95 => {
                    // FRAME: a length hint; the data that follows is read as usual.
                    self.u64()?;
                }
                b'(' => {
                    if self.marks.len() >= MAX_MARKS {
                        return Err(PickleError::Limit("marks"));
                    }
                    self.marks.push(self.stack.len());
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    // DUP: both copies refer to one object, as in Python.
                    let top = self.pop()?;
                    let shared = self.share(top)?;
                    self.push(shared.clone())?;
                    self.push(shared)?;
                }
                // Constants
                b'N' => self.push(Node::Leaf(Value::None))?,
                0x88 => self.push(Node::Leaf(Value::Bool(true)))?,
                0x89 => self.push(Node::Leaf(Value::Bool(false)))?,
                // Integers
                b'J' => {
                    let b = self.take(4)?;
                    let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    self.push(Node::Leaf(Value::Int(i64::from(v))))?;
                }
                b'K' => {
                    let v = self.byte()?;
                    self.push(Node::Leaf(Value::Int(i64::from(v))))?;
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Node::Leaf(Value::Int(v as i64)))?;
                }
                b'I' => {
                    let line = self.line()?;
                    let v = match line {
                        b"01" => Value::Bool(true),
                        b"00" => Value::Bool(false),
                        _ => parse_decimal(line).ok_or_else(|| self.malformed("bad INT"))?,
                    };
                    self.push(Node::Leaf(v))?;
                }
                b'L' => {
                    let line = self.line()?;
                    let line = line.strip_suffix(b"L").unwrap_or(line);
                    let v = parse_decimal(line).ok_or_else(|| self.malformed("bad LONG"))?;
                    self.push(Node::Leaf(v))?;
                }
                0x8a => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?;
                    self.push(Node::Leaf(long_from_le(b)))?;
                }
                0x8b => {
                    let n = self.u32()?;
                    if n > 4096 {
                        return Err(PickleError::Limit("LONG4 length"));
                    }
                    let n = self.len(n)?;
                    let b = self.take(n)?;
                    self.push(Node::Leaf(long_from_le(b)))?;
                }
                // Floats
                b'F' => {
                    let line = self.line()?;
                    let v = std::str::from_utf8(line)
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .ok_or_else(|| self.malformed("bad FLOAT"))?;
                    self.push(Node::Leaf(Value::Float(v)))?;
                }
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Node::Leaf(Value::Float(f64::from_be_bytes(a))))?;
                }
                // Unicode strings
                b'V' => {
                    let line = self.line()?;
                    let s =
                        raw_unicode_escape(line).ok_or_else(|| self.malformed("bad UNICODE"))?;
                    self.push(Node::Leaf(Value::Str(s)))?;
                }
                b'X' => {
                    let n = self.u32()?;
                    self.push_utf8(n)?;
                }
                0x8c => {
                    let n = u64::from(self.byte()?);
                    self.push_utf8(n)?;
                }
                0x8d => {
                    let n = self.u64()?;
                    self.push_utf8(n)?;
                }
                // Python 2 byte strings, read as str when they are UTF-8.
                b'S' => {
                    let line = self.line()?;
                    let b = py2_string_literal(line).ok_or_else(|| self.malformed("bad STRING"))?;
                    self.push(Node::Leaf(bytes_or_str(b)))?;
                }
                b'T' => {
                    let n = self.u32()?;
                    let n = self.len(n)?;
                    let b = self.take(n)?.to_vec();
                    self.push(Node::Leaf(bytes_or_str(b)))?;
                }
                b'U' => {
                    let n = usize::from(self.byte()?);
                    let b = self.take(n)?.to_vec();
                    self.push(Node::Leaf(bytes_or_str(b)))?;
                }
                // Bytes
                b'B' => {
                    let n = self.u32()?;
                    self.push_bytes(n)?;
                }
                b'C' => {
                    let n = u64::from(self.byte()?);
                    self.push_bytes(n)?;
                }
                0x8e | 0x96 => {
                    let n = self.u64()?;
                    self.push_bytes(n)?;
                }
                // Lists
                b']' => self.push(Node::List(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items))?;
                }
                b'a' => {
                    let item = self.pop()?;
                    let idx = self.top_index()?;
                    self.extend_list(idx, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let idx = self.top_index()?;
                    self.extend_list(idx, items)?;
                }
                // Tuples
                b')' => self.push(Node::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let floor = self.marks.last().copied().unwrap_or(0);
                    if self.stack.len() < floor + n {
                        return Err(self.malformed("stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.push(Node::Tuple(items))?;
                }
                // Dicts
                b'}' => self.push(Node::Dict(Vec::new()))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Dict(Vec::new()))?;
                    let idx = self.top_index()?;
                    self.extend_dict(idx, items)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let idx = self.top_index()?;
                    self.extend_dict(idx, vec![k, v])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let idx = self.top_index()?;
                    self.extend_dict(idx, items)?;
                }
                // Sets
                0x8f => self.push(Node::Set(Vec::new()))?,
                0x90 => {
                    let items = self.pop_mark()?;
                    let idx = self.top_index()?;
                    let offset = self.pos;
                    match self.target_mut(idx)? {
                        Node::Set(v) => v.extend(items),
                        _ => {
                            return Err(PickleError::Malformed {
                                what: "ADDITEMS on a non-set",
                                offset,
                            })
                        }
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Node::FrozenSet(items))?;
                }
                // Memo
                b'p' => {
                    let line = self.line()?;
                    let id = parse_memo_id(line).ok_or_else(|| self.malformed("bad PUT"))?;
                    self.memo_put(id)?;
                }
                b'q' => {
                    let id = u64::from(self.byte()?);
                    self.memo_put(id)?;
                }
                b'r' => {
                    let id = self.u32()?;
                    self.memo_put(id)?;
                }
                0x94 => {
                    let id = self.memo.len() as u64;
                    self.memo_put(id)?;
                }
                b'g' => {
                    let line = self.line()?;
                    let id = parse_memo_id(line).ok_or_else(|| self.malformed("bad GET"))?;
                    self.memo_get(id)?;
                }
                b'h' => {
                    let id = u64::from(self.byte()?);
                    self.memo_get(id)?;
                }
                b'j' => {
                    let id = self.u32()?;
                    self.memo_get(id)?;
                }
                // Exception objects (client side, server_reply only).
                b'b' => {
                    // BUILD: extra attributes of an exception (re.error has
                    // msg, pattern, pos, ...). The state is dropped; `args`
                    // carry the message.
                    self.pop()?;
                    let top = self.top_index()?;
                    let node = self.stack[top].clone();
                    if !matches!(self.deref(node), Node::Exception { .. }) {
                        return Err(PickleError::Refused {
                            op,
                            name: "BUILD",
                            offset,
                        });
                    }
                }
                b'c' => {
                    let module = String::from_utf8_lossy(self.line()?).into_owned();
                    let name = String::from_utf8_lossy(self.line()?).into_owned();
                    self.push_global(module, name, offset)?;
                }
                0x93 => {
                    let name = self.pop_string()?;
                    let module = self.pop_string()?;
                    self.push_global(module, name, offset)?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let args = match self.deref(args) {
                        Node::Tuple(a) => a,
                        _ => return Err(self.malformed("REDUCE arguments are not a tuple")),
                    };
                    match self.deref(callable) {
                        Node::Global { module, name } if allowed_exception(&module, &name) => {
                            self.push(Node::Exception { module, name, args })?
                        }
                        Node::Global { module, name } => {
                            let mut budget = Budget {
                                values: self.opts.max_values,
                                bytes: self.opts.max_bytes,
                            };
                            let args = args
                                .iter()
                                .map(|a| {
                                    resolve(a, &self.arena, 0, self.opts.max_depth, &mut budget)
                                })
                                .collect::<Result<Vec<_>, _>>()?;
                            let v = construct(&module, &name, args)
                                .ok_or_else(|| self.malformed("bad constructor arguments"))?;
                            self.push(Node::Leaf(v))?
                        }
                        _ => {
                            return Err(PickleError::Refused {
                                op,
                                name: "REDUCE",
                                offset,
                            })
                        }
                    }
                }
                _ => return Err(PickleError::UnknownOpcode { op, offset }),
            }
        }
    }

    fn deref(&self, n: Node) -> Node {
        match n {
            Node::Ref(slot) => self.arena.get(slot).cloned().unwrap_or(Node::Ref(slot)),
            other => other,
        }
    }

    fn pop_string(&mut self) -> Result<String, PickleError> {
        let n = self.pop()?;
        match self.deref(n) {
            Node::Leaf(Value::Str(s)) => Ok(s),
            _ => Err(self.malformed("STACK_GLOBAL operand is not a str")),
        }
    }

    fn push_global(
        &mut self,
        module: String,
        name: String,
        offset: usize,
    ) -> Result<(), PickleError> {
        // Protocols 0-2 spell the module as Python 2 did.
        let module = match module.as_str() {
            "__builtin__" => "builtins".to_owned(),
            _ => module,
        };
        let constructor = CONSTRUCTORS.iter().any(|(m, n)| *m == module && *n == name);
        if !constructor && !allowed_exception(&module, &name) {
            return Err(PickleError::Refused {
                op: b'c',
                name: "GLOBAL (not an allowed exception class or data constructor)",
                offset,
            });
        }
        self.push(Node::Global { module, name })
    }

    fn top_index(&self) -> Result<usize, PickleError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.malformed("stack underflow"));
        }
        Ok(self.stack.len() - 1)
    }

    fn push_utf8(&mut self, n: u64) -> Result<(), PickleError> {
        let n = self.len(n)?;
        let b = self.take(n)?;
        // Python's pickler writes lone surrogates with 'surrogatepass'; those are
        // not valid UTF-8 and are replaced here rather than refused.
        let s = String::from_utf8_lossy(b).into_owned();
        self.push(Node::Leaf(Value::Str(s)))
    }

    fn push_bytes(&mut self, n: u64) -> Result<(), PickleError> {
        let n = self.len(n)?;
        let b = self.take(n)?.to_vec();
        self.push(Node::Leaf(Value::Bytes(b)))
    }
}

/// What `module.name(*args)` builds, for the [`CONSTRUCTORS`] and plain data.
fn construct(module: &str, name: &str, args: Vec<Value>) -> Option<Value> {
    let mut args = args.into_iter();
    let first = args.next();
    let second = args.next();
    if args.next().is_some() {
        return None;
    }
    let items = |v: Option<Value>| -> Option<Vec<Value>> {
        match v {
            None => Some(Vec::new()),
            Some(Value::List(i) | Value::Tuple(i) | Value::Set(i) | Value::FrozenSet(i)) => Some(i),
            Some(Value::Dict(p)) => Some(p.into_iter().map(|(k, _)| k).collect()),
            Some(_) => None,
        }
    };
    Some(match (module, name) {
        ("builtins", "str") => match (first, second) {
            (None, None) => Value::Str(String::new()),
            (Some(v), None) => Value::Str(v.py_str()),
            (Some(Value::Bytes(b)), Some(_)) => {
                Value::Str(String::from_utf8_lossy(&b).into_owned())
            }
            _ => return None,
        },
        ("builtins", "bytes" | "bytearray") => match (first, second) {
            (None, None) => Value::Bytes(Vec::new()),
            (Some(Value::Bytes(b)), None) => Value::Bytes(b),
            (Some(Value::Str(s)), Some(_)) => Value::Bytes(s.into_bytes()),
            (Some(Value::List(l)), None) => Value::Bytes(
                l.iter()
                    .map(|v| v.as_i64().and_then(|i| u8::try_from(i).ok()))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        },
        // Protocols 0-2 write bytes as _codecs.encode(latin-1 text, 'latin1').
        ("_codecs", "encode") => match (first, second) {
            (Some(Value::Str(s)), Some(Value::Str(enc))) if enc == "latin1" || enc == "latin-1" => {
                Value::Bytes(
                    s.chars()
                        .map(|c| u8::try_from(u32::from(c)).ok())
                        .collect::<Option<_>>()?,
                )
            }
            _ => return None,
        },
        ("builtins", "set") if second.is_none() => Value::Set(items(first)?),
        ("builtins", "frozenset") if second.is_none() => Value::FrozenSet(items(first)?),
        ("builtins", "list") if second.is_none() => Value::List(items(first)?),
        ("builtins", "tuple") if second.is_none() => Value::Tuple(items(first)?),
        _ => return None,
    })
}

fn memchr_nl(s: &[u8]) -> Option<usize> {
    s.iter().position(|b| *b == b'\n')
}

fn parse_memo_id(line: &[u8]) -> Option<u64> {
    std::str::from_utf8(line).ok()?.trim().parse().ok()
}

fn parse_decimal(line: &[u8]) -> Option<Value> {
    let s = std::str::from_utf8(line).ok()?.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::Int(i));
    }
    // Larger than 64 bits: build the two's-complement bytes.
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if digits.is_empty() || digits.len() > 4000 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // little-endian magnitude
    let mut mag: Vec<u8> = vec![0];
    for d in digits.bytes() {
        let mut carry = u32::from(d - b'0');
        for b in mag.iter_mut() {
            let cur = u32::from(*b) * 10 + carry;
            *b = cur as u8;
            carry = cur >> 8;
        }
        while carry > 0 {
            mag.push(carry as u8);
            carry >>= 8;
        }
    }
    mag.push(0); // room for the sign bit
    if neg {
        for b in mag.iter_mut() {
            *b = !*b;
        }
        for b in mag.iter_mut() {
            let (v, c) = b.overflowing_add(1);
            *b = v;
            if !c {
                break;
            }
        }
    }
    Some(long_from_le(&mag))
}

/// `LONG1`/`LONG4` payload: little-endian two's complement.
fn long_from_le(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    // Trim redundant sign-extension bytes.
    let mut end = b.len();
    while end > 1 {
        let last = b[end - 1];
        let prev_sign = b[end - 2] & 0x80;
        if (last == 0 && prev_sign == 0) || (last == 0xff && prev_sign != 0) {
            end -= 1;
        } else {
            break;
        }
    }
    let b = &b[..end];
    if b.len() <= 8 {
        let fill = if b[b.len() - 1] & 0x80 != 0 { 0xff } else { 0 };
        let mut a = [fill; 8];
        a[..b.len()].copy_from_slice(b);
        Value::Int(i64::from_le_bytes(a))
    } else {
        Value::BigInt(b.to_vec())
    }
}

fn bytes_or_str(b: Vec<u8>) -> Value {
    match String::from_utf8(b) {
        Ok(s) => Value::Str(s),
        Err(e) => Value::Bytes(e.into_bytes()),
    }
}

/// Python's `raw-unicode-escape` codec: `\uXXXX` and `\UXXXXXXXX` escapes,
/// every other byte is a Latin-1 character.
fn raw_unicode_escape(b: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == b'u' || b[i + 1] == b'U') {
            let n = if b[i + 1] == b'u' { 4 } else { 8 };
            let hex = b.get(i + 2..i + 2 + n)?;
            let code = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            i += 2 + n;
        } else {
            out.push(char::from(b[i]));
            i += 1;
        }
    }
    Some(out)
}

/// A protocol-0 `STRING` argument: a quoted Python 2 literal.
fn py2_string_literal(line: &[u8]) -> Option<Vec<u8>> {
    if line.len() < 2 {
        return None;
    }
    let q = line[0];
    if (q != b'\'' && q != b'"') || line[line.len() - 1] != q {
        return None;
    }
    let body = &line[1..line.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let e = *body.get(i + 1)?;
        i += 2;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'a' => out.push(7),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'v' => out.push(11),
            b'x' => {
                let hex = body.get(i..i + 2)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                let mut k = 0;
                while k < 2 && i < body.len() && (b'0'..=b'7').contains(&body[i]) {
                    v = v * 8 + u32::from(body[i] - b'0');
                    i += 1;
                    k += 1;
                }
                out.push(v as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Some(out)
}

/// What is left of the expansion limits while resolving.
struct Budget {
    values: usize,
    bytes: usize,
}

fn resolve(
    node: &Node,
    arena: &[Node],
    depth: usize,
    max_depth: usize,
    budget: &mut Budget,
) -> Result<Value, PickleError> {
    if depth > max_depth {
        return Err(PickleError::Limit("nesting depth"));
    }
    if budget.values == 0 {
        return Err(PickleError::Limit("number of values"));
    }
    budget.values -= 1;
    let seq = |items: &[Node], budget: &mut Budget| -> Result<Vec<Value>, PickleError> {
        items
            .iter()
            .map(|n| resolve(n, arena, depth + 1, max_depth, budget))
            .collect()
    };
    Ok(match node {
        Node::Leaf(v) => {
            let size = match v {
                Value::Str(x) => x.len(),
                Value::Bytes(x) | Value::BigInt(x) => x.len(),
                _ => 0,
            };
            budget.bytes = budget
                .bytes
                .checked_sub(size)
                .ok_or(PickleError::Limit("total size of strings"))?;
            v.clone()
        }
        Node::List(items) => Value::List(seq(items, budget)?),
        Node::Tuple(items) => Value::Tuple(seq(items, budget)?),
        Node::Set(items) => Value::Set(seq(items, budget)?),
        Node::FrozenSet(items) => Value::FrozenSet(seq(items, budget)?),
        Node::Dict(pairs) => {
            let mut out = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                let k = resolve(k, arena, depth + 1, max_depth, budget)?;
                let v = resolve(v, arena, depth + 1, max_depth, budget)?;
                out.push((k, v));
            }
            Value::Dict(out)
        }
        // A self-referencing structure recurses here until the depth limit.
        Node::Ref(slot) => {
            let target = arena.get(*slot).ok_or(PickleError::Malformed {
                what: "memo slot missing",
                offset: 0,
            })?;
            return resolve(target, arena, depth + 1, max_depth, budget);
        }
        Node::Global { .. } => {
            return Err(PickleError::Malformed {
                what: "a class where a value was expected",
                offset: 0,
            })
        }
        Node::Exception { module, name, args } => Value::Exception {
            module: module.clone(),
            name: name.clone(),
            args: seq(args, budget)?,
        },
    })
}

// ---------------------------------------------------------------- encoder

/// Encode a value as a protocol-4 pickle that Python's `pickle.loads` reads.
pub fn encode(value: &Value) -> Vec<u8> {
    let mut out = vec![0x80, 4];
    encode_into(value, &mut out);
    out.push(b'.');
    out
}

fn encode_str(s: &str, out: &mut Vec<u8>) {
    let b = s.as_bytes();
    if b.len() < 256 {
        out.push(0x8c);
        out.push(b.len() as u8);
    } else if let Ok(n) = u32::try_from(b.len()) {
        out.push(b'X');
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        out.push(0x8d);
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
    }
    out.extend_from_slice(b);
}

fn encode_items(items: &[Value], out: &mut Vec<u8>) {
    for item in items {
        encode_into(item, out);
    }
}

fn encode_into(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::None => out.push(b'N'),
        Value::Bool(true) => out.push(0x88),
        Value::Bool(false) => out.push(0x89),
        Value::Int(i) => {
            if (0..256).contains(i) {
                out.push(b'K');
                out.push(*i as u8);
            } else if (0..65536).contains(i) {
                out.push(b'M');
                out.extend_from_slice(&(*i as u16).to_le_bytes());
            } else if let Ok(v) = i32::try_from(*i) {
                out.push(b'J');
                out.extend_from_slice(&v.to_le_bytes());
            } else {
                out.push(0x8a);
                out.push(8);
                out.extend_from_slice(&i.to_le_bytes());
            }
        }
        Value::BigInt(b) => {
            if let Ok(n) = u8::try_from(b.len()) {
                out.push(0x8a);
                out.push(n);
            } else {
                out.push(0x8b);
                out.extend_from_slice(&(b.len() as u32).to_le_bytes());
            }
            out.extend_from_slice(b);
        }
        Value::Float(f) => {
            out.push(b'G');
            out.extend_from_slice(&f.to_be_bytes());
        }
        Value::Str(s) => encode_str(s, out),
        Value::Bytes(b) => {
            if b.len() < 256 {
                out.push(b'C');
                out.push(b.len() as u8);
            } else if let Ok(n) = u32::try_from(b.len()) {
                out.push(b'B');
                out.extend_from_slice(&n.to_le_bytes());
            } else {
                out.push(0x8e);
                out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            }
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            out.push(b']');
            if !items.is_empty() {
                out.push(b'(');
                encode_items(items, out);
                out.push(b'e');
            }
        }
        Value::Tuple(items) => match items.len() {
            0 => out.push(b')'),
            1..=3 => {
                encode_items(items, out);
                out.push(0x84 + items.len() as u8);
            }
            _ => {
                out.push(b'(');
                encode_items(items, out);
                out.push(b't');
            }
        },
        Value::Dict(pairs) => {
            out.push(b'}');
            if !pairs.is_empty() {
                out.push(b'(');
                for (k, v) in pairs {
                    encode_into(k, out);
                    encode_into(v, out);
                }
                out.push(b'u');
            }
        }
        Value::Set(items) => {
            out.push(0x8f);
            if !items.is_empty() {
                out.push(b'(');
                encode_items(items, out);
                out.push(0x90);
            }
        }
        Value::FrozenSet(items) => {
            out.push(b'(');
            encode_items(items, out);
            out.push(0x91);
        }
        Value::Exception { module, name, args } => {
            // The reader's pickle.loads imports and calls this class: only
            // exception classes of builtins and fail2ban are ever named;
            // anything else is sent as a plain Exception carrying its text.
            let exceptiony = name.ends_with("Error") || name.ends_with("Exception");
            let trusted =
                module == "builtins" || module == "fail2ban" || module.starts_with("fail2ban.");
            let ident =
                !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !(exceptiony && trusted && ident) {
                let text = format!("{module}.{name}: {}", value.py_str());
                let safe = Value::Exception {
                    module: "builtins".into(),
                    name: "Exception".into(),
                    args: vec![Value::Str(text)],
                };
                return encode_into(&safe, out);
            }
            encode_str(module, out);
            encode_str(name, out);
            out.push(0x93); // STACK_GLOBAL
            encode_into(&Value::Tuple(args.clone()), out);
            out.push(b'R'); // REDUCE
        }
    }
}
