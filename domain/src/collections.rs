//! The weekly collection pattern: on which weekdays a person collects, and for how many days.
//!
//! Parsed once into [`WeeklyCollections`], which guarantees every weekday is covered by exactly
//! one collection, so the schedule never has to ask "who supplies Thursday?".

use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::weekday::Weekday;

/// One collection day of the weekly pattern: on `weekday` the person collects `days` days' doses;
/// if `supervised`, the first of those doses is taken at the counter, the rest are take-home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Collection {
    /// The weekday of the collection.
    pub weekday: Weekday,
    /// How many days' doses are collected, 1..=7 (the collection day and the days after it).
    pub days: u8,
    /// Whether the collection day's own dose is taken at the counter.
    pub supervised: bool,
}

impl Collection {
    /// How many days after this collection's weekday `day` falls, if it is within the span.
    fn offset_of(&self, day: Weekday) -> Option<u8> {
        let offset = day.days_after(self.weekday);
        (offset < self.days).then_some(offset)
    }
}

/// A weekly pattern that covers each weekday exactly once, sorted by weekday.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct WeeklyCollections(Vec<Collection>);

impl WeeklyCollections {
    /// Validates a weekly pattern, collecting every problem.
    ///
    /// Rules: non-empty; `days` in 1..=7; one collection per weekday; no collection on a weekday
    /// in `closed_weekdays`; the spans cover all seven weekdays exactly once. Errors name
    /// `field_prefix` (e.g. `"collections"`) or `"{field_prefix}[i].days"` / `"...weekday"`.
    pub fn parse(
        items: Vec<Collection>,
        closed_weekdays: &[Weekday],
        field_prefix: &str,
    ) -> Result<WeeklyCollections, Vec<FieldError>> {
        if items.is_empty() {
            return Err(vec![FieldError::new(
                field_prefix,
                "must list at least one collection day",
            )]);
        }
        let mut errors = Vec::new();
        let mut spans_valid = true;
        for (i, item) in items.iter().enumerate() {
            if !(1..=7).contains(&item.days) {
                spans_valid = false;
                errors.push(FieldError::new(
                    format!("{field_prefix}[{i}].days"),
                    format!("must be between 1 and 7, not {}", item.days),
                ));
            }
            if items[..i]
                .iter()
                .any(|earlier| earlier.weekday == item.weekday)
            {
                spans_valid = false;
                errors.push(FieldError::new(
                    format!("{field_prefix}[{i}].weekday"),
                    format!("{} has more than one collection", item.weekday),
                ));
            }
            if closed_weekdays.contains(&item.weekday) {
                errors.push(FieldError::new(
                    format!("{field_prefix}[{i}].weekday"),
                    format!("the pharmacy is closed on {}", item.weekday),
                ));
            }
        }
        let mut sorted = items;
        sorted.sort_by_key(|c| c.weekday);
        // Coverage only makes sense once each span is well formed; otherwise it would repeat
        // the problems reported above in a more confusing way.
        if spans_valid {
            errors.extend(coverage_errors(&sorted, field_prefix));
        }
        if errors.is_empty() {
            Ok(WeeklyCollections(sorted))
        } else {
            Err(errors)
        }
    }

    /// The collections, sorted by weekday.
    pub fn as_slice(&self) -> &[Collection] {
        &self.0
    }

    /// The collection whose span covers `day`, and how many days after its collection weekday
    /// `day` falls (0 = the collection day itself).
    pub fn covering(&self, day: Weekday) -> (Collection, u8) {
        // Validation guarantees exactly one span covers `day`; taking the nearest preceding
        // collection keeps this total (and equal to that span) without a panic path.
        self.0
            .iter()
            .map(|c| (*c, day.days_after(c.weekday)))
            .min_by_key(|&(_, offset)| offset)
            .expect("WeeklyCollections is never empty")
    }
}

/// Gaps and overlaps in a pattern whose spans are individually valid.
fn coverage_errors(sorted: &[Collection], field: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut uncovered = Vec::new();
    for day in Weekday::ALL {
        let covering: Vec<&str> = sorted
            .iter()
            .filter(|c| c.offset_of(day).is_some())
            .map(|c| c.weekday.as_str())
            .collect();
        match covering.as_slice() {
            [] => uncovered.push(day.as_str()),
            [_] => {}
            [first, second] => errors.push(FieldError::new(
                field,
                format!("{day} is covered by both the {first} and {second} collections"),
            )),
            [rest @ .., last] => errors.push(FieldError::new(
                field,
                format!(
                    "{day} is covered by the {} and {last} collections",
                    rest.join(", ")
                ),
            )),
        }
    }
    if !uncovered.is_empty() {
        errors.insert(
            0,
            FieldError::new(
                field,
                format!("no collection covers {}", uncovered.join(", ")),
            ),
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    fn c(weekday: Weekday, days: u8) -> Collection {
        Collection {
            weekday,
            days,
            supervised: true,
        }
    }

    #[test]
    fn a_saturday_covering_sunday_is_found_for_sunday() {
        let week = WeeklyCollections::parse(
            vec![
                c(Sat, 2),
                c(Mon, 1),
                c(Tue, 1),
                c(Wed, 1),
                c(Thu, 1),
                c(Fri, 1),
            ],
            &[Sun],
            "collections",
        )
        .unwrap();

        assert_eq!(week.as_slice()[0].weekday, Mon);
        assert_eq!(week.covering(Sun), (c(Sat, 2), 1));
        assert_eq!(week.covering(Sat), (c(Sat, 2), 0));
    }

    #[test]
    fn a_span_wrapping_past_sunday_covers_monday() {
        let week = WeeklyCollections::parse(vec![c(Thu, 7)], &[], "collections").unwrap();
        assert_eq!(week.covering(Wed), (c(Thu, 7), 6));
    }

    #[test]
    fn three_way_overlap_names_every_collection() {
        let errors =
            WeeklyCollections::parse(vec![c(Mon, 7), c(Tue, 6), c(Wed, 5)], &[], "collections")
                .unwrap_err();
        assert!(
            errors
                .iter()
                .any(|e| e.message == "wed is covered by the mon, tue and wed collections")
        );
    }

    #[test]
    fn an_empty_pattern_is_rejected() {
        let errors = WeeklyCollections::parse(vec![], &[], "collections").unwrap_err();
        assert_eq!(
            errors,
            vec![FieldError::new(
                "collections",
                "must list at least one collection day"
            )]
        );
    }
}
