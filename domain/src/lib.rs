//! Sotto's clinical rules: instalment schedules, closures, regime changes, holds and the
//! discreet status codes. Pure: no I/O, no clock, so the server and the pharmacy client agree.

#![forbid(unsafe_code)]

mod calendar;
mod change_plan;
pub mod clock;
mod collections;
mod error;
mod hours;
mod ledger;
mod medicine;
mod prescription;
mod regime_change;
mod schedule;
mod status;
mod supplies;
mod weekday;
mod words;

pub use calendar::PharmacyCalendar;
pub use change_plan::{ChangeContext, DayChange, RegimeChangeEffect, RegimeChangePlan};
pub use clock::{Clock, SystemClock};
pub use collections::{Collection, WeeklyCollections};
pub use error::FieldError;
pub use hours::{
    DayHours, DayHoursText, OpeningHours, OpeningHoursText, local_instant, parse_hh_mm,
};
pub use ledger::{
    Assessment, CarriedRun, DayAccount, DayState, HoldSpan, InHand, LOOKBACK_DAYS, Ledger,
    LedgerInput, NoDose, PrescribedSchedule, SHOWN_DAYS, assess,
};
pub use medicine::{DoseMg, Medicine};
pub use prescription::{Directions, Prescription, PrescriptionDraft, Regime};
pub use regime_change::RegimeChangeDraft;
pub use schedule::{DayPlan, DoseDay, Due, Schedule};
pub use status::{HoldKind, StatusCode, status_code};
pub use supplies::{SupplyRecord, dose_in_hand, due_given_supplies};
pub use weekday::Weekday;
pub use words::{format_mg, mg_in_words};
