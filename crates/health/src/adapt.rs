//! Adapters from the other crates' own health types, so the daemon does not map
//! fields by hand: [`FileHealth`] (source), [`CheckReport`] and action results.

use std::fmt::Display;

use bailiff_action::nft::CheckReport;
use bailiff_source::{FileHealth, FileState};

use crate::state::{ActionOutcome, JailHealth, SourceState, Time};

impl From<&FileState> for SourceState {
    fn from(s: &FileState) -> Self {
        match s {
            FileState::Open => SourceState::Open,
            FileState::Missing => SourceState::Missing,
            FileState::Unreadable(why) => SourceState::Unreadable(why.clone()),
        }
    }
}

impl ActionOutcome {
    /// `Ok` or `Err(error text)` from any action call's result.
    pub fn from_result<T, E: Display>(r: &Result<T, E>) -> Self {
        match r {
            Ok(_) => ActionOutcome::Ok,
            Err(e) => ActionOutcome::Err(e.to_string()),
        }
    }
}

impl JailHealth {
    /// Take a path's state and rotation count from `FileSource::health()` (call it
    /// for every entry, e.g. once per poll round). Line and byte counts still come
    /// from [`JailHealth::on_lines_read`].
    pub fn on_file_health(&mut self, f: &FileHealth, now: Time) {
        let name = f.path.display().to_string();
        let seen = self.sources.get(&name).map(|s| s.rotations).unwrap_or(0);
        if f.rotations > seen && f.state == FileState::Open {
            // New rotations since the last look: note them once.
            self.on_source_state(&name, SourceState::Rotated, now);
        }
        self.on_source_state(&name, SourceState::from(&f.state), now);
        if let Some(s) = self.sources.get_mut(&name) {
            s.rotations = s.rotations.max(f.rotations);
        }
    }

    /// An nftables `check` ran for `action` (`NftBackend::check`).
    pub fn on_check_report(&mut self, action: &str, r: &CheckReport, now: Time) {
        let present = r.table && r.chain && r.sets && r.rules;
        self.on_enforcement_check(action, r.missing.len(), present, now);
    }

    /// `Action::check_and_repair` returned: `Ok(false)` all in place, `Ok(true)`
    /// it was broken and has been repaired, `Err` the check or repair failed.
    pub fn on_check_and_repair<E: Display>(
        &mut self,
        action: &str,
        r: &Result<bool, E>,
        now: Time,
    ) {
        match r {
            Ok(repaired) => {
                if *repaired {
                    self.on_repair(action, now);
                }
                self.on_enforcement_check(action, 0, true, now);
                self.on_action_result(action, ActionOutcome::Ok, now);
            }
            Err(e) => {
                self.on_action_result(action, ActionOutcome::Err(e.to_string()), now);
            }
        }
    }
}
