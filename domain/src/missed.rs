//! The consecutive-missed-days rule (DOMAIN.md, Home Office clause 3): at
//! `consult_after_missed_days` days in a row with no dose in hand, do not supply until a
//! prescriber has reviewed. A day covered by take-home doses is never reported as missed, so
//! the run is simply consecutive calendar days among the missed dates.

use std::collections::BTreeSet;

use chrono::NaiveDate;

/// Length of the run of consecutive missed dates containing `date` (0 if `date` is not missed).
/// Days on or before `reviewed_on` (the last prescriber review, i.e. the last time a safety hold
/// was lifted) do not count: the review starts the count again.
pub fn consecutive_missed_run(
    missed: &BTreeSet<NaiveDate>,
    date: NaiveDate,
    reviewed_on: Option<NaiveDate>,
) -> u32 {
    let counts = |d: &NaiveDate| missed.contains(d) && reviewed_on.is_none_or(|r| *d > r);
    if !counts(&date) {
        return 0;
    }
    let mut run = 1;
    let mut d = date;
    while let Some(prev) = d.pred_opt().filter(|p| counts(p)) {
        run += 1;
        d = prev;
    }
    let mut d = date;
    while let Some(next) = d.succ_opt().filter(|n| counts(n)) {
        run += 1;
        d = next;
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, day).unwrap()
    }

    #[test]
    fn three_days_in_a_row_make_a_run_of_three_wherever_the_newest_report_falls() {
        let missed = BTreeSet::from([d(23), d(24), d(25)]);
        assert_eq!(consecutive_missed_run(&missed, d(25), None), 3);
        // Reports can arrive out of order: the middle day completes the run too.
        assert_eq!(consecutive_missed_run(&missed, d(24), None), 3);
    }

    #[test]
    fn a_day_with_a_dose_in_hand_breaks_the_run() {
        let missed = BTreeSet::from([d(23), d(24), d(26)]);
        assert_eq!(consecutive_missed_run(&missed, d(26), None), 1);
        assert_eq!(consecutive_missed_run(&missed, d(24), None), 2);
        assert_eq!(consecutive_missed_run(&missed, d(25), None), 0);
    }

    #[test]
    fn a_prescriber_review_starts_the_count_again() {
        let missed = BTreeSet::from([d(23), d(24), d(25), d(26)]);
        assert_eq!(consecutive_missed_run(&missed, d(26), Some(d(25))), 1);
    }
}
