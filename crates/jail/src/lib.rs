//! bailiff-jail (skeleton; see docs/ARCHITECTURE.md).
