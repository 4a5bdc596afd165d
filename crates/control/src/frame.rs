//! Framing on the socket: a pickle followed by `<F2B_END_COMMAND>`;
//! `<F2B_CLOSE_COMMAND><F2B_END_COMMAND>` ends a connection.

use crate::pickle::{self, DecodeOptions, PickleError};
use crate::value::Value;

/// Terminator after every request and reply.
pub const END: &[u8] = b"<F2B_END_COMMAND>";
/// Sent (followed by [`END`]) by a client that is done.
pub const CLOSE: &[u8] = b"<F2B_CLOSE_COMMAND>";

/// What one complete frame held.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A decoded pickle.
    Value(Value),
    /// The client said goodbye.
    Close,
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FrameError {
    /// The pickle was refused or malformed (the stream stays in sync: the
    /// terminator was found).
    #[error("PROTO-error: load message failed: {0}")]
    Pickle(#[from] PickleError),
    /// No terminator within the size limit; the stream cannot be resynchronized.
    #[error("request larger than {limit} bytes")]
    TooLarge {
        /// the limit
        limit: usize,
    },
}

/// Look for a complete frame at the start of `buf`.
///
/// Returns `None` when more bytes are needed, else the frame (or the error
/// for it) and the number of bytes it used.
///
/// A terminator inside a pickled string cuts the pickle short. With
/// `patient`, a pickle that decodes as truncated is not an error yet: the
/// search goes on to the next terminator (the client side does this, since
/// a reply is always followed by silence). Without it, the first terminator
/// ends the frame, as fail2ban's server does; a truncated pickle then gets
/// an immediate error instead of a wait for bytes that never come.
pub fn split_frame(
    buf: &[u8],
    opts: &DecodeOptions,
    patient: bool,
) -> Option<(Result<Frame, FrameError>, usize)> {
    let mut from = 0;
    let mut first_error = None;
    while let Some(i) = find(&buf[from..], END) {
        let end = from + i;
        let body = &buf[..end];
        let used = end + END.len();
        if body == CLOSE {
            return Some((Ok(Frame::Close), used));
        }
        match pickle::decode_with(body, opts) {
            Ok(v) => return Some((Ok(Frame::Value(v)), used)),
            Err(PickleError::Truncated) if patient => {
                if first_error.is_none() {
                    first_error = Some(used);
                }
                from = used;
            }
            Err(e) => return Some((Err(FrameError::Pickle(e)), used)),
        }
    }
    if buf.len() > opts.max_size + END.len() {
        // Nothing decodes within the limit; report the first cut (or all of it).
        let used = first_error.unwrap_or(buf.len());
        return Some((
            Err(FrameError::TooLarge {
                limit: opts.max_size,
            }),
            used,
        ));
    }
    None
}

/// Encode a value as a frame: pickle plus terminator.
pub fn encode_frame(v: &Value) -> Vec<u8> {
    let mut out = pickle::encode(v);
    out.extend_from_slice(END);
    out
}

pub(crate) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..=hay.len() - needle.len()]
            .iter()
            .position(|b| *b == first)
        {
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
            None => return None,
        }
    }
    None
}
