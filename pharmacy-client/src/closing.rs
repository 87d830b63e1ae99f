//! Closing the day: every person whose prescription covers the day and who had no dose in hand
//! is reported as missed, then the day itself is reported closed (API.md, `POST
//! /api/close-day`). Runs by itself at the pharmacy's closing time and, at start-up, for every
//! day since enrolment the client was down for; on request for any past day, and for today
//! before its closing time only when the pharmacist says so ("close early"): closing today
//! reports everyone not yet supplied as missed and refuses any later supply. Never a future day.
//!
//! Closing is serialised (one at a time) and each day is closed once: the store remembers it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, SubsecRound};
use sotto_domain::PharmacyCalendar;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::counter;
use crate::error::Error;
use crate::mqtt::LinkStatus;
use crate::store::{DayClose, Store};

/// Closes days; shared by the HTTP API and the background task.
pub(crate) struct Closer {
    store: Store,
    clock: Arc<dyn Clock>,
    link: Arc<LinkStatus>,
    /// One close at a time: the background task and a request must not race on a day.
    lock: Mutex<()>,
}

/// What closing a day did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// The pharmacy was closed that day: nothing to report.
    PharmacyClosed,
    Day(DayClose),
}

/// Why a day can't be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseRefused {
    /// The day hasn't come yet (`today` is the pharmacy's date).
    Future { today: NaiveDate },
    /// Today, before its closing time (`None`: the closing time is not `HH:MM`), without the
    /// pharmacist's explicit "close early".
    BeforeClosingTime { closes_at: Option<NaiveTime> },
    /// No snapshot yet: we don't know who is due what.
    NoData,
}

/// Who asks for a day to be closed: kept in the local record of the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClosedBy {
    /// At closing time, or catching up after the client was down.
    Automatic,
    /// The counter page's "close the day" form.
    Page,
    /// `POST /api/close-day`.
    Api,
}

impl ClosedBy {
    fn as_str(self) -> &'static str {
        match self {
            ClosedBy::Automatic => "automatic",
            ClosedBy::Page => "counter_page",
            ClosedBy::Api => "api",
        }
    }
}

/// A request to close a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CloseRequest {
    pub date: NaiveDate,
    pub by: ClosedBy,
    /// The pharmacist confirmed closing today before its closing time.
    pub early: bool,
}

impl Closer {
    pub(crate) fn new(store: Store, clock: Arc<dyn Clock>, link: Arc<LinkStatus>) -> Closer {
        Closer {
            store,
            clock,
            link,
            lock: Mutex::new(()),
        }
    }

    /// Closes `request.date`: any past day (days before enrolment too, on request); today from
    /// its closing time, or before it only with `early`; never a future day.
    pub(crate) async fn close(
        &self,
        request: CloseRequest,
    ) -> Result<Result<Closed, CloseRefused>, Error> {
        let date = request.date;
        let _one_at_a_time = self.lock.lock().await;
        let meta = self.store.meta().await?;
        let Some(pharmacy) = meta.pharmacy else {
            return Ok(Err(CloseRefused::NoData));
        };
        // Stored to the millisecond: answer with exactly what was stored.
        let now = self.clock.now().trunc_subsecs(3);
        let local = now
            .with_timezone(&counter::zone(Some(&pharmacy)))
            .naive_local();
        let today = local.date();
        if date > today {
            return Ok(Err(CloseRefused::Future { today }));
        }
        if !counter::calendar(&pharmacy).is_open(date) {
            return Ok(Ok(Closed::PharmacyClosed));
        }
        let closes_at = parse_closing_time(&pharmacy.closing_time);
        let early = date == today && closes_at.is_none_or(|t| local.time() < t);
        // A day closed before answers as such (nothing is reported twice), early or not.
        if early && !request.early && !self.store.closed_days().await?.contains(&date) {
            return Ok(Err(CloseRefused::BeforeClosingTime { closes_at }));
        }
        let closed = self
            .store
            .close_day(date, now, request.by.as_str(), early)
            .await?;
        if !closed.already_closed {
            if early {
                tracing::warn!(%date, by = request.by.as_str(), missed = closed.missed, "day closed early");
            } else {
                tracing::info!(%date, by = request.by.as_str(), missed = closed.missed, "day closed");
            }
            self.link.reports_queued();
        }
        Ok(Ok(Closed::Day(closed)))
    }

