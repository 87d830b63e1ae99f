//! Opening hours per weekday: when each trading day opens and closes, local time.
//!
//! A close at or before the opening time is after midnight, on the next calendar day (a pharmacy
//! open 08:00–01:00): that hour after midnight belongs to the trading day that opened, so the
//! day is closed (missed doses counted) at 01:00 the next morning. Any day with opening hours is
//! an open day — a half-day Saturday (09:00–13:00) is open: doses are never given early for it
//! (DOMAIN.md: a coroner found treating a half-day as closed contributed to a death).

use std::collections::BTreeMap;

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::weekday::Weekday;

/// One trading day: open from `open` to `close`, local time; a `close` at or before `open` is
/// on the next calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayHours {
    open: NaiveTime,
    close: NaiveTime,
}

impl DayHours {
    /// `None` when `open == close` (a day of no length, or of 24 hours: ambiguous).
    pub fn new(open: NaiveTime, close: NaiveTime) -> Option<DayHours> {
        (open != close).then_some(DayHours { open, close })
    }

    pub fn open(&self) -> NaiveTime {
        self.open
    }

    pub fn close(&self) -> NaiveTime {
        self.close
    }

    /// Whether the close falls on the calendar day after the opening.
    pub fn closes_after_midnight(&self) -> bool {
        self.close < self.open
    }

    /// When the trading day that opens on `date` closes, local time.
    pub fn closes_on(&self, date: NaiveDate) -> NaiveDateTime {
        let day = if self.closes_after_midnight() {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        day.and_time(self.close)
    }
}

/// The hours of each weekday; a weekday without hours is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpeningHours {
    days: [Option<DayHours>; 7],
}

/// The hours of one day as the API and the protocol write them: `"HH:MM"` local times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DayHoursText {
    /// Opening time, `HH:MM`, 24-hour.
    #[schema(example = "09:00")]
    pub open: String,
    /// Closing time, `HH:MM`; at or before `open` means after midnight (e.g. `01:00`).
    #[schema(example = "18:00")]
    pub close: String,
}

/// Opening hours as the API takes them: a weekday left out is closed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHoursText {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mon: Option<DayHoursText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tue: Option<DayHoursText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wed: Option<DayHoursText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thu: Option<DayHoursText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fri: Option<DayHoursText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sat: Option<DayHoursText>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sun: Option<DayHoursText>,
}

impl OpeningHoursText {
    /// The hours given for `day`, if any.
    pub fn day(&self, day: Weekday) -> Option<&DayHoursText> {
        match day {
            Weekday::Mon => self.mon.as_ref(),
            Weekday::Tue => self.tue.as_ref(),
            Weekday::Wed => self.wed.as_ref(),
            Weekday::Thu => self.thu.as_ref(),
            Weekday::Fri => self.fri.as_ref(),
            Weekday::Sat => self.sat.as_ref(),
            Weekday::Sun => self.sun.as_ref(),
        }
    }

    /// Where `day`'s hours go.
    pub fn day_mut(&mut self, day: Weekday) -> &mut Option<DayHoursText> {
        match day {
            Weekday::Mon => &mut self.mon,
            Weekday::Tue => &mut self.tue,
            Weekday::Wed => &mut self.wed,
            Weekday::Thu => &mut self.thu,
            Weekday::Fri => &mut self.fri,
            Weekday::Sat => &mut self.sat,
            Weekday::Sun => &mut self.sun,
        }
    }
}

/// `HH:MM` → a time of day.
pub fn parse_hh_mm(text: &str) -> Option<NaiveTime> {
    let text = text.trim();
    (text.len() == 5)
        .then(|| NaiveTime::parse_from_str(text, "%H:%M").ok())
        .flatten()
}

fn hh_mm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

/// Opening time given to pharmacies enrolled with only a closing time (before opening hours
/// existed), when their closing time is later than it.
const LEGACY_OPEN: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => panic!("09:00 is a time"),
};

impl OpeningHours {
    /// Every weekday closed; add days with [`OpeningHours::with`].
    pub fn closed() -> OpeningHours {
        OpeningHours { days: [None; 7] }
    }

    /// The same hours every day of the week.
    pub fn every_day(hours: DayHours) -> OpeningHours {
        OpeningHours {
            days: [Some(hours); 7],
        }
    }

    /// A copy with `day`'s hours set (`None`: closed that weekday).
    pub fn with(mut self, day: Weekday, hours: Option<DayHours>) -> OpeningHours {
        self.days[day.index() as usize] = hours;
        self
    }

    /// The hours of a pharmacy described the old way, by the weekdays it is closed and one
    /// closing time: every other weekday 09:00 to the closing time (from midnight if it closes
    /// by 09:00; until 23:59 if its closing time was 00:00).
    pub fn from_legacy(closed_weekdays: &[Weekday], closing_time: NaiveTime) -> OpeningHours {
        let open = if closing_time > LEGACY_OPEN {
            LEGACY_OPEN
        } else {
            NaiveTime::MIN
        };
        let close = if closing_time == NaiveTime::MIN {
            NaiveTime::from_hms_opt(23, 59, 0).expect("a time")
        } else {
            closing_time
        };
        let hours = DayHours::new(open, close).expect("open and close differ");
        Weekday::ALL
            .into_iter()
            .fold(OpeningHours::closed(), |all, day| {
                let open = !closed_weekdays.contains(&day);
                all.with(day, open.then_some(hours))
            })
    }

