//! `plusbox clock`: show, jump ahead or reset the sandbox clock. The offset is stored in the
//! data directory's database, so a running `plusbox serve` picks it up on its next request
//! (testing-practice.md §10.2: the clock "can jump ahead" — payment expiry, notification retries,
//! the T+1 00:15 UTC+8 cancel window). Only the sandbox's time moves; an acquirer keeps its own.

use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{anyhow, Context};
use clap::Subcommand;
use plusbox_core::catalogue::CaseDuration;
use plusbox_core::protocol::time::format_instant;

use super::sandbox::DataArg;

/// `plusbox clock …`.
#[derive(Debug, Subcommand)]
pub enum ClockCommand {
    /// Print sandbox time and how far it is ahead of the wall clock.
    Show {
        #[command(flatten)]
        data: DataArg,
    },
    /// Move sandbox time ahead, e.g. `25h`, `61s`, `90m`.
    Advance {
        #[command(flatten)]
        data: DataArg,
        /// How far: a number and a unit (ms, s, m, h).
        by: String,
    },
    /// Put sandbox time back on the wall clock.
    Reset {
        #[command(flatten)]
        data: DataArg,
    },
}

/// Runs `plusbox clock …`.
pub fn run(command: ClockCommand) -> anyhow::Result<ExitCode> {
    let (data, by) = match &command {
        ClockCommand::Show { data } | ClockCommand::Reset { data } => (data, None),
        ClockCommand::Advance { data, by } => (data, Some(by)),
    };
    let store = data.open()?;
    if matches!(command, ClockCommand::Reset { .. }) {
        store.reset_clock().context("resetting the sandbox clock")?;
    }
    if let Some(by) = by {
        let by = CaseDuration::from_str(by).map_err(|e| anyhow!(e))?;
        let by = time::Duration::try_from(by.0).map_err(|_| {
            anyhow!(
                "{by} is too long; the sandbox clock can be at most {} days ahead",
                plusbox_sandbox::store::MAX_CLOCK_OFFSET.whole_days()
            )
        })?;
        store.advance_clock(by).context("moving the sandbox clock")?;
    }
    let offset = store.clock_offset().context("reading the sandbox clock")?;
    let now = plusbox_sandbox::clock::add_saturating(time::OffsetDateTime::now_utc(), offset);
    println!("sandbox time {} ({} ahead of the wall clock)", format_instant(now), human(offset));
    Ok(ExitCode::SUCCESS)
}

fn human(offset: time::Duration) -> String {
    let secs = offset.whole_seconds();
    match (secs / 3600, (secs % 3600) / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}
