//! The last seven days of a person's dose ledger, in words: dose in hand, or none and why —
//! so "no dose in hand since Friday" stands beside an E (the same account the counter shows).

use sotto_domain::{DayAccount, DayState};

use super::html::esc;
use crate::core::status::Status;

/// A section with the run (if any) and a row per day, newest first.
pub fn last_days(status: &Status) -> String {
    let summary = status
        .no_dose_since
        .as_deref()
        .map(|s| format!("<p class=\"notice\"><strong>{}</strong>.</p>", esc(s)))
        .unwrap_or_default();
    let rows: String = status
        .ledger
        .iter()
        .rev()
        .map(|day| {
            format!(
                "<tr><th scope=\"row\">{date}</th><td>{dose}</td><td>{words}</td></tr>",
                date = day.date.format("%A %-d %B"),
                dose = dose(day),
                words = esc(&words(day, status.date)),
            )
        })
        .collect();
    format!(
        "<h2 id=\"ledger\">The last seven days</h2>{summary}\
         {table}",
        table = super::html::scroll(
            "The last seven days",
            &format!(
                "<table><caption>Each day: was a dose in hand, and if not, why</caption><thead>\
                 <tr><th scope=\"col\">Day</th><th scope=\"col\">Prescribed</th>\
                 <th scope=\"col\">Dose in hand</th></tr></thead><tbody>{rows}</tbody></table>"
            )
        ),
    )
}

fn dose(day: &DayAccount) -> String {
    match (day.prescribed, day.state) {
        (Some(p), _) => format!(
            "{} mg{}",
            p.dose_mg.as_mg(),
            if p.supervised { ", supervised" } else { "" }
        ),
        (None, DayState::WithoutDose(_)) => "nothing".into(),
        (None, _) => "—".into(),
    }
}

/// The day in words; a past day the pharmacy has not accounted for yet says so (the server
/// settles a day when the pharmacy closes it).
fn words(day: &DayAccount, today: chrono::NaiveDate) -> String {
    match day.state {
        DayState::ToCome if day.date < today => "not reported by the pharmacy yet".into(),
        _ => day.describe(),
    }
}