    /// The hours of `day`, if the pharmacy opens that weekday.
    pub fn on(&self, day: Weekday) -> Option<DayHours> {
        self.days[day.index() as usize]
    }

    /// The weekdays without hours.
    pub fn closed_weekdays(&self) -> Vec<Weekday> {
        Weekday::ALL
            .into_iter()
            .filter(|d| self.on(*d).is_none())
            .collect()
    }

    /// The closing time most days share (the latest of the most common), for the older
    /// single `closing_time` field; `None` if no day is open.
    pub fn usual_close(&self) -> Option<NaiveTime> {
        let mut count: BTreeMap<NaiveTime, usize> = BTreeMap::new();
        for hours in self.days.iter().flatten() {
            *count.entry(hours.close).or_default() += 1;
        }
        count
            .into_iter()
            .max_by_key(|&(time, n)| (n, time))
            .map(|(time, _)| time)
    }

    /// Validates hours as the API sent them, naming each field at fault (e.g.
    /// `opening_hours.sat.close`), every problem at once.
    pub fn parse(text: &OpeningHoursText, field: &str) -> Result<OpeningHours, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut hours = OpeningHours::closed();
        for day in Weekday::ALL {
            let Some(given) = text.day(day) else {
                continue;
            };
            let at = |part: &str| format!("{field}.{day}.{part}");
            let bad = "must be a 24-hour time HH:MM, like 09:00";
            let open = parse_hh_mm(&given.open).or_else(|| {
                errors.push(FieldError::new(at("open"), bad));
                None
            });
            let close = parse_hh_mm(&given.close).or_else(|| {
                errors.push(FieldError::new(at("close"), bad));
                None
            });
            let (Some(open), Some(close)) = (open, close) else {
                continue;
            };
            match DayHours::new(open, close) {
                Some(h) => hours = hours.with(day, Some(h)),
                None => errors.push(FieldError::new(
                    at("close"),
                    "must differ from the opening time (open all day: 00:00 to 23:59; a close \
                     after midnight, e.g. 08:00 to 01:00, belongs to the day that opened)",
                )),
            }
        }
        if errors.is_empty() {
            errors.extend(hours.overlaps(field));
        }
        if errors.is_empty() && hours.closed_weekdays().len() == 7 {
            errors.push(FieldError::new(
                field,
                "give the hours of at least one weekday (a weekday left out is closed)",
            ));
        }
        if errors.is_empty() {
            Ok(hours)
        } else {
            Err(errors)
        }
    }

    /// A close after midnight that runs past the next day's opening: two trading days at once.
    fn overlaps(&self, field: &str) -> Vec<FieldError> {
        Weekday::ALL
            .into_iter()
            .filter_map(|day| {
                let hours = self.on(day).filter(DayHours::closes_after_midnight)?;
                let next = Weekday::ALL[(day.index() as usize + 1) % 7];
                let next_open = self.on(next)?.open;
                (hours.close > next_open).then(|| {
                    FieldError::new(
                        format!("{field}.{day}.close"),
                        format!(
                            "{day} closes at {} the next morning, after {next} opens at {}; \
                             close by {} or open {next} later",
                            hh_mm(hours.close),
                            hh_mm(next_open),
                            hh_mm(next_open)
                        ),
                    )
                })
            })
            .collect()
    }

    /// The hours as the API and the protocol write them.
    pub fn to_text(&self) -> OpeningHoursText {
        let mut text = OpeningHoursText::default();
        for day in Weekday::ALL {
            *text.day_mut(day) = self.on(day).map(|h| DayHoursText {
                open: hh_mm(h.open),
                close: hh_mm(h.close),
            });
        }
        text
    }
}

impl Serialize for OpeningHours {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_text().serialize(s)
    }
}

impl<'de> Deserialize<'de> for OpeningHours {
    /// Strict: hours the API would refuse do not decode either.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = OpeningHoursText::deserialize(d)?;
        OpeningHours::parse(&text, "opening_hours").map_err(|errors| {
            let first = &errors[0];
            serde::de::Error::custom(format!("{}: {}", first.field, first.message))
        })
    }
}

/// The instant a local date-time happens in `tz`, across DST changes: a time skipped by the
/// spring change is taken as the first instant after the gap; a time the autumn change repeats
/// is taken at its second occurrence (closing later, never while the clock still reads open).
pub fn local_instant<Tz: TimeZone>(tz: &Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    // DST gaps last an hour or two; a day's minutes bound the search whatever the zone.
    for _ in 0..=24 * 60 {
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(_, later) => return later.with_timezone(&Utc),
            LocalResult::None => probe += chrono::Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&local)
}
