//! The time of day, injectable: closing the day at closing time, "today" at the counter and
//! staleness all read it, so tests can move time without sleeping or waiting for midnight. The
//! trait is shared with the server (`sotto_domain::clock`).

pub use sotto_domain::clock::{Clock, SystemClock};
