//! Counter logic: the discreet code for one person today, what to hand over, and whether our
//! data is fresh enough to show it with confidence. Pure (the caller passes the clock), and
//! built on the shared domain rules so the counter and the server agree.

use std::time::Duration;

use chrono::Days;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sotto_domain::{
    Assessment, DayAccount, DayPlan, DoseDay, Due, HoldKind, LOOKBACK_DAYS, Ledger, LedgerInput,
    NoDose, PharmacyCalendar, PrescribedSchedule, SHOWN_DAYS, Schedule, StatusCode, SupplyRecord,
    assess,
};
use sotto_protocol::{PersonState, PharmacyInfo, PrescriptionState};

/// Used until the first snapshot tells us the pharmacy's zone (Sotto starts in England).
const DEFAULT_ZONE: Tz = chrono_tz::Europe::London;

/// What the counter shows for one person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonStatus {
    pub code: StatusCode,
    /// What to hand over: only with code A (with any other code nothing is to be supplied now).
    pub due: Option<DueView>,
    /// The next day something can be collected after today, if the data shows one.
    pub next_collection: Option<NaiveDate>,
    /// When today's instalment was handed over here (code B).
    pub supplied_at: Option<DateTime<Utc>>,
    /// When an instalment was last withheld here today, if it was (the person may come back).
    pub withheld_at: Option<DateTime<Utc>>,
    /// Consecutive days without a dose up to the last settled day, since the last review.
    pub days_without_dose: u32,
    /// "No dose in hand since Fri 27 Nov (3 days)", when there is such a run.
    pub no_dose_since: Option<String>,
    /// The dose ledger for today and the six days before: dose in hand, or none and why.
    pub ledger: Vec<DayAccount>,
}

/// What this counter knows beyond the person's state: what it handed over or withheld, the
/// last day it closed, and the pharmacy's calendar. With the person's prescriptions these are
/// the dose ledger's inputs; the server computes the same ledger from the same records.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalRecords {
    pub supplies: Vec<RecordedSupply>,
    /// The last day this counter closed (its missed doses reported).
    pub last_closed: Option<NaiveDate>,
    /// The first day this counter accounts for (its enrolment, or an earlier day closed on
    /// request): it knows nothing handed over before.
    pub enrolled_on: Option<NaiveDate>,
    pub calendar: PharmacyCalendar,
}

/// A supply record with the time it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedSupply {
    pub record: SupplyRecord,
    pub at: DateTime<Utc>,
}

impl LocalRecords {
    fn records(&self) -> Vec<SupplyRecord> {
        self.supplies.iter().map(|s| s.record.clone()).collect()
    }
}

/// Today's hand-over, for display and JSON; the same shape as the server's status API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueView {
    pub collect_on: NaiveDate,
    /// Taken at the counter today, in mg.
    pub supervised_dose_mg: Option<f64>,
    pub take_home_doses: usize,
    pub total_mg: f64,
    /// Every dose handed over today, in date order (a regime change can make them differ).
    pub doses: Vec<DoseDay>,
}

impl DueView {
    /// The doses that go home, with their days.
    pub fn take_home(&self) -> impl Iterator<Item = &DoseDay> {
        self.doses
            .iter()
            .filter(|d| !d.supervised && !d.pharmacy_closed)
    }

    /// What is prepared for this hand-over (Home Office clause 5, "dispense daily doses in
    /// separate containers"): one measure for the dose taken at the counter, and one container
    /// per take-home day, never one container for several days.
    pub fn containers(&self) -> Containers {
        Containers {
            measured_here: usize::from(self.supervised_dose_mg.is_some()),
            take_home: self.take_home().count(),
        }
    }
}

/// The containers one hand-over needs: one per daily dose (see [`DueView::containers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Containers {
    /// The supervised dose, measured out to be taken at the counter (0 or 1).
    pub measured_here: usize,
    /// Separate containers, one per take-home day.
    pub take_home: usize,
}

impl Containers {
    /// Every daily dose prepared, each in its own measure or container.
    pub fn total(&self) -> usize {
        self.measured_here + self.take_home
    }
}

