//! bailiff-tester (skeleton; see docs/ARCHITECTURE.md).
