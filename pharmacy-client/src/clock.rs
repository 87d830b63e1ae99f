//! The time of day, injectable: closing the day at closing time, "today" at the counter and
//! staleness all read it, so tests can move time without sleeping or waiting for midnight.

use chrono::{DateTime, Utc};

/// Where the client reads the current time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The computer's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