/// The pharmacy's zone, falling back to Europe/London (unknown yet, or a name we can't read).
pub fn zone(pharmacy: Option<&PharmacyInfo>) -> Tz {
    pharmacy
        .and_then(|p| p.timezone.parse::<Tz>().ok())
        .unwrap_or(DEFAULT_ZONE)
}

/// The code and hand-over for `person` on `today` (the pharmacy's local date), from the dose
/// ledger ([`sotto_domain::assess`], the server's function too): an instalment already
/// supplied is never due again; clause 2 makes the rest of a missed instalment due; a dose a
/// late closure moved onto today is still due after today's supply; and at the clause 3 limit
/// of consecutive days without a dose since the last review, E.
pub fn person_status(person: &PersonState, today: NaiveDate, local: &LocalRecords) -> PersonStatus {
    status_from(
        person,
        today,
        &assess_person(person, today, today, local),
        local,
    )
}

/// What the counter shows for `person` on `date`, from `assessment` (made by
/// [`assess_person`] for that date): the lookup page and today's list both read it.
pub fn status_from(
    person: &PersonState,
    date: NaiveDate,
    assessment: &Assessment,
    local: &LocalRecords,
) -> PersonStatus {
    let code = assessment.code;
    let due = match (&assessment.plan, code) {
        (DayPlan::Collect(due), StatusCode::A) => Some(due_view(due)),
        _ => None,
    };
    let last_at = |withheld: bool| {
        local
            .supplies
            .iter()
            .filter(|s| s.record.withheld == withheld && s.record.collect_on == date)
            .map(|s| s.at)
            .max()
    };
    PersonStatus {
        code,
        due,
        next_collection: next_collection(&person.prescriptions, date),
        supplied_at: last_at(false),
        withheld_at: last_at(true),
        days_without_dose: assessment.run,
        no_dose_since: assessment.ledger.no_dose_since(date),
        ledger: assessment.ledger.last_days(date, SHOWN_DAYS),
    }
}

/// The dose ledger's assessment of `person` on `date` from this counter's records, `today`
/// being the pharmacy's local date. A later date is assessed as the counter will see it that
/// day once every day before it is settled (closed here); until then, as prescribed for it.
pub fn assess_person(
    person: &PersonState,
    date: NaiveDate,
    today: NaiveDate,
    local: &LocalRecords,
) -> Assessment {
    let today = assessed_as_of(date, today, local.last_closed);
    let prescriptions = schedules(&person.prescriptions);
    let supplies = local.records();
    // Nothing can be handed over for a day gone by: every day before today is settled.
    let settled_through = [today.pred_opt(), local.last_closed]
        .into_iter()
        .flatten()
        .max();
    let input = LedgerInput {
        prescriptions: &prescriptions,
        supplies: &supplies,
        holds: &[],
        last_review: person.last_review_on,
        calendar: &local.calendar,
        settled_through,
        records_from: records_from(person, local.enrolled_on),
        carried: carried_run(person),
    };
    let holds: Vec<HoldKind> = person.holds.iter().map(|h| h.kind).collect();
    assess(&input, &holds, date, today)
}

/// The day a list for `date` is assessed as of: `date` itself once every day before it is
/// closed here (its supplies final), else `today` (a later date then shows what is
/// prescribed for it).
pub fn assessed_as_of(
    date: NaiveDate,
    today: NaiveDate,
    last_closed: Option<NaiveDate>,
) -> NaiveDate {
    let settled_before = date
        .pred_opt()
        .is_some_and(|before| last_closed.is_some_and(|c| c >= before));
    if date > today && settled_before {
        date
    } else {
        today
    }
}

/// The days `person` had no dose in hand that closing `date` settles — `date` itself and the
/// closed days right after it (a missed Saturday two-day instalment: Saturday and Sunday) —
/// with the dose prescribed and why. Days with nothing prescribed count towards clause 3 but
/// are not missed doses.
pub fn missed_on_close(
    person: &PersonState,
    supplies: &[SupplyRecord],
    calendar: &PharmacyCalendar,
    enrolled_on: Option<NaiveDate>,
    date: NaiveDate,
) -> Vec<(DoseDay, NoDose)> {
    let prescriptions = schedules(&person.prescriptions);
    let input = LedgerInput {
        prescriptions: &prescriptions,
        supplies,
        holds: &[],
        last_review: person.last_review_on,
        calendar,
        settled_through: Some(date),
        records_from: records_from(person, enrolled_on),
        carried: carried_run(person),
    };
    let from = date - Days::new(LOOKBACK_DAYS);
    let to = date + Days::new(14);
    let ledger = Ledger::compute(&input, from, to);
    let until = ledger.settled_until().unwrap_or(date);
    ledger.missed_doses(date, until)
}

