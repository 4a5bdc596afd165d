//! bailiff-source (skeleton; see docs/ARCHITECTURE.md).
