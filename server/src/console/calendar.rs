//! The instalment calendar: a Monday-first grid of days on a wide screen, one day per row below
//! 600 px (the stylesheet's media query), each day saying in words its date, dose, how it is
//! taken (supervised or take-home) and what happened — never colour alone. On a phone the grid
//! would push Friday to Sunday off the screen, above the button that confirms a change to them.

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};
use sotto_domain::DoseDay;

use super::html::esc;
use crate::core::dispensing::history::Dispense;

/// What the pharmacy reported, by day: supplied (taken or handed over) and withheld collections.
struct Reported {
    supplied: BTreeSet<NaiveDate>,
    withheld: BTreeSet<NaiveDate>,
}

impl Reported {
    fn from(dispenses: &[Dispense]) -> Reported {
        let mut r = Reported {
            supplied: BTreeSet::new(),
            withheld: BTreeSet::new(),
        };
        for d in dispenses {
            if d.kind == "supplied" {
                if d.supervised_taken {
                    r.supplied.insert(d.collect_on);
                }
                r.supplied.extend(d.take_home_dates.iter().copied());
            } else {
                r.withheld.insert(d.collect_on);
            }
        }
        r
    }
}

/// One day in words: the CSS class, how the dose is taken, and what happened or will happen.
fn day_words(
    d: &DoseDay,
    today: NaiveDate,
    reported: &Reported,
    missed: &BTreeSet<NaiveDate>,
) -> (&'static str, String, String) {
    let supervised = d.supervised && d.date == d.collect_on;
    let how = if supervised {
        "supervised".to_string()
    } else if d.date != d.collect_on {
        format!("take-home, collected {}", d.collect_on.format("%a %-d %b"))
    } else {
        "take-home".to_string()
    };
    let (class, state) = if missed.contains(&d.date) {
        ("missed", "missed")
    } else if reported.supplied.contains(&d.date) {
        ("supplied", "supplied")
    } else if reported.withheld.contains(&d.collect_on) {
        ("missed", "withheld")
    } else if d.pharmacy_closed {
        ("closed", "pharmacy closed")
    } else if d.collect_on < today {
        ("due", "no record")
    } else if d.date != d.collect_on {
        ("due", "to be handed over")
    } else {
        ("due", "due")
    };
    (class, how, state.to_string())
}

/// The calendar of `days`: each day a cell with `data-date` and its words.
pub fn calendar(
    days: &[DoseDay],
    today: NaiveDate,
    dispenses: &[Dispense],
    missed: &BTreeSet<NaiveDate>,
    closed_days: &BTreeSet<NaiveDate>,
) -> String {
    let Some(first) = days.first() else {
        return String::new();
    };
    let reported = Reported::from(dispenses);
    let mut cells = String::new();
    for name in ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] {
        cells.push_str(&format!(
            "<div class=\"day head\" aria-hidden=\"true\"><b>{name}</b></div>"
        ));
    }
    for _ in 0..first.date.weekday().num_days_from_monday() {
        cells.push_str("<div aria-hidden=\"true\"></div>");
    }
    for d in days {
        let (class, how, state) = day_words(d, today, &reported, missed);
        let (today_class, today_text) = if d.date == today {
            (" today", " (today)")
        } else {
            ("", "")
        };
        let closed = if closed_days.contains(&d.date) {
            ", day closed"
        } else {
            ""
        };
        cells.push_str(&format!(
            "<div class=\"day {class}{today_class}\" data-date=\"{date}\" data-label=\"{state}\">\
             <b><span class=\"short\">{short}</span><span class=\"long\">{long}</span>{today_text}</b>\
             <span class=\"dose\">{dose} mg</span> <span class=\"how\">{how}</span> \
             <span class=\"state\">{state}{closed}</span></div>",
            date = d.date,
            short = d.date.format("%a %-d %b"),
            long = d.date.format("%A %-d %B"),
            dose = d.dose_mg.as_mg(),
            how = esc(&how),
        ));
    }
    format!("<div class=\"cal\" role=\"group\" aria-label=\"Instalment calendar\">{cells}</div>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sotto_domain::{DoseMg, Medicine};

    fn day(date: &str, collect_on: &str, supervised: bool) -> DoseDay {
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap();
        let collect_on = NaiveDate::parse_from_str(collect_on, "%Y-%m-%d").unwrap();
        DoseDay {
            date,
            dose_mg: DoseMg::parse_mg(60.0, Medicine::MethadoneOralSolution1mgMl).unwrap(),
            supervised,
            collect_on,
            nominal_collect_on: collect_on,
            pharmacy_closed: false,
        }
    }

    #[test]
    fn each_day_says_its_date_dose_how_and_state_in_words() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let days = [
            day("2026-11-27", "2026-11-27", true),
            day("2026-11-28", "2026-11-27", true),
        ];
        let html = calendar(&days, today, &[], &BTreeSet::new(), &BTreeSet::new());
        assert!(html.contains("Friday 27 November"), "{html}");
        assert!(html.contains("60 mg</span> <span class=\"how\">supervised</span>"));
        assert!(html.contains("take-home, collected Fri 27 Nov"), "{html}");
        assert!(html.contains("to be handed over"), "{html}");
        // Friday is the fifth weekday: four empty cells lead it in the grid.
        assert_eq!(html.matches("<div aria-hidden=\"true\"></div>").count(), 4);
    }
}
