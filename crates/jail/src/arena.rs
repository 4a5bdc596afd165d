//! Storage for the matched lines of counted ids.
//!
//! A jail counting a million ids keeps a million small records (usually one log line
//! each). One heap allocation per record costs the allocator's header and rounding,
//! and scatters long-lived records among the short-lived allocations of every batch
//! of log lines, so that freed batch memory can never go back to the system. The
//! arena packs records into 64 KiB chunks in 8-byte units instead: a record costs its
//! bytes rounded up to 8, and the chunks hold nothing else.
//!
//! Freed records go to a free list per size (in units) and are reused by records of
//! the same size; the owner calls [`LineArena::wasted`] and rebuilds the arena with
//! [`LineArena::compacted`] when too much of it is free. Records larger than a chunk
//! get their own allocation.

/// Bytes per unit: records are rounded up to this.
const UNIT: usize = 8;
/// Units per chunk (64 KiB).
const CHUNK_UNITS: usize = 8192;
const CHUNK_BYTES: usize = UNIT * CHUNK_UNITS;
/// `RecRef::units` of a record kept in its own allocation.
const BIG: u16 = u16::MAX;
/// End of a free list.
const NIL: u32 = u32::MAX;

/// Where a record lives: `units` 8-byte units from unit `at`; `units == 0` is no
/// record, `units == BIG` a large record (`at` indexes `LineArena::big`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecRef {
    pub at: u32,
    pub units: u16,
}

impl RecRef {
    pub const NONE: RecRef = RecRef { at: 0, units: 0 };
}

#[derive(Debug, Default)]
pub(crate) struct LineArena {
    chunks: Vec<Box<[u8]>>,
    /// First free unit of the last chunk (global unit number).
    top: usize,
    /// `free[n]`: first free record of `n` units (its first 4 bytes link the next).
    free: Vec<u32>,
    big: Vec<Option<Box<[u8]>>>,
    big_free: Vec<u32>,
    /// Units (chunked) held by live records.
    live_units: usize,
}

fn units_for(len: usize) -> usize {
    len.div_ceil(UNIT).max(1)
}

impl LineArena {
    /// Stores `bytes` and returns where (an empty slice is no record).
    pub fn put(&mut self, bytes: &[u8]) -> RecRef {
        if bytes.is_empty() {
            return RecRef::NONE;
        }
        let n = units_for(bytes.len());
        if n > CHUNK_UNITS || self.chunks.len() >= (u32::MAX as usize) / CHUNK_UNITS {
            return self.put_big(bytes);
        }
        let at = self.alloc(n);
        let start = at * UNIT;
        let chunk = &mut self.chunks[start / CHUNK_BYTES];
        let off = start % CHUNK_BYTES;
        chunk[off..off + bytes.len()].copy_from_slice(bytes);
        // Clear the padding: readers see a record as its whole units.
        chunk[off + bytes.len()..off + n * UNIT].fill(0);
        self.live_units += n;
        RecRef {
            at: at as u32,
            units: n as u16,
        }
    }

    fn put_big(&mut self, bytes: &[u8]) -> RecRef {
        let b: Box<[u8]> = bytes.into();
        let at = match self.big_free.pop() {
            Some(i) => {
                self.big[i as usize] = Some(b);
                i
            }
            None => {
                self.big.push(Some(b));
                (self.big.len() - 1) as u32
            }
        };
        RecRef { at, units: BIG }
    }

    /// Takes `n` units from the free list of that size or from the last chunk.
    fn alloc(&mut self, n: usize) -> usize {
        if let Some(&head) = self.free.get(n) {
            if head != NIL {
                let at = head as usize;
                self.free[n] = self.link_at(at);
                return at;
            }
        }
        let room = self.chunks.len() * CHUNK_UNITS - self.top;
        if room < n {
            if room > 0 {
                // The chunk's tail becomes a free record of its size.
                let tail = self.top;
                self.push_free(tail, room);
            }
            self.chunks.push(vec![0u8; CHUNK_BYTES].into_boxed_slice());
            self.top = (self.chunks.len() - 1) * CHUNK_UNITS;
        }
        let at = self.top;
        self.top += n;
        at
    }

