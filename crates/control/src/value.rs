//! [`Value`]: the plain data that travels over the control socket, and how
//! Python would print it (`str()` / `repr()`), which `fail2ban-client` output
//! depends on.

use std::fmt::Write as _;

/// One protocol value: the subset of Python objects fail2ban puts in
/// requests and replies.
///
/// Dicts keep insertion order (as Python 3.7+ does) and are stored as pairs,
/// so keys need not be hashable in Rust.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An `int` that fits in 64 bits.
    Int(i64),
    /// A larger `int`, as little-endian two's-complement bytes (pickle's `LONG1` layout).
    BigInt(Vec<u8>),
    /// `float`
    Float(f64),
    /// `str`
    Str(String),
    /// `bytes` / `bytearray`
    Bytes(Vec<u8>),
    /// `list`
    List(Vec<Value>),
    /// `tuple`
    Tuple(Vec<Value>),
    /// `dict`, in insertion order.
    Dict(Vec<(Value, Value)>),
    /// `set`
    Set(Vec<Value>),
    /// `frozenset`
    FrozenSet(Vec<Value>),
    /// An exception instance, as data: its class (module and name) and its
    /// `args`. Sent in `(1, exc)` replies. Only a decoder reading a server's
    /// reply produces it (see [`crate::pickle::DecodeOptions::server_reply`]);
    /// nothing is imported or called to build it.
    Exception {
        /// e.g. `builtins` or `fail2ban.exceptions`
        module: String,
        /// e.g. `Exception`, `UnknownJailException`
        name: String,
        /// the exception's `args`
        args: Vec<Value>,
    },
}

impl Value {
    /// A `str` value.
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    /// A list of `str`.
    pub fn str_list<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::List(items.into_iter().map(|s| Value::Str(s.into())).collect())
    }

    /// A `(name, value)` pair as fail2ban's status replies use them.
    pub fn pair(name: impl Into<String>, value: Value) -> Value {
        Value::Tuple(vec![Value::Str(name.into()), value])
    }

    /// The string, if this is a `str`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an `int` (or `bool`, as in Python) that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The items, if this is a list, tuple, set or frozenset.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) | Value::Tuple(v) | Value::Set(v) | Value::FrozenSet(v) => Some(v),
            _ => None,
        }
    }

    /// Python's `str(value)`.
    pub fn py_str(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Exception { args, .. } => match args.as_slice() {
                [] => String::new(),
                [one] => one.py_str(),
                many => tuple_repr(many),
            },
            other => other.py_repr(),
        }
    }

    /// Python's `repr(value)`.
    pub fn py_repr(&self) -> String {
        let mut out = String::new();
        self.write_repr(&mut out);
        out
    }

    fn write_repr(&self, out: &mut String) {
        match self {
            Value::None => out.push_str("None"),
            Value::Bool(true) => out.push_str("True"),
            Value::Bool(false) => out.push_str("False"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::BigInt(bytes) => out.push_str(&bigint_decimal(bytes)),
            Value::Float(f) => out.push_str(&float_repr(*f)),
            Value::Str(s) => str_repr(s, out),
            Value::Bytes(b) => bytes_repr(b, out),
            Value::List(items) => {
                out.push('[');
                join_repr(items, out);
                out.push(']');
            }
            Value::Tuple(items) => out.push_str(&tuple_repr(items)),
            Value::Dict(pairs) => {
                out.push('{');
                for (n, (k, v)) in pairs.iter().enumerate() {
                    if n > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out);
                    out.push_str(": ");
                    v.write_repr(out);
                }
                out.push('}');
            }
            Value::Set(items) => {
                if items.is_empty() {
                    out.push_str("set()");
                } else {
                    out.push('{');
                    join_repr(items, out);
                    out.push('}');
                }
            }
            Value::FrozenSet(items) => {
                out.push_str("frozenset(");
                if !items.is_empty() {
                    out.push('{');
                    join_repr(items, out);
                    out.push('}');
                }
                out.push(')');
            }
            Value::Exception { name, args, .. } => {
                out.push_str(name);
                out.push('(');
                join_repr(args, out);
                out.push(')');
            }
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

fn join_repr(items: &[Value], out: &mut String) {
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        item.write_repr(out);
    }
}

fn tuple_repr(items: &[Value]) -> String {
    let mut out = String::from("(");
    join_repr(items, &mut out);
    if items.len() == 1 {
        out.push(',');
    }
    out.push(')');
    out
}

/// Python's `repr(str)`: single quotes unless the text holds a single quote
/// and no double quote.
fn str_repr(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (0x80..0xa0).contains(&(c as u32)) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

fn bytes_repr(b: &[u8], out: &mut String) {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    out.push('b');
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            c if c as char == quote => {
                out.push('\\');
                out.push(c as char);
            }
            0x20..=0x7e => out.push(c as char),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    out.push(quote);
}

/// Python's `repr(float)`: the shortest round-tripping digits, with Python's
/// choices for exponents, infinities and integral values.
pub(crate) fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits as d.ddde±x.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        // Positional notation.
        let point = exp + 1; // digits before the decimal point
        let mut s = String::from(sign);
        if point <= 0 {
            s.push_str("0.");
            for _ in 0..(-point) {
                s.push('0');
            }
            s.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                s.push_str(&digits);
                for _ in digits.len()..point {
                    s.push('0');
                }
                s.push_str(".0");
            } else {
                s.push_str(&digits[..point]);
                s.push('.');
                s.push_str(&digits[point..]);
            }
        }
        s
    } else {
        let mut s = String::from(sign);
        s.push_str(&digits[..1]);
        if digits.len() > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        let _ = write!(s, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
        s
    }
}

/// Decimal text of a little-endian two's-complement integer.
pub(crate) fn bigint_decimal(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "0".into();
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    // Magnitude, big-endian base 256.
    let mut mag: Vec<u8> = bytes.iter().rev().copied().collect();
    if negative {
        // Two's complement negate: invert and add one.
        for b in mag.iter_mut() {
            *b = !*b;
        }
        for b in mag.iter_mut().rev() {
            let (v, carry) = b.overflowing_add(1);
            *b = v;
            if !carry {
                break;
            }
        }
    }
    let mut digits = Vec::new();
    while mag.iter().any(|b| *b != 0) {
        let mut rem: u32 = 0;
        for b in mag.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        digits.push(b'0');
    }
    if negative {
        digits.push(b'-');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python_forms() {
        let cases = [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (600.0, "600.0"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789012345.6, "123456789012345.6"),
        ];
        for (f, want) in cases {
            assert_eq!(float_repr(f), want, "{f}");
        }
    }

    #[test]
    fn bigint_decimal_handles_sign() {
        // 2**64 = 0x1_0000_0000_0000_0000
        assert_eq!(
            bigint_decimal(&[0, 0, 0, 0, 0, 0, 0, 0, 1]),
            "18446744073709551616"
        );
        assert_eq!(bigint_decimal(&[0xff]), "-1");
        assert_eq!(bigint_decimal(&[0x00, 0xff]), "-256");
    }

    #[test]
    fn repr_of_containers() {
        let v = Value::List(vec![
            Value::str("a'b"),
            Value::Tuple(vec![Value::Int(1)]),
            Value::Dict(vec![(Value::str("k"), Value::None)]),
            Value::Set(vec![]),
        ]);
        assert_eq!(v.py_repr(), r#"["a'b", (1,), {'k': None}, set()]"#);
    }
}
