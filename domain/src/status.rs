//! The discreet status codes shown at the counter (API.md): a neutral letter, never a word like
//! "hold" or "missed" that others in the queue could read.

use serde::{Deserialize, Serialize};

use crate::schedule::DayPlan;

/// Why supply is held back for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HoldKind {
    /// The service asks the person to make contact first; a keyworker may lift it.
    Attend,
    /// Consecutive missed doses: only a prescriber may lift it.
    Safety,
}

/// The neutral letter shown at the counter. When several apply the first of F, E, D, B, C, A
/// wins (see [`status_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum StatusCode {
    A,
    B,
    C,
    D,
    E,
    F,
}

impl StatusCode {
    /// The letter itself, for the counter display.
    pub fn letter(self) -> char {
        match self {
            StatusCode::A => 'A',
            StatusCode::B => 'B',
            StatusCode::C => 'C',
            StatusCode::D => 'D',
            StatusCode::E => 'E',
            StatusCode::F => 'F',
        }
    }

    /// What the letter asks of the pharmacist, in neutral words that are safe to display.
    pub fn meaning(self) -> &'static str {
        match self {
            StatusCode::A => "supply as prescribed",
            StatusCode::B => "already supplied for today",
            StatusCode::C => "nothing due today",
            StatusCode::D => "ask the person, privately, to contact their service before supply",
            StatusCode::E => "do not supply: prescriber review needed",
            StatusCode::F => "no active prescription here today",
        }
    }
}

/// The code for a day: F if no prescription; else E if any safety hold; else D if any attend
/// hold; else A if something can still be handed over today (after a supply today only when a
/// dose was added since, e.g. a closure moved a later day's dose onto today); else B if already
/// supplied today; else C (covered by an earlier collection, or the pharmacy is closed for every
/// dose due). `plan` must already account for today's supplies
/// ([`crate::due_given_supplies`]).
pub fn status_code(plan: &DayPlan, holds: &[HoldKind], supplied_today: bool) -> StatusCode {
    match plan {
        DayPlan::NoPrescription => StatusCode::F,
        _ if holds.contains(&HoldKind::Safety) => StatusCode::E,
        _ if holds.contains(&HoldKind::Attend) => StatusCode::D,
        DayPlan::Collect(due) if due.doses.iter().any(|d| !d.pharmacy_closed) => StatusCode::A,
        _ if supplied_today => StatusCode::B,
        _ => StatusCode::C,
    }
}
