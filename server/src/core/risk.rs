//! Whose risk: the missed-dose rate in the weeks before and after each regime change and each
//! hold, so a service can see when tightening supervision pushed missed doses up (DOMAIN.md).
//! The computation is a pure function ([`rates`]); `console/risk.rs` draws it.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};

use crate::core::AppState;
use crate::core::db::{self, service_users::ServiceUser};
use crate::error::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventKind {
    RegimeChange,
    Hold,
}

impl EventKind {
    /// The event counted: "1 hold placed", "2 holds placed".
    pub fn words(self) -> (&'static str, &'static str) {
        match self {
            EventKind::RegimeChange => ("regime change", "regime changes"),
            EventKind::Hold => ("hold placed", "holds placed"),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            EventKind::RegimeChange => "regime change",
            EventKind::Hold => "hold placed",
        }
    }
}

/// A change whose effect on attendance is measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub date: NaiveDate,
    pub kind: EventKind,
    /// Whose event it is (the reference), for the service view.
    pub who: String,
}

/// Doses due and missed in one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub missed: u32,
    pub due: u32,
}

impl Window {
    /// The missed-dose rate in percent; `None` when nothing was due.
    pub fn percent(self) -> Option<f64> {
        (self.due > 0).then(|| f64::from(self.missed) * 100.0 / f64::from(self.due))
    }

    /// "1 missed of 24 due (4.2%)".
    pub fn describe(self) -> String {
        let pct = self
            .percent()
            .map(|p| format!("{p:.1}%"))
            .unwrap_or_else(|| "no doses due".into());
        format!("{} missed of {} due ({pct})", self.missed, self.due)
    }

