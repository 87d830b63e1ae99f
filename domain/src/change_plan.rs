//! A regime change against what has already happened: no change may rewrite a day gone by, nor
//! a dose already handed over (DOMAIN.md, "The dose ledger": a change may move a dose but never
//! silently drop or double one).
//!
//! [`Prescription::validate_regime_change`] checks a change against the prescription alone;
//! [`Prescription::plan_regime_change`] adds the pharmacy's today and the supplies it reported:
//! - an effective date before today is refused;
//! - a change effective on a day whose dose the person already holds (taken at the counter, or
//!   handed over as take-home) takes effect from the first day after those doses. That day must
//!   itself be a collection day (the rule that a change never starts inside an instalment), so
//!   both rules hold of the date actually stored;
//! - the plan says exactly which days keep what was supplied and which days change.

use chrono::NaiveDate;
use serde::Serialize;

use crate::calendar::PharmacyCalendar;
use crate::error::FieldError;
use crate::prescription::{Prescription, Regime};
use crate::regime_change::RegimeChangeDraft;
use crate::schedule::DoseDay;
use crate::supplies::{SupplyRecord, dose_in_hand};

/// What a change is checked against besides the prescription: the pharmacy's date now and the
/// supplies the pharmacy has reported for the person.
#[derive(Debug, Clone, Copy)]
pub struct ChangeContext<'a> {
    /// The pharmacy's today (its own time zone).
    pub today: NaiveDate,
    /// Every supply (and withheld record) reported for the person.
    pub supplies: &'a [SupplyRecord],
}

/// A regime change ready to store, and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegimeChangePlan {
    /// The new regime; its `effective_from` is the date actually stored.
    pub regime: Regime,
    pub effect: RegimeChangeEffect,
}

/// What a regime change does, day by day: the API's answer and the console's preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RegimeChangeEffect {
    /// The date the clinician asked for.
    pub requested_from: NaiveDate,
    /// The date the change takes effect: `requested_from`, or the first day after the doses
    /// already handed over.
    pub effective_from: NaiveDate,
    /// Days from `requested_from` whose dose the person already holds: they stay as supplied.
    pub kept_as_supplied: Vec<NaiveDate>,
    /// Every day whose dose, or when and how it is handed over, changes.
    pub changed_days: Vec<DayChange>,
    /// The same, in words for the clinician.
    pub notice: String,
}

/// One day of the prescription before and after the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DayChange {
    pub date: NaiveDate,
    pub before: DoseDay,
    pub after: DoseDay,
}

impl Prescription {
    /// Checks a regime change against this prescription, the pharmacy's today and what was
    /// supplied, and returns what to store and what it does. Collects every problem.
    pub fn plan_regime_change(
        &self,
        draft: &RegimeChangeDraft,
        calendar: &PharmacyCalendar,
        ctx: ChangeContext<'_>,
    ) -> Result<RegimeChangePlan, Vec<FieldError>> {
        let requested = draft.effective_from;
        if requested < ctx.today {
            let mut errors = self
                .validate_regime_change(draft, calendar)
                .err()
                .unwrap_or_default();
            errors.retain(|e| e.field != "effective_from");
            let past = self.in_the_past(requested, ctx.today, calendar);
            errors.insert(0, FieldError::new("effective_from", past));
            return Err(errors);
        }
        let asked = self.validate_regime_change(draft, calendar)?;
        let held: Vec<NaiveDate> = self
            .days_from(requested)
            .filter(|&date| dose_in_hand(ctx.supplies, date))
            .collect();
        let Some(last_held) = held.last().copied() else {
            return Ok(self.plan(asked, requested, Vec::new(), calendar));
        };
        let Some(effective) = last_held.succ_opt().filter(|&d| d <= self.end_date()) else {
            return Err(vec![FieldError::new(
                "effective_from",
                format!(
                    "every dose from {requested} to the end of this prescription ({}) has \
                     already been handed over, so there is nothing left to change; make the \
                     change on the next prescription",
                    self.end_date()
                ),
            )]);
        };
        let shifted = RegimeChangeDraft {
            effective_from: effective,
            ..draft.clone()
        };
        let regime = self
            .validate_regime_change(&shifted, calendar)
            .map_err(|errors| explain_shift(errors, requested, last_held, effective))?;
        Ok(self.plan(regime, requested, held, calendar))
    }