    fn link_at(&self, at: usize) -> u32 {
        let start = at * UNIT;
        let chunk = &self.chunks[start / CHUNK_BYTES];
        let off = start % CHUNK_BYTES;
        let mut b = [0u8; 4];
        b.copy_from_slice(&chunk[off..off + 4]);
        u32::from_le_bytes(b)
    }

    fn push_free(&mut self, at: usize, n: usize) {
        if self.free.len() <= n {
            self.free.resize(n + 1, NIL);
        }
        let next = self.free[n];
        let start = at * UNIT;
        let chunk = &mut self.chunks[start / CHUNK_BYTES];
        let off = start % CHUNK_BYTES;
        chunk[off..off + 4].copy_from_slice(&next.to_le_bytes());
        self.free[n] = at as u32;
    }

    /// The record's bytes, padding included (zeros up to the next unit).
    pub fn get(&self, r: RecRef) -> &[u8] {
        match r.units {
            0 => &[],
            BIG => self
                .big
                .get(r.at as usize)
                .and_then(|b| b.as_deref())
                .unwrap_or(&[]),
            n => {
                let start = r.at as usize * UNIT;
                let off = start % CHUNK_BYTES;
                &self.chunks[start / CHUNK_BYTES][off..off + usize::from(n) * UNIT]
            }
        }
    }

    /// Gives the record's space back.
    pub fn free(&mut self, r: RecRef) {
        match r.units {
            0 => {}
            BIG => {
                if let Some(b) = self.big.get_mut(r.at as usize) {
                    if b.take().is_some() {
                        self.big_free.push(r.at);
                    }
                }
                if self.big_free.len() == self.big.len() {
                    self.big = Vec::new();
                    self.big_free = Vec::new();
                }
            }
            n => {
                let n = usize::from(n);
                self.live_units -= n;
                self.push_free(r.at as usize, n);
            }
        }
    }

    /// Bytes of chunk space held.
    pub fn capacity_bytes(&self) -> usize {
        self.chunks.len() * CHUNK_BYTES
    }

    /// Whether more than a third of the chunk space (and more than a chunk) is free:
    /// time to rebuild with [`LineArena::compacted`].
    pub fn wasted(&self) -> bool {
        let total = self.chunks.len() * CHUNK_UNITS;
        let free = total - self.live_units;
        free > CHUNK_UNITS && free * 3 > total
    }

    /// A fresh arena holding the records `refs` point to, each `RecRef` updated to
    /// its new place. Records not named are dropped.
    pub fn compacted<'a>(&self, refs: impl Iterator<Item = &'a mut RecRef>) -> LineArena {
        let mut out = LineArena::default();
        for r in refs {
            let bytes = self.get(*r);
            *r = out.put(bytes);
        }
        out
    }
}

/// Matched lines, encoded as `[varint count] ([varint length] bytes)*`; what follows
/// (the arena's padding) is ignored.
pub(crate) fn lines(rec: &[u8]) -> impl Iterator<Item = &[u8]> + Clone {
    let mut rest = rec;
    let mut left = read_varint(&mut rest).unwrap_or(0);
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        left -= 1;
        let len = usize::try_from(read_varint(&mut rest)?).ok()?;
        if len > rest.len() {
            left = 0;
            return None;
        }
        let (line, tail) = rest.split_at(len);
        rest = tail;
        Some(line)
    })
}

