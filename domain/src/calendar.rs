//! When a pharmacy is open, so instalments due on closed days can be moved (clause 1).

use std::collections::BTreeSet;

use chrono::NaiveDate;

use crate::weekday::Weekday;

/// Where and when a pharmacy is open: regular closed weekdays plus one-off closure dates
/// (bank holidays), which the admin records as they come.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PharmacyCalendar {
    /// Weekdays the pharmacy never opens, e.g. Sunday; no collection may fall on them.
    pub closed_weekdays: Vec<Weekday>,
    /// One-off closures; instalments due then move to the prior open day under clause 1.
    pub closures: BTreeSet<NaiveDate>,
}

impl PharmacyCalendar {
    /// Whether the pharmacy can hand anything over on `date`.
    pub fn is_open(&self, date: NaiveDate) -> bool {
        !self.closed_weekdays.contains(&Weekday::of(date)) && !self.closures.contains(&date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_weekdays_and_closure_dates_are_not_open() {
        let monday = NaiveDate::from_ymd_opt(2026, 12, 28).unwrap();
        let calendar = PharmacyCalendar {
            closed_weekdays: vec![Weekday::Sun],
            closures: BTreeSet::from([monday]),
        };

        assert!(!calendar.is_open(monday));
        assert!(!calendar.is_open(monday - chrono::Days::new(1)));
        assert!(calendar.is_open(monday - chrono::Days::new(2)));
    }
}