    fn plan(
        &self,
        regime: Regime,
        requested: NaiveDate,
        kept_as_supplied: Vec<NaiveDate>,
        calendar: &PharmacyCalendar,
    ) -> RegimeChangePlan {
        let before = self.schedule(calendar);
        let after = self.with_regime(regime.clone()).schedule(calendar);
        let changed_days: Vec<DayChange> = before
            .days()
            .iter()
            .zip(after.days())
            .filter(|(b, a)| b != a)
            .map(|(b, a)| DayChange {
                date: b.date,
                before: *b,
                after: *a,
            })
            .collect();
        let notice = notice(
            requested,
            regime.effective_from,
            &kept_as_supplied,
            &changed_days,
        );
        RegimeChangePlan {
            effect: RegimeChangeEffect {
                requested_from: requested,
                effective_from: regime.effective_from,
                kept_as_supplied,
                changed_days,
                notice,
            },
            regime,
        }
    }

    /// The prescription's dates from `from` (inclusive) to its end.
    fn days_from(&self, from: NaiveDate) -> impl Iterator<Item = NaiveDate> + '_ {
        from.iter_days().take_while(|&d| d <= self.end_date())
    }

    /// Why a date before today cannot start a change, and which day can.
    fn in_the_past(
        &self,
        date: NaiveDate,
        today: NaiveDate,
        calendar: &PharmacyCalendar,
    ) -> String {
        let schedule = self.schedule(calendar);
        let next = schedule
            .days()
            .iter()
            .find(|d| {
                d.date >= today && d.date > self.start_date() && d.nominal_collect_on == d.date
            })
            .map(|d| d.date);
        let advice = match next {
            Some(day) => format!("choose today or a later collection day, e.g. {day}"),
            None => "no collection day from today falls within this prescription; make the \
                     change on a new prescription"
                .to_string(),
        };
        format!(
            "{date} is in the past (the pharmacy's today is {today}): a change cannot alter days \
             already gone; {advice}"
        )
    }
}

/// Re-words a problem with the shifted date so the clinician sees why that date was checked.
fn explain_shift(
    errors: Vec<FieldError>,
    requested: NaiveDate,
    last_held: NaiveDate,
    effective: NaiveDate,
) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| {
            if e.field != "effective_from" {
                return e;
            }
            FieldError::new(
                "effective_from",
                format!(
                    "the doses from {requested} to {last_held} have already been handed over, so \
                     the change would take effect from {effective}, the first day not yet \
                     supplied; a change must also start on a collection day, and here: {}",
                    e.message
                ),
            )
        })
        .collect()
}

/// The effect in words: which days stay as supplied and which change.
fn notice(
    requested: NaiveDate,
    effective: NaiveDate,
    kept: &[NaiveDate],
    changed: &[DayChange],
) -> String {
    let mut out = if kept.is_empty() {
        format!("The change takes effect from {effective}.")
    } else {
        format!(
            "The doses for {} were already handed over and stay as supplied, so the change asked \
             from {requested} takes effect from {effective}, the first day not yet supplied.",
            list(kept.iter().copied())
        )
    };
    if changed.is_empty() {
        out.push_str(" No day's dose or collection changes.");
    } else {
        out.push_str(&format!(
            " {} change: {}.",
            if changed.len() == 1 {
                "1 day's dose or collection".to_string()
            } else {
                format!("{} days' doses or collections", changed.len())
            },
            list(changed.iter().map(|c| c.date))
        ));
    }
    out
}

/// Dates as a short list: "2026-12-01, 2026-12-02 and 2026-12-03".
fn list(dates: impl Iterator<Item = NaiveDate>) -> String {
    let dates: Vec<String> = dates.map(|d| d.to_string()).collect();
    match dates.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}