/// Where this counter's records of `person` begin: its enrolment, or the day the person moved
/// here if later (what happened before was another pharmacy's).
fn records_from(person: &PersonState, enrolled_on: Option<NaiveDate>) -> Option<NaiveDate> {
    let moved_here = person.stay.as_ref().and_then(|s| s.from);
    [enrolled_on, moved_here].into_iter().flatten().max()
}

/// The days without a dose counted at the person's previous pharmacy, up to their move here.
fn carried_run(person: &PersonState) -> Option<sotto_domain::CarriedRun> {
    person.stay.as_ref().and_then(|s| s.carried_run)
}

/// Every prescription laid out as the server computed it; one whose days are not one per date
/// is left out (shown as no prescription rather than guessed at).
fn schedules(prescriptions: &[PrescriptionState]) -> Vec<PrescribedSchedule> {
    prescriptions
        .iter()
        .filter_map(|p| {
            let schedule = Schedule::from_days(p.days.clone());
            if schedule.is_none() {
                tracing::warn!(
                    prescription = %p.id,
                    "prescription days are not one per date; treating as no prescription"
                );
            }
            Some(PrescribedSchedule {
                schedule: schedule?,
                directions: p.directions,
            })
        })
        .collect()
}

/// The pharmacy's opening pattern, as the shared rules want it.
pub fn calendar(pharmacy: &PharmacyInfo) -> PharmacyCalendar {
    PharmacyCalendar {
        hours: pharmacy.hours(),
        closures: pharmacy.closures.iter().copied().collect(),
    }
}

/// The earliest collection after `today` across every prescription (the next one may be a
/// prescription that hasn't started yet).
fn next_collection(prescriptions: &[PrescriptionState], today: NaiveDate) -> Option<NaiveDate> {
    prescriptions
        .iter()
        .filter_map(|p| Schedule::from_days(p.days.clone()))
        .filter_map(|s| s.next_collection_after(today))
        .min()
}

pub(crate) fn due_view(due: &Due) -> DueView {
    DueView {
        collect_on: due.collect_on,
        supervised_dose_mg: due.supervised_dose().map(|d| d.as_mg()),
        take_home_doses: due.take_home_doses(),
        total_mg: due.total_mg(),
        doses: due.doses.clone(),
    }
}

/// Whether the data can be shown with confidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Freshness {
    pub synced_at: Option<DateTime<Utc>>,
    /// Never synced, or not within `stale_after`.
    pub stale: bool,
}

impl Freshness {
    pub fn of(synced_at: Option<DateTime<Utc>>, now: DateTime<Utc>, stale_after: Duration) -> Self {
        let stale = synced_at.is_none_or(|at| {
            // A negative age means this PC's clock was set back since: its "now" can't be
            // trusted, so the data is not shown as confirmed (never fresh by accident).
            (now - at).to_std().map_or(true, |age| age > stale_after)
        });
        Freshness { synced_at, stale }
    }

