//! bailiff-control (skeleton; see docs/ARCHITECTURE.md).
