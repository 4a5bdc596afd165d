//! The systemd journal (not yet implemented).
