//! Counter logic: the discreet code for one person today, what to hand over, and whether our
//! data is fresh enough to show it with confidence. Pure (the caller passes the clock), and
//! built on the shared domain rules so the counter and the server agree.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sotto_domain::{
    DayPlan, Directions, DoseDay, DoseMg, Due, HoldKind, PharmacyCalendar, Schedule, StatusCode,
    SupplyRecord, dose_in_hand, due_given_supplies, status_code,
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
}

/// What this counter recorded about a person: what it handed over or withheld, and whether
/// its own count of consecutive missed days asks for a prescriber review (local code E).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LocalRecords {
    pub supplies: Vec<RecordedSupply>,
    pub review_needed: bool,
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

    /// The supply (not a withheld record) made on `date`, if any.
    fn supplied_on(&self, date: NaiveDate) -> Option<&RecordedSupply> {
        self.supplies
            .iter()
            .find(|s| !s.record.withheld && s.record.collect_on == date)
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
}

/// The pharmacy's zone, falling back to Europe/London (unknown yet, or a name we can't read).
pub fn zone(pharmacy: Option<&PharmacyInfo>) -> Tz {
    pharmacy
        .and_then(|p| p.timezone.parse::<Tz>().ok())
        .unwrap_or(DEFAULT_ZONE)
}

/// The code and hand-over for `person` on `today` (the pharmacy's local date), given what this
/// counter recorded: a supply today makes B; an instalment already supplied is never due
/// again; clause 2 makes the rest of a missed instalment due; the local review makes E.
pub fn person_status(person: &PersonState, today: NaiveDate, local: &LocalRecords) -> PersonStatus {
    let plan = current_schedule(&person.prescriptions, today).map_or(
        DayPlan::NoPrescription,
        |(schedule, directions)| {
            due_given_supplies(&schedule, &directions, &local.records(), today)
        },
    );
    let mut holds: Vec<HoldKind> = person.holds.iter().map(|h| h.kind).collect();
    if local.review_needed {
        // Our own count of consecutive missed days reached the limit: E until the server,
        // which places the real safety hold, has had its say.
        holds.push(HoldKind::Safety);
    }
    let supplied = local.supplied_on(today);
    let code = status_code(&plan, &holds, supplied.is_some());
    let due = match (&plan, code) {
        (DayPlan::Collect(due), StatusCode::A) => Some(due_view(due)),
        _ => None,
    };
    let withheld_at = local
        .supplies
        .iter()
        .filter(|s| s.record.withheld && s.record.collect_on == today)
        .map(|s| s.at)
        .max();
    PersonStatus {
        code,
        due,
        next_collection: next_collection(&person.prescriptions, today),
        supplied_at: supplied.map(|s| s.at),
        withheld_at,
    }
}

/// The dose `person` missed on `date`, if a prescription covers the date and no dose for it
/// was in hand (taken here, or handed over earlier to take home); with the prescription's
/// consecutive-missed-days limit. A dose that could not be supplied (pharmacy closed) is still
/// a day without a dose in hand.
pub fn missed_dose(
    person: &PersonState,
    supplies: &[SupplyRecord],
    date: NaiveDate,
) -> Option<(DoseMg, u8)> {
    let (schedule, directions) = current_schedule(&person.prescriptions, date)?;
    let dose = schedule.dose_for(date)?;
    (!dose_in_hand(supplies, date)).then_some((dose.dose_mg, directions.consult_after_missed_days))
}

/// The pharmacy's opening pattern, as the shared rules want it.
pub fn calendar(pharmacy: &PharmacyInfo) -> PharmacyCalendar {
    PharmacyCalendar {
        hours: pharmacy.hours(),
        closures: pharmacy.closures.iter().copied().collect(),
    }
}

/// The prescription covering `today` (its schedule and directions); if several overlap, the
/// one that started last (a new prescription takes over from the one it follows).
fn current_schedule(
    prescriptions: &[PrescriptionState],
    today: NaiveDate,
) -> Option<(Schedule, Directions)> {
    let current = prescriptions
        .iter()
        .filter(|p| p.start_date <= today && today <= p.end_date)
        .max_by_key(|p| p.start_date)?;
    let schedule = Schedule::from_days(current.days.clone());
    if schedule.is_none() {
        // Can't tell what is due: show F (nothing to supply) rather than guess at a dose.
        tracing::warn!(
            prescription = %current.id,
            "prescription days are not one per date; treating as no prescription"
        );
    }
    schedule.map(|s| (s, current.directions))
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

fn due_view(due: &Due) -> DueView {
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
            // A clock set back makes the age negative: that's "fresh", which is right.
            (now - at).to_std().is_ok_and(|age| age > stale_after)
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
            }],
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
            review_needed: false,
        };
        let status = person_status(&p, date(23), &local);
        assert_eq!(status.code, StatusCode::B);
        assert_eq!(status.due, None);
        assert_eq!(status.supplied_at, Some(local.supplies[0].at));
        assert_eq!(person_status(&p, date(24), &local).code, StatusCode::C);
        let records = local.records();
        assert_eq!(missed_dose(&p, &records, date(24)), None);
        assert!(missed_dose(&p, &[], date(24)).is_some());
    }

    #[test]
    fn withheld_leaves_a_and_notes_the_time_and_the_local_review_shows_e() {
        let p = person(date(23));
        let mut local = LocalRecords {
            supplies: vec![recorded(date(23), &[], true)],
            review_needed: false,
        };
        let status = person_status(&p, date(23), &local);
        assert_eq!(status.code, StatusCode::A);
        assert_eq!(status.withheld_at, Some(local.supplies[0].at));
        local.review_needed = true;
        assert_eq!(person_status(&p, date(23), &local).code, StatusCode::E);
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
            review_needed: false,
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
