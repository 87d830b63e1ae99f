//! Instalment prescriptions: the draft as it arrives, its validation, and the validated value
//! with its regimes (dose + weekly pattern, each in force from a date).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::calendar::PharmacyCalendar;
use crate::collections::{Collection, WeeklyCollections};
use crate::error::FieldError;
use crate::medicine::{DoseMg, Medicine};
use crate::schedule::{self, Schedule};

/// The longest an instalment prescription (FP10MDA) may run, inclusive of both ends.
const MAX_PRESCRIPTION_DAYS: i64 = 14;

/// Home Office approved wording clauses (DOMAIN.md) carried by a prescription.
///
/// Missing fields default to the usual wording (true, true, 3) so a short request does the
/// safe, common thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Directions {
    /// Clause 1: instalments due on closed days are supplied on a prior open day.
    #[serde(default = "default_true")]
    #[schema(default = true)]
    pub closed_days_prior: bool,
    /// Clause 2: a missed collection day still allows the instalment's remaining days.
    #[serde(default = "default_true")]
    #[schema(default = true)]
    pub supply_remaining_if_missed: bool,
    /// Clause 3: consult the prescriber after this many consecutive missed days (1..=7).
    #[serde(default = "default_consult_after")]
    #[schema(default = 3, minimum = 1, maximum = 7)]
    pub consult_after_missed_days: u8,
}

fn default_true() -> bool {
    true
}

fn default_consult_after() -> u8 {
    3
}

impl Default for Directions {
    fn default() -> Self {
        Self {
            closed_days_prior: true,
            supply_remaining_if_missed: true,
            consult_after_missed_days: default_consult_after(),
        }
    }
}

impl Directions {
    fn errors(&self) -> Vec<FieldError> {
        if (1..=7).contains(&self.consult_after_missed_days) {
            return Vec::new();
        }
        vec![FieldError::new(
            "directions.consult_after_missed_days",
            format!(
                "must be between 1 and 7, not {}",
                self.consult_after_missed_days
            ),
        )]
    }
}

/// A prescription as it arrives from the API, before validation.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrescriptionDraft {
    pub medicine: Medicine,
    pub daily_dose_mg: f64,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub collections: Vec<Collection>,
    #[serde(default)]
    pub directions: Directions,
}

/// One regime (dose + weekly pattern) in force from `effective_from` until the next regime or
/// the end of the prescription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Regime {
    pub effective_from: NaiveDate,
    pub daily_dose: DoseMg,
    pub collections: WeeklyCollections,
}

/// A validated instalment prescription.
///
/// Fields are private so the invariants hold: at least one regime, sorted by date, the first
/// in force from `start_date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prescription {
    medicine: Medicine,
    start_date: NaiveDate,
    end_date: NaiveDate,
    directions: Directions,
    regimes: Vec<Regime>,
}

/// Why a prescription cannot start on a closed day, naming the open days either side: its first
/// dose could never be handed over (nothing earlier in the prescription to move it to).
fn closed_start(date: NaiveDate, why: &str, calendar: &PharmacyCalendar) -> String {
    let (before, after) = calendar.nearest_open_days(date);
    let days: Vec<String> = [before, after]
        .into_iter()
        .flatten()
        .map(|d| format!("{d} ({})", crate::weekday::Weekday::of(d)))
        .collect();
    let advice = if days.is_empty() {
        "the pharmacy has no open day within a year".to_string()
    } else {
        format!("start on the nearest open day: {}", days.join(" or "))
    };
    format!(
        "the pharmacy is closed on {date} ({why}), so the first dose could never be handed \
         over; {advice}"
    )
}

impl Prescription {
    /// Validates a draft, collecting every problem so the clinician fixes them in one go.
    pub fn new(
        draft: PrescriptionDraft,
        calendar: &PharmacyCalendar,
    ) -> Result<Prescription, Vec<FieldError>> {
        let mut errors = Vec::new();
        if draft.end_date < draft.start_date {
            errors.push(FieldError::new(
                "end_date",
                format!("must be on or after start_date ({})", draft.start_date),
            ));
        } else {
            let days = (draft.end_date - draft.start_date).num_days() + 1;
            if days > MAX_PRESCRIPTION_DAYS {
                errors.push(FieldError::new(
                    "end_date",
                    format!(
                        "a prescription covers at most {MAX_PRESCRIPTION_DAYS} days; \
                         this one covers {days}"
                    ),
                ));
            }
        }
        let dose = DoseMg::parse_mg(draft.daily_dose_mg, draft.medicine)
            .map_err(|message| errors.push(FieldError::new("daily_dose_mg", message)))
            .ok();
        let collections = WeeklyCollections::parse(
            draft.collections,
            &calendar.closed_weekdays(),
            "collections",
        )
        .map_err(|e| errors.extend(e))
        .ok();
        errors.extend(draft.directions.errors());
        if let Some(why) = calendar.closed_because(draft.start_date) {
            errors.push(FieldError::new(
                "start_date",
                closed_start(draft.start_date, &why, calendar),
            ));
        }
        match (dose, collections) {
            (Some(daily_dose), Some(collections)) if errors.is_empty() => Ok(Prescription {
                medicine: draft.medicine,
                start_date: draft.start_date,
                end_date: draft.end_date,
                directions: draft.directions,
                regimes: vec![Regime {
                    effective_from: draft.start_date,
                    daily_dose,
                    collections,
                }],
            }),
            _ => Err(errors),
        }
    }

    /// Rebuilds a prescription from storage without re-checking the rules (they were checked
    /// when stored, and may have changed since). Regimes are sorted, and the earliest is taken
    /// to be in force from `start_date`.
    ///
    /// # Panics
    /// If `regimes` is empty: a stored prescription always has its base regime.
    pub fn from_parts(
        medicine: Medicine,
        start_date: NaiveDate,
        end_date: NaiveDate,
        directions: Directions,
        mut regimes: Vec<Regime>,
    ) -> Prescription {
        assert!(!regimes.is_empty(), "a prescription needs its base regime");
        regimes.sort_by_key(|r| r.effective_from);
        regimes[0].effective_from = start_date;
        Prescription {
            medicine,
            start_date,
            end_date,
            directions,
            regimes,
        }
    }

    /// A copy with `regime` inserted in date order; one with the same `effective_from`
    /// replaces the old one, so a schedule never has two regimes on one day.
    pub fn with_regime(&self, regime: Regime) -> Prescription {
        let mut copy = self.clone();
        copy.regimes
            .retain(|r| r.effective_from != regime.effective_from);
        let at = copy
            .regimes
            .partition_point(|r| r.effective_from < regime.effective_from);
        copy.regimes.insert(at, regime);
        copy
    }

    pub fn medicine(&self) -> Medicine {
        self.medicine
    }

    pub fn start_date(&self) -> NaiveDate {
        self.start_date
    }

    /// The last day with a dose (inclusive).
    pub fn end_date(&self) -> NaiveDate {
        self.end_date
    }

    pub fn directions(&self) -> Directions {
        self.directions
    }

    /// Every regime, earliest first; the first is in force from `start_date`.
    pub fn regimes(&self) -> &[Regime] {
        &self.regimes
    }

    /// The regime in force on `date` (the base regime for dates before the start).
    pub fn regime_on(&self, date: NaiveDate) -> &Regime {
        let later = self.regimes.partition_point(|r| r.effective_from <= date);
        &self.regimes[later.saturating_sub(1)]
    }

    /// The prescription laid out day by day, with closures applied from `calendar`.
    pub fn schedule(&self, calendar: &PharmacyCalendar) -> Schedule {
        schedule::build(self, calendar)
    }
}