    /// The plain marker shown beside a code when stale: "not confirmed since 14:05" (local
    /// time), with the date when it wasn't today.
    pub fn marker(&self, zone: Tz, today: NaiveDate) -> String {
        match self.synced_at {
            None => "not confirmed yet".to_string(),
            Some(at) => {
                let local = at.with_timezone(&zone);
                if local.date_naive() == today {
                    format!("not confirmed since {}", local.format("%H:%M"))
                } else {
                    format!("not confirmed since {}", local.format("%H:%M on %a %-d %b"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Days, TimeZone};
    use sotto_domain::DoseMg;
    use sotto_protocol::HoldState;

    fn day(date: NaiveDate, collect_on: NaiveDate, supervised: bool) -> DoseDay {
        DoseDay {
            date,
            dose_mg: DoseMg::from_micrograms(60_000).unwrap(),
            supervised,
            collect_on,
            nominal_collect_on: collect_on,
            pharmacy_closed: false,
        }
    }

    /// Two 3-day instalments from `start`: collected on days 0 and 3, first dose supervised.
    fn person(start: NaiveDate) -> PersonState {
        let days = (0..6u64)
            .map(|i| {
                let collect_on = start + Days::new(i - i % 3);
                day(start + Days::new(i), collect_on, i % 3 == 0)
            })
            .collect();
        PersonState {
            service_user_id: "u".into(),
            reference: "SU-1".into(),
            given_name: "A".into(),
            family_name: "B".into(),
            date_of_birth: start,
            holds: vec![],
            prescriptions: vec![PrescriptionState {
                id: "rx".into(),
                start_date: start,
                end_date: start + Days::new(5),
                directions: Default::default(),
                days,
                medicine: None,
                prescriber: None,
            }],
            last_review_on: None,
            stay: None,
        }
    }

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn none() -> LocalRecords {
        LocalRecords::default()
    }

    fn recorded(collect_on: NaiveDate, take_home: &[NaiveDate], withheld: bool) -> RecordedSupply {
        RecordedSupply {
            record: SupplyRecord {
                collect_on,
                supervised_taken: !withheld,
                take_home_dates: if withheld { vec![] } else { take_home.to_vec() },
                withheld,
            },
            at: Utc
                .with_ymd_and_hms(2026, 11, collect_on.day(), 10, 42, 0)
                .unwrap(),
        }
    }

    #[test]
    fn a_supply_today_makes_b_with_its_time_and_covers_the_take_home_days() {
        let p = person(date(23));
        let local = LocalRecords {
            supplies: vec![recorded(date(23), &[date(24), date(25)], false)],
            ..LocalRecords::default()
        };
        let status = person_status(&p, date(23), &local);
        assert_eq!(status.code, StatusCode::B);
        assert_eq!(status.due, None);
        assert_eq!(status.supplied_at, Some(local.supplies[0].at));
        assert_eq!(person_status(&p, date(24), &local).code, StatusCode::C);
        let calendar = PharmacyCalendar::default();
        let records = local.records();
        assert!(missed_on_close(&p, &records, &calendar, None, date(24)).is_empty());
        assert_eq!(missed_on_close(&p, &[], &calendar, None, date(24)).len(), 1);
    }

    #[test]
    fn withheld_leaves_a_and_notes_the_time_and_three_days_without_a_dose_show_e() {
        let mut p = person(date(23));
        let local = LocalRecords {
            supplies: vec![recorded(date(23), &[], true)],
            ..LocalRecords::default()
        };
        let status = person_status(&p, date(23), &local);
        assert_eq!(status.code, StatusCode::A);
        assert_eq!(status.withheld_at, Some(local.supplies[0].at));
        // Withheld on the 23rd (its take-home days with it) and nothing since: on the 26th the
        // ledger has three days without a dose, so E at the counter, offline or not.
        let later = person_status(&p, date(26), &local);
        assert_eq!(later.days_without_dose, 3);
        assert_eq!(later.code, StatusCode::E);
        // A prescriber review on the 26th starts the count again.
        p.last_review_on = Some(date(26));
        assert_eq!(person_status(&p, date(26), &local).code, StatusCode::A);
    }

    #[test]
    fn a_collection_day_lists_the_supervised_dose_and_the_take_home_days() {
        let status = person_status(&person(date(23)), date(23), &none());
        assert_eq!(status.code, StatusCode::A);
        let due = status.due.unwrap();
        assert_eq!(due.supervised_dose_mg, Some(60.0));
        assert_eq!(due.take_home_doses, 2);
        let dates: Vec<NaiveDate> = due.take_home().map(|d| d.date).collect();
        assert_eq!(dates, [date(24), date(25)]);
        assert_eq!(due.total_mg, 180.0);
    }

    #[test]
    fn a_covered_day_shows_c_and_the_next_collection() {
        // Collected on the 23rd; without that, clause 2 would make the rest due on the 24th.
        let collected = LocalRecords {
            supplies: vec![recorded(date(23), &[date(24), date(25)], false)],
            ..LocalRecords::default()
        };
        let status = person_status(&person(date(23)), date(24), &collected);
        assert_eq!(status.code, StatusCode::C);
        assert_eq!(status.due, None);
        assert_eq!(status.next_collection, Some(date(26)));
    }

    #[test]
    fn holds_win_over_a_collection_and_hide_the_hand_over() {
        let mut p = person(date(23));
        p.holds.push(HoldState {
            id: "h".into(),
            kind: HoldKind::Attend,
        });
        assert_eq!(person_status(&p, date(23), &none()).code, StatusCode::D);
        assert_eq!(person_status(&p, date(23), &none()).due, None);
        p.holds.push(HoldState {
            id: "s".into(),
            kind: HoldKind::Safety,
        });
        assert_eq!(person_status(&p, date(23), &none()).code, StatusCode::E);
    }

    #[test]
    fn before_a_prescription_starts_there_is_none_today_but_a_next_collection() {
        let status = person_status(&person(date(23)), date(20), &none());
        assert_eq!(status.code, StatusCode::F);
        assert_eq!(status.next_collection, Some(date(23)));
    }

    #[test]
    fn days_that_are_not_one_per_date_are_never_guessed_at() {
        let mut p = person(date(23));
        p.prescriptions[0].days.remove(2);
        assert_eq!(person_status(&p, date(23), &none()).code, StatusCode::F);
    }

    #[test]
    fn staleness_follows_the_limit_and_the_marker_uses_local_time() {
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 13, 5, 0).unwrap();
        let limit = Duration::from_secs(60);
        assert!(Freshness::of(None, at, limit).stale);
        assert!(!Freshness::of(Some(at), at + chrono::Duration::seconds(60), limit).stale);
        let old = Freshness::of(Some(at), at + chrono::Duration::seconds(61), limit);
        assert!(old.stale);
        let today = NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
        // British Summer Time: 13:05 UTC is 14:05 in London.
        assert_eq!(old.marker(DEFAULT_ZONE, today), "not confirmed since 14:05");
        let tomorrow = today.succ_opt().unwrap();
        assert_eq!(
            old.marker(DEFAULT_ZONE, tomorrow),
            "not confirmed since 14:05 on Wed 1 Jul"
        );
    }
}

/// This PC's clock disagrees with the service's by more than the allowed skew: "today" may be
/// the wrong day, so nothing is supplied and no day is closed until it is put right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockProblem {
    /// This PC's time when the service's last message arrived.
    pub local: DateTime<Utc>,
    /// When the service sent it (its signed `sent_at`).
    pub service: DateTime<Utc>,
}

impl ClockProblem {
    /// The difference, if it is more than `max` either way (a message takes a moment to arrive,
    /// hence the allowance).
    pub fn check(
        local: DateTime<Utc>,
        service: DateTime<Utc>,
        max: Duration,
    ) -> Option<ClockProblem> {
        let skew = (local - service).abs().to_std().unwrap_or_default();
        (skew > max).then_some(ClockProblem { local, service })
    }

    /// The one plain sentence the counter shows, in the pharmacy's local time.
    pub fn message(&self, zone: Tz) -> String {
        let fmt = |t: DateTime<Utc>| {
            t.with_timezone(&zone)
                .format("%H:%M on %a %-d %b")
                .to_string()
        };
        format!(
            "This PC's clock says {}, the service says {}: correct the clock before supplying",
            fmt(self.local),
            fmt(self.service)
        )
    }
}

#[cfg(test)]
mod clock_tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_clock_set_back_is_never_fresh_and_a_skew_beyond_the_limit_is_named() {
        let at = Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap();
        let earlier = at - chrono::Duration::minutes(5);
        assert!(Freshness::of(Some(at), earlier, Duration::from_secs(900)).stale);
        let limit = Duration::from_secs(120);
        assert_eq!(
            ClockProblem::check(at + chrono::Duration::seconds(119), at, limit),
            None
        );
        let ahead = ClockProblem::check(at + chrono::Duration::days(1), at, limit).unwrap();
        assert_eq!(
            ahead.message(chrono_tz::Europe::London),
            "This PC's clock says 10:00 on Wed 2 Dec, the service says 10:00 on Tue 1 Dec: \
             correct the clock before supplying"
        );
        assert!(ClockProblem::check(at - chrono::Duration::days(1), at, limit).is_some());
    }
}
