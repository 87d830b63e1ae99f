//! When a pharmacy is open, so instalments due on closed days can be moved (clause 1), and when
//! each trading day closes, so the day is closed (missed doses counted) at its own close.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};

use crate::hours::{DayHours, OpeningHours, local_instant};
use crate::weekday::Weekday;

/// Where and when a pharmacy is open: opening hours per weekday plus one-off closure dates
/// (bank holidays), which the admin records as they come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PharmacyCalendar {
    /// Each weekday's opening and closing time; a weekday without hours is closed, and no
    /// collection may fall on it. Any day with hours is open, however short.
    pub hours: OpeningHours,
    /// One-off closures; instalments due then move to the prior open day under clause 1.
    pub closures: BTreeSet<NaiveDate>,
}

impl Default for PharmacyCalendar {
    /// Open every day, 09:00–18:00, with no closures.
    fn default() -> Self {
        PharmacyCalendar::closed_on(&[])
    }
}

impl PharmacyCalendar {
    /// Open 09:00–18:00 except on `closed_weekdays`, with no closures (tests and examples).
    pub fn closed_on(closed_weekdays: &[Weekday]) -> PharmacyCalendar {
        let six = NaiveTime::from_hms_opt(18, 0, 0).expect("a time");
        PharmacyCalendar {
            hours: OpeningHours::from_legacy(closed_weekdays, six),
            closures: BTreeSet::new(),
        }
    }

    /// Weekdays the pharmacy never opens, e.g. Sunday.
    pub fn closed_weekdays(&self) -> Vec<Weekday> {
        self.hours.closed_weekdays()
    }

    /// Whether the pharmacy can hand anything over on `date`: it has hours that weekday and no
    /// closure is recorded.
    pub fn is_open(&self, date: NaiveDate) -> bool {
        self.hours_on(date).is_some()
    }

    /// The trading day's hours on `date`, if the pharmacy opens then.
    pub fn hours_on(&self, date: NaiveDate) -> Option<DayHours> {
        if self.closures.contains(&date) {
            return None;
        }
        self.hours.on(Weekday::of(date))
    }

    /// The instant the trading day that opens on `date` closes, in the pharmacy's zone `tz`
    /// (after midnight for a late close; across DST changes: see [`local_instant`]). `None` on
    /// a day the pharmacy does not open.
    pub fn closes_at<Tz: TimeZone>(&self, date: NaiveDate, tz: &Tz) -> Option<DateTime<Utc>> {
        let hours = self.hours_on(date)?;
        Some(local_instant(tz, hours.closes_on(date)))
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
        let mut calendar = PharmacyCalendar::closed_on(&[Weekday::Sun]);
        calendar.closures.insert(monday);

        assert!(!calendar.is_open(monday));
        assert!(!calendar.is_open(monday - chrono::Days::new(1)));
        assert!(calendar.is_open(monday - chrono::Days::new(2)));
    }

    #[test]
    fn the_nearest_open_days_skip_a_closed_sunday_and_a_bank_holiday() {
        let monday = NaiveDate::from_ymd_opt(2026, 12, 28).unwrap();
        let mut calendar = PharmacyCalendar::closed_on(&[Weekday::Sun]);
        calendar.closures.insert(monday);
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
