//! Closing the day: every person whose prescription covers the day and who had no dose in hand
//! is reported as missed, then the day itself is reported closed (API.md, `POST
//! /api/close-day`). Runs by itself at each trading day's own close (its opening hours, in the
//! pharmacy's zone; a close after midnight belongs to the day that opened) and, at start-up,
//! for every day since enrolment the client was down for; on request for any past day, and for
//! a day before its own close only when the pharmacist says so ("close early"): closing today
//! reports everyone not yet supplied as missed and refuses any later supply. Never a future day.
//!
//! Closing is serialised (one at a time) and each day is closed once: the store remembers it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, SubsecRound, TimeZone, Utc};
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
    /// Beyond this difference from the service's clock, no day is closed by itself.
    max_clock_skew: Duration,
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
    pub(crate) fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        link: Arc<LinkStatus>,
        max_clock_skew: Duration,
    ) -> Closer {
        Closer {
            store,
            clock,
            link,
            max_clock_skew,
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
        let zone = counter::zone(Some(&pharmacy));
        let today = now.with_timezone(&zone).date_naive();
        if date > today {
            return Ok(Err(CloseRefused::Future { today }));
        }
        let calendar = counter::calendar(&pharmacy);
        if !calendar.is_open(date) {
            return Ok(Ok(Closed::PharmacyClosed));
        }
        // Early: before the day's own close (which may fall after midnight).
        let closes = calendar.closes_at(date, &zone);
        let early = closes.map_or(date == today, |at| now < at);
        let closes_at = closes.map(|at| at.with_timezone(&zone).time());
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

    /// Closes every day that is due: each trading day from enrolment whose own close (its
    /// opening hours, in the pharmacy's zone, after midnight for a late close) has passed and
    /// that is not closed yet — today's once its close has passed, and any the client was down
    /// or off for.
    pub(crate) async fn close_due_days(&self) -> Result<(), Error> {
        // A PC clock a day ahead would close today at 10:00 with false missed doses; one behind
        // would leave yesterday open. Nothing closes by itself until the clock is right.
        if let Some(problem) = self.link.clock_problem(self.max_clock_skew) {
            tracing::warn!(
                local = %problem.local,
                service = %problem.service,
                "this PC's clock is wrong: no day is closed until it is put right"
            );
            return Ok(());
        }
        let meta = self.store.meta().await?;
        let (Some(pharmacy), Some(enrolled_on)) = (meta.pharmacy, meta.enrolled_on) else {
            return Ok(());
        };
        let zone = counter::zone(Some(&pharmacy));
        let closed = self.store.closed_days().await?;
        let calendar = counter::calendar(&pharmacy);
        for date in due_days(enrolled_on, self.clock.now(), &zone, &closed, &calendar) {
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

/// The days to close at `now`: open days from `enrolled_on` whose trading day has closed in
/// `zone` (each at its own close, across DST changes), that are not in `closed`.
fn due_days<Tz: TimeZone>(
    enrolled_on: NaiveDate,
    now: DateTime<Utc>,
    zone: &Tz,
    closed: &BTreeSet<NaiveDate>,
    calendar: &PharmacyCalendar,
) -> Vec<NaiveDate> {
    let today = now.with_timezone(zone).date_naive();
    enrolled_on
        .iter_days()
        .take_while(|d| *d <= today)
        .filter(|d| !closed.contains(d))
        .filter(|d| calendar.closes_at(*d, zone).is_some_and(|at| at <= now))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveTime;
    use chrono_tz::Europe::London;
    use sotto_domain::{DayHours, OpeningHours, Weekday};

    fn d(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).unwrap()
    }

    /// `hh:mm` London time on 2026-`month`-`day`.
    fn at(month: u32, day: u32, hh: u32, mm: u32) -> DateTime<Utc> {
        let local = d(month, day).and_hms_opt(hh, mm, 0).unwrap();
        sotto_domain::local_instant(&London, local)
    }

    fn open_till_six() -> PharmacyCalendar {
        PharmacyCalendar::closed_on(&[])
    }

    /// Open 08:00 to 01:00 the next morning, every day.
    fn late() -> PharmacyCalendar {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        PharmacyCalendar {
            hours: OpeningHours::every_day(DayHours::new(t(8), t(1)).unwrap()),
            closures: BTreeSet::new(),
        }
    }

    #[test]
    fn today_is_due_only_from_its_closing_time() {
        let none = BTreeSet::new();
        let due = |now| due_days(d(11, 23), now, &London, &none, &open_till_six());
        assert_eq!(due(at(11, 23, 17, 59)), vec![]);
        assert_eq!(due(at(11, 23, 18, 0)), vec![d(11, 23)]);
    }

    #[test]
    fn days_missed_while_down_are_due_except_closed_ones_and_those_done() {
        // Sunday 29 November is a closed weekday.
        let calendar = PharmacyCalendar::closed_on(&[Weekday::Sun]);
        let closed = BTreeSet::from([d(11, 27)]);
        assert_eq!(
            due_days(d(11, 26), at(11, 30, 9, 0), &London, &closed, &calendar),
            vec![d(11, 26), d(11, 28)]
        );
    }

    #[test]
    fn a_close_after_midnight_closes_the_day_that_opened_the_next_morning() {
        let none = BTreeSet::new();
        let due = |now| due_days(d(11, 23), now, &London, &none, &late());
        assert_eq!(due(at(11, 23, 23, 30)), vec![], "Monday is still trading");
        assert_eq!(due(at(11, 24, 0, 59)), vec![], "still Monday's trading day");
        assert_eq!(due(at(11, 24, 1, 0)), vec![d(11, 23)]);
        assert_eq!(
            due(at(11, 24, 18, 0)),
            vec![d(11, 23)],
            "Tuesday runs till 01:00"
        );
    }

    #[test]
    fn across_the_clock_changes_each_day_is_due_at_its_own_local_close() {
        let none = BTreeSet::new();
        let calendar = open_till_six();
        // Spring: Sunday 29 March closes at 18:00 BST, 17:00 UTC.
        let sunday = d(3, 29);
        let spring = |utc_hour| {
            let now = Utc.with_ymd_and_hms(2026, 3, 29, utc_hour, 0, 0).unwrap();
            due_days(sunday, now, &London, &none, &calendar)
        };
        assert_eq!(spring(16), vec![]);
        assert_eq!(spring(17), vec![sunday]);
        // Autumn: Sunday 25 October closes at 18:00 GMT, 18:00 UTC.
        let sunday = d(10, 25);
        let autumn = |utc_hour| {
            let now = Utc.with_ymd_and_hms(2026, 10, 25, utc_hour, 0, 0).unwrap();
            due_days(sunday, now, &London, &none, &calendar)
        };
        assert_eq!(autumn(17), vec![]);
        assert_eq!(autumn(18), vec![sunday]);
    }

    #[test]
    fn a_half_day_saturday_is_closed_at_its_own_early_close() {
        let t = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap();
        let calendar = PharmacyCalendar {
            hours: OpeningHours::every_day(DayHours::new(t(9), t(18)).unwrap())
                .with(Weekday::Sat, DayHours::new(t(9), t(13))),
            closures: BTreeSet::new(),
        };
        let none = BTreeSet::new();
        let due = |now| due_days(d(11, 28), now, &London, &none, &calendar);
        assert_eq!(due(at(11, 28, 12, 59)), vec![]);
        assert_eq!(due(at(11, 28, 13, 0)), vec![d(11, 28)]);
    }
}
