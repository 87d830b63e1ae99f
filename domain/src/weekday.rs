//! Days of the week as they appear in the API (`"mon"`..`"sun"`), Monday first.
//!
//! We keep our own enum rather than `chrono::Weekday` so that it serializes with the API's
//! lowercase names, sorts Monday-first and carries an OpenAPI schema.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A day of the week; serde names `"mon"`..`"sun"`, ordered Monday first like a UK pharmacy week.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    /// Every weekday, Monday first, for iterating over a weekly pattern.
    pub const ALL: [Weekday; 7] = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ];

    /// The weekday a calendar date falls on.
    pub fn of(date: NaiveDate) -> Weekday {
        Self::from_chrono(date.weekday())
    }

    /// The API name, e.g. `"mon"`; used in messages so they match what the client sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Mon => "mon",
            Weekday::Tue => "tue",
            Weekday::Wed => "wed",
            Weekday::Thu => "thu",
            Weekday::Fri => "fri",
            Weekday::Sat => "sat",
            Weekday::Sun => "sun",
        }
    }

    /// Converts from chrono, which dates use.
    pub fn from_chrono(day: chrono::Weekday) -> Self {
        Self::ALL[day.num_days_from_monday() as usize]
    }

    /// Converts to chrono, for date arithmetic.
    pub fn to_chrono(self) -> chrono::Weekday {
        match self {
            Weekday::Mon => chrono::Weekday::Mon,
            Weekday::Tue => chrono::Weekday::Tue,
            Weekday::Wed => chrono::Weekday::Wed,
            Weekday::Thu => chrono::Weekday::Thu,
            Weekday::Fri => chrono::Weekday::Fri,
            Weekday::Sat => chrono::Weekday::Sat,
            Weekday::Sun => chrono::Weekday::Sun,
        }
    }

    /// 0 for Monday .. 6 for Sunday.
    pub(crate) fn index(self) -> u8 {
        self as u8
    }

    /// How many days after `start` this weekday comes (0..=6), wrapping Sunday to Monday.
    pub(crate) fn days_after(self, start: Weekday) -> u8 {
        (self.index() + 7 - start.index()) % 7
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Weekday {
    type Err = String;

    /// Accepts the API names only, so query strings and config read like the JSON.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|day| day.as_str() == s)
            .ok_or_else(|| {
                format!("unknown weekday {s:?}; expected one of mon, tue, wed, thu, fri, sat, sun")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_knows_its_weekday() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(Weekday::of(monday), Weekday::Mon);
        assert_eq!(Weekday::of(monday + chrono::Days::new(6)), Weekday::Sun);
    }

    #[test]
    fn weekday_arithmetic_wraps_sunday_to_monday() {
        assert_eq!(Weekday::Mon.days_after(Weekday::Sat), 2);
        assert_eq!(Weekday::Sat.days_after(Weekday::Sat), 0);
    }

    #[test]
    fn weekday_parses_api_names_and_rejects_others() {
        assert_eq!("thu".parse::<Weekday>(), Ok(Weekday::Thu));
        let err = "Thursday".parse::<Weekday>().unwrap_err();
        assert!(err.contains("mon, tue"), "{err}");
    }

    #[test]
    fn chrono_conversion_round_trips() {
        for day in Weekday::ALL {
            assert_eq!(Weekday::from_chrono(day.to_chrono()), day);
        }
    }
}
