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

    /// Why the pharmacy is closed on `date`, in words ("a recorded closure", "closed on sun"),
    /// or `None` when it is open.
    pub fn closed_because(&self, date: NaiveDate) -> Option<String> {
        if self.closures.contains(&date) {
            Some("a recorded closure".into())
        } else if !self.is_open(date) {
            Some(format!("closed on {}", Weekday::of(date)))
        } else {
            None
        }
    }

    /// The open days nearest `date`: the last one before it and the first one after it, each
    /// within a year (a pharmacy with no open day in a year has none to offer).
    pub fn nearest_open_days(&self, date: NaiveDate) -> (Option<NaiveDate>, Option<NaiveDate>) {
        const SEARCH_DAYS: usize = 366;
        let before = std::iter::successors(date.pred_opt(), |d| d.pred_opt())
            .take(SEARCH_DAYS)
            .find(|&d| self.is_open(d));
        let after = std::iter::successors(date.succ_opt(), |d| d.succ_opt())
            .take(SEARCH_DAYS)
            .find(|&d| self.is_open(d));
        (before, after)
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

    #[test]
    fn the_nearest_open_days_skip_a_closed_sunday_and_a_bank_holiday() {
        let monday = NaiveDate::from_ymd_opt(2026, 12, 28).unwrap();
        let calendar = PharmacyCalendar {
            closed_weekdays: vec![Weekday::Sun],
            closures: BTreeSet::from([monday]),
        };
        let sunday = monday - chrono::Days::new(1);

        assert_eq!(
            calendar.nearest_open_days(sunday),
            (
                Some(sunday - chrono::Days::new(1)),
                Some(monday + chrono::Days::new(1))
            )
        );
        assert_eq!(
            calendar.closed_because(monday).as_deref(),
            Some("a recorded closure")
        );
        assert_eq!(
            calendar.closed_because(sunday).as_deref(),
            Some("closed on sun")
        );
        assert_eq!(calendar.closed_because(monday + chrono::Days::new(1)), None);
    }
}
