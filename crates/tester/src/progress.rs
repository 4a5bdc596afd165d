//! The progress bar `bailiff regex` draws on a terminal.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// A progress bar on the terminal's stderr, shown once a file takes over a second.
pub(crate) struct Progress {
    total: Option<u64>,
    started: Instant,
    shown: bool,
    enabled: bool,
    /// When the bar was last drawn (it is redrawn at most ten times a second).
    drawn: Duration,
}

impl Progress {
    pub(crate) fn new(total: Option<u64>, started: Instant, streaming: bool) -> Progress {
        let stdout_tty = io::stdout().is_terminal();
        Progress {
            total,
            started,
            shown: false,
            drawn: Duration::ZERO,
            enabled: total.is_some() && io::stderr().is_terminal() && !(streaming && stdout_tty),
        }
    }

    pub(crate) fn tick(&mut self, done: u64, lines: u64) {
        if !self.enabled {
            return;
        }
        let el = self.started.elapsed();
        if el < Duration::from_secs(1) || el < self.drawn + Duration::from_millis(100) {
            return;
        }
        self.drawn = el;
        let total = self.total.unwrap_or(0).max(1);
        let frac = (done as f64 / total as f64).min(1.0);
        let width = 30;
        let filled = (frac * width as f64) as usize;
        let bar: String = "#".repeat(filled) + &"-".repeat(width - filled);
        let rate = lines as f64 / el.as_secs_f64();
        let mut e = io::stderr();
        let _ = write!(
            e,
            "\r[{bar}] {:5.1}% {lines} lines, {:.0} lines/s",
            frac * 100.0,
            rate
        );
        let _ = e.flush();
        self.shown = true;
    }

    pub(crate) fn finish(&mut self) {
        if self.shown {
            let mut e = io::stderr();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
        }
    }
}
