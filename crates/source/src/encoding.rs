//! `logencoding`: turning the raw bytes of a line into text.
//!
//! Log lines are attacker-influenced bytes; decoding never fails; bytes that are
//! not valid in the chosen encoding become U+FFFD (the replacement character) and
//! are counted by the caller.

use std::borrow::Cow;

use crate::SourceError;

/// The encodings a `logencoding` value may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 (also what `auto` means here), invalid sequences replaced.
    #[default]
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value; never invalid.
    Latin1,
    /// 7-bit ASCII; bytes >= 0x80 are replaced.
    Ascii,
}

impl Encoding {
    /// Parses a `logencoding` value (case-insensitive): `auto`, `utf-8`/`utf8`,
    /// `latin-1`/`latin1`/`iso-8859-1`/`iso8859-1`/`l1`, `ascii`/`us-ascii`.
    ///
    /// `auto` is the locale's encoding in fail2ban; a daemon has no useful locale,
    /// so it is UTF-8 here.
    pub fn parse(name: &str) -> Result<Encoding, SourceError> {
        let norm = name.trim().to_ascii_lowercase().replace('_', "-");
        match norm.as_str() {
            "" | "auto" | "utf-8" | "utf8" | "u8" => Ok(Encoding::Utf8),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "8859" | "l1" | "cp819" => {
                Ok(Encoding::Latin1)
            }
            "ascii" | "us-ascii" | "646" => Ok(Encoding::Ascii),
            _ => Err(SourceError::UnsupportedEncoding {
                name: name.to_string(),
            }),
        }
    }

    /// Decodes one line. The second value is `true` when some bytes were not
    /// valid in this encoding and were replaced.
    pub fn decode<'a>(self, bytes: &'a [u8]) -> (Cow<'a, str>, bool) {
        match self {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => (Cow::Borrowed(s), false),
                Err(_) => (String::from_utf8_lossy(bytes), true),
            },
            Encoding::Latin1 => {
                if bytes.is_ascii() {
                    // ASCII is valid UTF-8 as it is.
                    (
                        Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default()),
                        false,
                    )
                } else {
                    (
                        Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
                        false,
                    )
                }
            }
            Encoding::Ascii => {
                if bytes.is_ascii() {
                    (
                        Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default()),
                        false,
                    )
                } else {
                    let s = bytes
                        .iter()
                        .map(|&b| {
                            if b.is_ascii() {
                                char::from(b)
                            } else {
                                '\u{FFFD}'
                            }
                        })
                        .collect();
                    (Cow::Owned(s), true)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for (name, want) in [
            ("auto", Encoding::Utf8),
            ("UTF-8", Encoding::Utf8),
            ("utf8", Encoding::Utf8),
            ("latin-1", Encoding::Latin1),
            ("ISO-8859-1", Encoding::Latin1),
            ("iso_8859_1", Encoding::Latin1),
            ("ascii", Encoding::Ascii),
        ] {
            assert_eq!(Encoding::parse(name).ok(), Some(want), "{name}");
        }
        let err = Encoding::parse("koi8-r").unwrap_err();
        assert!(err.to_string().contains("koi8-r"), "{err}");
    }

    #[test]
    fn decoding() {
        let raw = b"user \xe9t\xe9 from 1.2.3.4";
        let (s, bad) = Encoding::Utf8.decode(raw);
        assert!(bad);
        assert_eq!(s, "user \u{FFFD}t\u{FFFD} from 1.2.3.4");
        let (s, bad) = Encoding::Latin1.decode(raw);
        assert!(!bad);
        assert_eq!(s, "user été from 1.2.3.4");
        let (s, bad) = Encoding::Ascii.decode(raw);
        assert!(bad);
        assert_eq!(s, "user \u{FFFD}t\u{FFFD} from 1.2.3.4");
        let (s, bad) = Encoding::Utf8.decode("été".as_bytes());
        assert!(!bad);
        assert_eq!(s, "été");
        let (s, bad) = Encoding::Ascii.decode("été".as_bytes());
        assert!(bad);
        assert_eq!(s.chars().filter(|&c| c == '\u{FFFD}').count(), 4);
    }
}
