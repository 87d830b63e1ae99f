//! Regime changes: a new dose and/or weekly pattern from an effective date.
//!
//! A change may only start on a collection day. Starting inside an instalment would change
//! doses the person may already hold at home.

use chrono::NaiveDate;
use serde::Deserialize;

use crate::calendar::PharmacyCalendar;
use crate::collections::{Collection, WeeklyCollections};
use crate::error::FieldError;
use crate::medicine::DoseMg;
use crate::prescription::{Prescription, Regime};

/// Longest accepted reason; the reason is recorded for audit, not an essay.
const MAX_REASON_CHARS: usize = 2000;

/// A regime change as it arrives from the API, before validation. Omitted parts are carried
/// over from the regime in force on `effective_from`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegimeChangeDraft {
    pub effective_from: NaiveDate,
    pub daily_dose_mg: Option<f64>,
    pub collections: Option<Vec<Collection>>,
    /// Why; kept so missed doses before and after each change can be reviewed.
    pub reason: String,
}

impl Prescription {
    /// Validates a regime change against this prescription and returns the new regime,
    /// without changing the prescription (see [`Prescription::with_regime`]). Collects every
    /// problem.
    pub fn validate_regime_change(
        &self,
        draft: &RegimeChangeDraft,
        calendar: &PharmacyCalendar,
    ) -> Result<Regime, Vec<FieldError>> {
        let mut errors = Vec::new();
        let reason = draft.reason.trim();
        if reason.is_empty() {
            errors.push(FieldError::new("reason", "must not be empty"));
        } else if reason.chars().count() > MAX_REASON_CHARS {
            errors.push(FieldError::new(
                "reason",
                format!("must be at most {MAX_REASON_CHARS} characters"),
            ));
        }
        if draft.daily_dose_mg.is_none() && draft.collections.is_none() {
            errors.push(FieldError::new(
                "collections",
                "give a new daily_dose_mg, new collections, or both",
            ));
        }
        if let Some(message) = self.effective_from_problem(draft.effective_from, calendar) {
            errors.push(FieldError::new("effective_from", message));
        }

        let current = self.regime_on(draft.effective_from);
        let daily_dose = match draft.daily_dose_mg {
            None => Some(current.daily_dose),
            Some(mg) => DoseMg::parse_mg(mg, self.medicine())
                .map_err(|message| errors.push(FieldError::new("daily_dose_mg", message)))
                .ok(),
        };
        let collections = match &draft.collections {
            None => Some(current.collections.clone()),
            Some(items) => {
                WeeklyCollections::parse(items.clone(), &calendar.closed_weekdays(), "collections")
                    .map_err(|e| errors.extend(e))
                    .ok()
            }
        };
        match (daily_dose, collections) {
            (Some(daily_dose), Some(collections)) if errors.is_empty() => Ok(Regime {
                effective_from: draft.effective_from,
                daily_dose,
                collections,
            }),
            _ => Err(errors),
        }
    }

    /// Why `date` cannot start a new regime, if it cannot.
    fn effective_from_problem(
        &self,
        date: NaiveDate,
        calendar: &PharmacyCalendar,
    ) -> Option<String> {
        if date <= self.start_date() || date > self.end_date() {
            return Some(format!(
                "must be after the start date ({}) and no later than the end date ({})",
                self.start_date(),
                self.end_date()
            ));
        }
        if self.regimes().iter().any(|r| r.effective_from == date) {
            return Some(format!("a regime change already takes effect on {date}"));
        }
        let schedule = self.schedule(calendar);
        let instalment = schedule.dose_for(date)?.nominal_collect_on;
        if instalment == date {
            return None;
        }
        let next = schedule
            .days()
            .iter()
            .find(|d| d.date > date && d.nominal_collect_on == d.date)
            .map(|d| d.date);
        let suggestions: Vec<String> = [Some(instalment).filter(|&p| p > self.start_date()), next]
            .into_iter()
            .flatten()
            .map(|d| d.to_string())
            .collect();
        let advice = if suggestions.is_empty() {
            "no later collection day falls within this prescription".to_string()
        } else {
            format!(
                "choose a collection day (e.g. {})",
                suggestions.join(" or ")
            )
        };
        Some(format!(
            "{date} falls inside the instalment collected on {instalment}; {advice}"
        ))
    }
}