/// Encodes into `out` the last `max` of `old` followed by `new`.
pub(crate) fn encode_lines<'a>(
    out: &mut Vec<u8>,
    old: impl Iterator<Item = &'a [u8]> + Clone,
    new: &'a [String],
    max: usize,
) {
    out.clear();
    let total = old.clone().count() + new.len();
    let skip = total.saturating_sub(max);
    let keep = total - skip;
    if keep == 0 {
        return;
    }
    write_varint(out, keep as u64);
    for line in old.chain(new.iter().map(|s| s.as_bytes())).skip(skip) {
        write_varint(out, line.len() as u64);
        out.extend_from_slice(line);
    }
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn read_varint(rest: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, tail) = rest.split_first()?;
        *rest = tail;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(lines_: &[&str]) -> Vec<u8> {
        let new: Vec<String> = lines_.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        encode_lines(&mut out, std::iter::empty(), &new, usize::MAX);
        out
    }

    fn decode(rec: &[u8]) -> Vec<String> {
        lines(rec)
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn encoding_round_trips_and_ignores_padding() {
        let long = "x".repeat(300);
        for case in [
            vec![],
            vec![""],
            vec!["a", "", "bc"],
            vec![long.as_str(), "é"],
        ] {
            let mut rec = record(&case);
            rec.extend_from_slice(&[0; 7]);
            assert_eq!(decode(&rec), case);
        }
    }

    #[test]
    fn encode_keeps_the_last_max() {
        let old = record(&["a", "b"]);
        let new = vec!["c".to_string(), "d".to_string()];
        let mut out = Vec::new();
        encode_lines(&mut out, lines(&old), &new, 3);
        assert_eq!(decode(&out), ["b", "c", "d"]);
        encode_lines(&mut out, lines(&old), &new, 0);
        assert!(out.is_empty());
    }

    #[test]
    fn records_larger_than_a_chunk_get_their_own_allocation() {
        let mut a = LineArena::default();
        let big = vec![7u8; CHUNK_BYTES + 1];
        let r = a.put(&big);
        assert_eq!(r.units, BIG);
        assert_eq!(a.get(r), &big[..]);
        let small = a.put(b"abc");
        assert_eq!(&a.get(small)[..3], b"abc");
        a.free(r);
        assert!(a.big.is_empty());
        assert_eq!(a.capacity_bytes(), CHUNK_BYTES);
    }

    #[test]
    fn freed_space_is_reused_for_the_same_size() {
        let mut a = LineArena::default();
        let r1 = a.put(&[1; 80]);
        let _r2 = a.put(&[2; 80]);
        a.free(r1);
        let r3 = a.put(&[3; 75]);
        assert_eq!(r3.at, r1.at);
        assert_eq!(&a.get(r3)[..75], &[3; 75][..]);
        assert_eq!(&a.get(r3)[75..], &[0; 5][..]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>),
        Free(usize),
        Compact,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => prop_oneof![
                8 => proptest::collection::vec(any::<u8>(), 0..200),
                1 => (any::<u8>(), CHUNK_BYTES - 8..CHUNK_BYTES + 16).prop_map(|(b, n)| vec![b; n]),
            ]
            .prop_map(Op::Put),
            3 => any::<usize>().prop_map(Op::Free),
            1 => Just(Op::Compact),
        ]
    }

    proptest! {
        /// Against a model (a list of owned byte strings): every live record reads
        /// back as written, whatever the order of puts, frees and compactions.
        #[test]
        fn arena_matches_a_model(ops in proptest::collection::vec(op(), 1..300)) {
            let mut a = LineArena::default();
            let mut live: Vec<(RecRef, Vec<u8>)> = Vec::new();
            for op in ops {
                match op {
                    Op::Put(b) => {
                        let r = a.put(&b);
                        prop_assert_eq!(r.units == 0, b.is_empty());
                        live.push((r, b));
                    }
                    Op::Free(i) if !live.is_empty() => {
                        let (r, _) = live.swap_remove(i % live.len());
                        a.free(r);
                    }
                    Op::Free(_) => {}
                    Op::Compact => {
                        a = a.compacted(live.iter_mut().map(|(r, _)| r));
                    }
                }
                for (r, b) in &live {
                    let got = a.get(*r);
                    prop_assert_eq!(&got[..b.len()], &b[..]);
                    prop_assert!(got[b.len()..].iter().all(|&x| x == 0));
                    prop_assert!(got.len() - b.len() < UNIT || b.is_empty() || r.units == BIG);
                }
                let live_units: usize = live
                    .iter()
                    .filter(|(r, _)| r.units != BIG)
                    .map(|(r, _)| usize::from(r.units))
                    .sum();
                prop_assert_eq!(a.live_units, live_units);
            }
        }
    }
}
