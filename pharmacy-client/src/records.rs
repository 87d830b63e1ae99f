//! The counter's own supply log: every instalment this pharmacy handed over in a date range,
//! with what the controlled-drug register needs (date, person, prescriber, medicine, the days
//! covered, the quantity in figures and in words, supervised or not, collected by). Read from the
//! local store only, so it works offline; the words and figures are the domain's, as on the
//! server's log.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sotto_domain::{format_mg, mg_in_words};
use sotto_protocol::PersonState;

/// One supply as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalSupply {
    pub service_user_id: String,
    pub collect_on: NaiveDate,
    pub supervised_taken: bool,
    pub take_home_dates: Vec<NaiveDate>,
    pub at: DateTime<Utc>,
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub date: NaiveDate,
    pub at: DateTime<Utc>,
    pub reference: String,
    pub name: String,
    pub prescriber: String,
    pub medicine: String,
    pub dates: Vec<NaiveDate>,
    pub quantity_mg: f64,
    pub quantity_words: String,
    pub supervised: bool,
    pub collected_by: String,
}

/// The lines for `supplies` (oldest first), with what the counter knows of each person.
pub fn lines(supplies: &[LocalSupply], people: &[PersonState]) -> Vec<LogLine> {
    let mut out: Vec<LogLine> = supplies
        .iter()
        .map(|s| {
            let person = people
                .iter()
                .find(|p| p.service_user_id == s.service_user_id);
            let mut dates: Vec<NaiveDate> = s
                .supervised_taken
                .then_some(s.collect_on)
                .into_iter()
                .collect();
            dates.extend(s.take_home_dates.iter().copied());
            dates.sort();
            dates.dedup();
            let mut quantity = 0.0;
            let mut medicine = None;
            let mut prescriber = None;
            for d in &dates {
                let found = person.and_then(|p| {
                    p.prescriptions
                        .iter()
                        .find_map(|rx| rx.days.iter().find(|x| x.date == *d).map(|x| (rx, x)))
                });
                if let Some((rx, day)) = found {
                    quantity += day.dose_mg.as_mg();
                    medicine = medicine.or(rx.medicine);
                    prescriber = prescriber.or(rx.prescriber.clone());
                }
            }
            LogLine {
                date: s.collect_on,
                at: s.at,
                reference: person
                    .map(|p| p.reference.clone())
                    .unwrap_or_else(|| "(no longer at this pharmacy)".into()),
                name: person
                    .map(|p| format!("{} {}", p.given_name, p.family_name))
                    .unwrap_or_default(),
                prescriber: prescriber.unwrap_or_else(|| "not known here".into()),
                medicine: medicine
                    .map(|m| m.display_name().to_string())
                    .unwrap_or_else(|| "not known here".into()),
                quantity_words: mg_in_words(quantity),
                quantity_mg: quantity,
                dates,
                supervised: s.supervised_taken,
                collected_by: "the person".into(),
            }
        })
        .collect();
    out.sort_by_key(|l| (l.date, l.at));
    out
}

/// The log as CSV with a header, the same columns as the server's (no form serial yet here).
pub fn to_csv(lines: &[LogLine]) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "date",
        "recorded_at",
        "reference",
        "name",
        "prescriber",
        "medicine",
        "doses",
        "quantity_mg",
        "quantity_in_words",
        "supervised",
        "collected_by",
    ])?;
    for l in lines {
        w.write_record([
            l.date.to_string(),
            l.at.to_rfc3339(),
            l.reference.clone(),
            l.name.clone(),
            l.prescriber.clone(),
            l.medicine.clone(),
            l.dates.len().to_string(),
            format_mg(l.quantity_mg),
            l.quantity_words.clone(),
            if l.supervised { "yes" } else { "no" }.to_string(),
            l.collected_by.clone(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Totals for the foot of the page: instalments, doses, supervised doses.
pub fn totals(lines: &[LogLine]) -> (usize, usize, usize) {
    (
        lines.len(),
        lines.iter().map(|l| l.dates.len()).sum(),
        lines.iter().filter(|l| l.supervised).count(),
    )
}
