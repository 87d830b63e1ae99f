//! Where "now" comes from: the system clock in production; tests that must let hours pass (a mail
//! relay down for an hour) substitute one they move. The trait is shared with the pharmacy client.

pub use sotto_domain::clock::{Clock, SystemClock};