    /// Closes every day that is due: each open day from enrolment to yesterday not closed yet
    /// (the client was down, or off, at closing time), and today once closing time has passed.
    pub(crate) async fn close_due_days(&self) -> Result<(), Error> {
        let meta = self.store.meta().await?;
        let (Some(pharmacy), Some(enrolled_on)) = (meta.pharmacy, meta.enrolled_on) else {
            return Ok(());
        };
        let now = self
            .clock
            .now()
            .with_timezone(&counter::zone(Some(&pharmacy)))
            .naive_local();
        let closing_time = parse_closing_time(&pharmacy.closing_time);
        if closing_time.is_none() {
            tracing::warn!(
                closing_time = %pharmacy.closing_time,
                "closing time is not HH:MM; today will be closed tomorrow"
            );
        }
        let closed = self.store.closed_days().await?;
        let calendar = counter::calendar(&pharmacy);
        for date in due_days(enrolled_on, now, closing_time, &closed, &calendar) {
            // A refusal here means the data changed under us (e.g. a new zone): next tick.
            let request = CloseRequest {
                date,
                by: ClosedBy::Automatic,
                early: false,
            };
            if let Err(refused) = self.close(request).await? {
                tracing::warn!(%date, ?refused, "could not close a day");
            }
        }
        Ok(())
    }
}

/// Runs [`Closer::close_due_days`] now and then every `every` until `shutdown`.
pub(crate) async fn run(closer: Arc<Closer>, every: Duration, shutdown: CancellationToken) {
    loop {
        if let Err(error) = closer.close_due_days().await {
            tracing::error!(%error, "could not close the day");
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// `HH:MM` → a time of day.
pub(crate) fn parse_closing_time(text: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(text.trim(), "%H:%M").ok()
}

/// The days to close at local time `now`: open days from `enrolled_on` up to yesterday, and
/// today from `closing_time` on, that are not in `closed`.
fn due_days(
    enrolled_on: NaiveDate,
    now: NaiveDateTime,
    closing_time: Option<NaiveTime>,
    closed: &BTreeSet<NaiveDate>,
    calendar: &PharmacyCalendar,
) -> Vec<NaiveDate> {
    let today = now.date();
    let last = if closing_time.is_some_and(|t| now.time() >= t) {
        Some(today)
    } else {
        today.pred_opt()
    };
    let Some(last) = last else {
        return Vec::new();
    };
    enrolled_on
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| calendar.is_open(*d) && !closed.contains(d))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_domain::Weekday;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    fn at(day: u32, hh: u32, mm: u32) -> NaiveDateTime {
        d(day).and_hms_opt(hh, mm, 0).unwrap()
    }

    fn six() -> Option<NaiveTime> {
        parse_closing_time("18:00")
    }

    #[test]
    fn today_is_due_only_from_closing_time() {
        let open = PharmacyCalendar::default();
        let none = BTreeSet::new();
        assert_eq!(due_days(d(23), at(23, 17, 59), six(), &none, &open), vec![]);
        assert_eq!(
            due_days(d(23), at(23, 18, 0), six(), &none, &open),
            vec![d(23)]
        );
        assert_eq!(due_days(d(23), at(23, 23, 0), None, &none, &open), vec![]);
    }

    #[test]
    fn days_missed_while_down_are_due_except_closed_ones_and_those_done() {
        // Sunday 29 November is a closed weekday.
        let calendar = PharmacyCalendar {
            closed_weekdays: vec![Weekday::Sun],
            ..Default::default()
        };
        let closed = BTreeSet::from([d(27)]);
        assert_eq!(
            due_days(d(26), at(30, 9, 0), six(), &closed, &calendar),
            vec![d(26), d(28)]
        );
    }

    #[test]
    fn closing_times_parse() {
        assert_eq!(
            parse_closing_time("18:30"),
            NaiveTime::from_hms_opt(18, 30, 0)
        );
        assert_eq!(parse_closing_time("6pm"), None);
    }
}
