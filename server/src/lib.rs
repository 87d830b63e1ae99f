//! Sotto server: instalment prescriptions, holds, regime changes and their audit trail, exposed
//! as an HTTP API (and, with the MQTT issue, pushed to pharmacies).
#![forbid(unsafe_code)]

pub mod app;
pub mod auth_limit;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod core;
pub mod error;
pub mod fhir;
pub mod http;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod web;

pub use app::Application;
pub use config::Config;