    fn add(self, o: Window) -> Window {
        Window {
            missed: self.missed + o.missed,
            due: self.due + o.due,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRate {
    pub event: Event,
    pub before: Window,
    pub after: Window,
}

/// For each event on date D: doses due and missed in the `weeks` weeks before D (D excluded)
/// and the `weeks` weeks from D on. Only days up to `up_to` count: later days have not happened.
pub fn rates(
    events: &[Event],
    due: &BTreeSet<NaiveDate>,
    missed: &BTreeSet<NaiveDate>,
    weeks: u32,
    up_to: NaiveDate,
) -> Vec<EventRate> {
    let span = Duration::weeks(i64::from(weeks));
    let count = |set: &BTreeSet<NaiveDate>, from: NaiveDate, to_excl: NaiveDate| {
        let to_excl = to_excl.min(up_to + Duration::days(1));
        if from >= to_excl {
            return 0;
        }
        set.range(from..to_excl).count() as u32
    };
    events
        .iter()
        .map(|e| {
            let window = |from, to| Window {
                missed: count(missed, from, to),
                due: count(due, from, to),
            };
            EventRate {
                event: e.clone(),
                before: window(e.date - span, e.date),
                after: window(e.date, e.date + span),
            }
        })
        .collect()
}

/// Sums of the before and after windows of every event of one kind.
pub fn aggregate(rates: &[EventRate], kind: EventKind) -> (usize, Window, Window) {
    rates
        .iter()
        .filter(|r| r.event.kind == kind)
        .fold((0, Window::default(), Window::default()), |(n, b, a), r| {
            (n + 1, b.add(r.before), a.add(r.after))
        })
}

/// A person's events, due days and missed days.
pub async fn person_data(
    st: &AppState,
    su: &ServiceUser,
) -> Result<(Vec<Event>, BTreeSet<NaiveDate>, BTreeSet<NaiveDate>)> {
    let mut conn = st.store.pool().acquire().await?;
    let prescriptions = db::prescriptions::for_service_user(&mut conn, &su.id).await?;
    let calendar = db::pharmacies::calendar_of(&mut conn, &su.pharmacy_id).await?;
    drop(conn);
    let mut due = BTreeSet::new();
    let mut events = Vec::new();
    for p in &prescriptions {
        for d in p.prescription.schedule(&calendar).days() {
            if !d.pharmacy_closed {
                due.insert(d.date);
            }
        }
        // Regime 0 is the prescription's own pattern, not a change.
        for r in p.prescription.regimes().iter().skip(1) {
            events.push(Event {
                date: r.effective_from,
                kind: EventKind::RegimeChange,
                who: su.reference.clone(),
            });
        }
    }
    for h in db::holds::history(st.store.pool(), &su.id).await? {
        if let Some(date) = h
            .placed_at
            .get(..10)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        {
            events.push(Event {
                date,
                kind: EventKind::Hold,
                who: su.reference.clone(),
            });
        }
    }
    events.sort_by_key(|e| (e.date, e.kind));
    let missed = db::service_users::missed_doses(st.store.pool(), &su.id)
        .await?
        .into_iter()
        .map(|m| m.date)
        .collect();
    Ok((events, due, missed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn days(from: &str, n: i64) -> BTreeSet<NaiveDate> {
        (0..n).map(|i| d(from) + Duration::days(i)).collect()
    }

    fn event(date: &str, kind: EventKind) -> Event {
        Event {
            date: d(date),
            kind,
            who: "SU-1".into(),
        }
    }

    #[test]
    fn counts_due_and_missed_doses_either_side_of_a_change() {
        // Daily doses 1 Jan..=28 Feb 2026; change on 29 Jan; 2 weeks either side.
        let due = days("2026-01-01", 59);
        // Before (15..=28 Jan): 1 missed. After (29 Jan..=11 Feb): 4 missed. Outside: ignored.
        let missed: BTreeSet<_> = [
            "2026-01-02",
            "2026-01-20",
            "2026-01-29",
            "2026-02-01",
            "2026-02-05",
            "2026-02-11",
            "2026-02-12",
        ]
        .iter()
        .map(|s| d(s))
        .collect();
        let r = rates(
            &[event("2026-01-29", EventKind::RegimeChange)],
            &due,
            &missed,
            2,
            d("2026-02-28"),
        );
        assert_eq!(r[0].before, Window { missed: 1, due: 14 });
        assert_eq!(r[0].after, Window { missed: 4, due: 14 });
        assert_eq!(r[0].before.describe(), "1 missed of 14 due (7.1%)");
        assert_eq!(r[0].after.describe(), "4 missed of 14 due (28.6%)");
    }

    #[test]
    fn days_not_yet_lived_and_days_without_doses_do_not_count() {
        // Doses only on weekdays of one week, then the prescription ends.
        let due = days("2026-03-02", 5);
        let missed: BTreeSet<_> = [d("2026-03-04")].into();
        // Up to 4 March: only 2..=4 March have happened.
        let r = rates(
            &[event("2026-03-02", EventKind::Hold)],
            &due,
            &missed,
            4,
            d("2026-03-04"),
        );
        assert_eq!(r[0].before, Window { missed: 0, due: 0 });
        assert_eq!(r[0].after, Window { missed: 1, due: 3 });
        assert_eq!(r[0].before.describe(), "0 missed of 0 due (no doses due)");
    }

    #[test]
    fn the_service_view_sums_windows_per_kind() {
        let due = days("2026-01-01", 90);
        let missed: BTreeSet<_> = [d("2026-01-10"), d("2026-02-10")].into();
        let r = rates(
            &[
                event("2026-01-15", EventKind::RegimeChange),
                event("2026-02-05", EventKind::RegimeChange),
                event("2026-02-05", EventKind::Hold),
            ],
            &due,
            &missed,
            1,
            d("2026-03-31"),
        );
        let (n, before, after) = aggregate(&r, EventKind::RegimeChange);
        assert_eq!(n, 2);
        // 15 Jan: before 8..=14 Jan has the 10th; after none. 5 Feb: before none; after has the 10th.
        assert_eq!(before, Window { missed: 1, due: 14 });
        assert_eq!(after, Window { missed: 1, due: 14 });
        assert_eq!(aggregate(&r, EventKind::Hold).0, 1);
    }
}
