//! bailiff-store (skeleton; see docs/ARCHITECTURE.md).
