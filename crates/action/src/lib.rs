//! bailiff-action (skeleton; see docs/ARCHITECTURE.md).
