//! Reads one person's records in one connection and turns them into FHIR entries. What was in
//! hand on each day (and the dose for it) comes from the dose ledger, the same
//! `sotto_domain` account the counter and the status use.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sotto_domain::{DayState, DoseMg, InHand, Ledger, Medicine};
use sqlx::{AnyConnection, Row};

use super::codes::NotDispensed;
use super::resources::{self, DispenseFacts, DispenseKind, RequestStep};
use super::rows::{
    DispenseRow, MissedRow, RegimeRow, dispense_rows, missed_rows, ods_codes, regime_rows,
};
use super::search::{Entry, Kind};
use crate::core::db::{self, prescriptions::Stored, service_users::ServiceUser};
use crate::core::dispensing::ledger::{PersonRecords, records};
use crate::error::{Error, Result};

/// Everything the FHIR API shows of one person.
pub struct PersonData {
    su: ServiceUser,
    created_at: String,
    today: NaiveDate,
    prescriptions: Vec<(Stored, Vec<RegimeRow>)>,
    dispenses: Vec<DispenseRow>,
    missed: Vec<MissedRow>,
    ods: HashMap<String, String>,
    ledger: Option<Ledger>,
}

pub async fn person(conn: &mut AnyConnection, su: ServiceUser) -> Result<PersonData> {
    let pharmacy = db::pharmacies::get(&mut *conn, &su.pharmacy_id)
        .await?
        .ok_or_else(|| Error::Internal("pharmacy missing".into()))?;
    let created_at: String = sqlx::query("SELECT created_at FROM service_users WHERE id = $1")
        .bind(&su.id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("created_at")?;
    let mut prescriptions = Vec::new();
    for p in db::prescriptions::for_service_user(&mut *conn, &su.id).await? {
        let rows = regime_rows(&mut *conn, &p.id).await?;
        prescriptions.push((p, rows));
    }
    let dispenses = dispense_rows(&mut *conn, &su.id).await?;
    let mut recs = records(&mut *conn, &pharmacy, &su.id).await?;
    // The ledger counts exactly the supplies this answer lists: a supply stored between the two
    // reads would otherwise be listed with no day in hand.
    recs.supplies = dispenses.iter().map(DispenseRow::supply).collect();
    let ledger = ledger_span(&recs, &prescriptions);
    Ok(PersonData {
        dispenses,
        missed: missed_rows(&mut *conn, &su.id).await?,
        ods: ods_codes(&mut *conn).await?,
        today: pharmacy.today(),
        created_at,
        prescriptions,
        ledger,
        su,
    })
}

/// The ledger over every prescribed day of the person.
fn ledger_span(recs: &PersonRecords, ps: &[(Stored, Vec<RegimeRow>)]) -> Option<Ledger> {
    let from = ps.iter().map(|(p, _)| p.prescription.start_date()).min()?;
    let to = ps.iter().map(|(p, _)| p.prescription.end_date()).max()?;
    Some(Ledger::compute(&recs.input(), from, to))
}

fn parse_instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl PersonData {
    /// Every entry of `kind` for this person.
    pub fn entries(&self, kind: Kind) -> Vec<Entry> {
        match kind {
            Kind::Patient => vec![self.entry(
                kind,
                &self.created_at,
                None,
                resources::patient(&self.su, &self.created_at),
            )],
            Kind::MedicationRequest => self.requests(),
            Kind::MedicationDispense => self.dispenses(),
            Kind::MedicationAdministration => self.administrations(),
        }
    }

    fn entry(
        &self,
        kind: Kind,
        last_updated: &str,
        date: Option<&str>,
        resource: serde_json::Value,
    ) -> Entry {
        Entry {
            kind,
            id: resource["id"].as_str().unwrap_or_default().to_string(),
            patient: self.su.id.clone(),
            last_updated: parse_instant(last_updated),
            date: date.map(parse_instant),
            span: None,
            resource,
        }
    }

    fn requests(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for (stored, rows) in &self.prescriptions {
            let p = &stored.prescription;
            for step in 0..p.regimes().len() {
                let Some(row) = rows.get(step) else { continue };
                // A step is last changed when the next one replaced it.
                let updated = rows
                    .get(step + 1)
                    .map_or(&row.created_at, |n| &n.created_at);
                let facts = RequestStep {
                    id: &row.id,
                    prescription_id: &stored.id,
                    patient_id: &self.su.id,
                    prescription: p,
                    step,
                    authored_on: &row.created_at,
                    last_updated: updated,
                    prior_id: step
                        .checked_sub(1)
                        .and_then(|s| rows.get(s))
                        .map(|r| r.id.as_str()),
                    today: self.today,
                };
                let r = resources::medication_request(&facts);
                out.push(
                    self.entry(Kind::MedicationRequest, updated, Some(&row.created_at), r)
                        .about(facts.span()),
                );
            }
        }
        out
    }

    /// The regime step in force on `date`, and the medicine.
    fn request_on(&self, date: NaiveDate) -> Option<(&str, Medicine)> {
        let (stored, rows) = self.prescriptions.iter().find(|(s, _)| {
            s.prescription.start_date() <= date && date <= s.prescription.end_date()
        })?;
        let row = rows.iter().rev().find(|r| r.effective_from <= date)?;
        Some((row.id.as_str(), stored.prescription.medicine()))
    }

    /// The dose the ledger says was in hand on `date`, and how.
    fn in_hand(&self, date: NaiveDate) -> Option<(DoseMg, InHand)> {
        let day = self.ledger.as_ref()?.day(date)?;
        match day.state {
            DayState::InHand(how) => Some((day.prescribed?.dose_mg, how)),
            _ => None,
        }
    }

    fn dispenses(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for d in &self.dispenses {
            let Some((request_id, medicine)) = self.request_on(d.collect_on) else {
                continue; // nothing prescribed: not a dispense of a Sotto prescription
            };
            let kind = if d.supplied {
                let mut dates: Vec<NaiveDate> = d.take_home_dates.clone();
                if d.supervised_taken {
                    dates.insert(0, d.collect_on);
                }
                DispenseKind::Supplied {
                    supervised_taken: d.supervised_taken,
                    // Only doses the ledger holds as in hand from this supply, with its dose.
                    dates: dates
                        .into_iter()
                        .filter_map(|date| self.in_hand(date).map(|(dose, _)| (date, dose)))
                        .collect(),
                    handed_over: d.at.clone(),
                }
            } else {
                DispenseKind::NotDispensed {
                    why: NotDispensed::withheld(d.withheld_reason.as_deref()),
                    date: d.collect_on,
                    dose: self.prescribed(d.collect_on),
                }
            };
            let r = resources::medication_dispense(&DispenseFacts {
                id: &d.id,
                patient_id: &self.su.id,
                medicine,
                request_id: Some(request_id),
                pharmacy_ods: self.ods.get(&d.pharmacy_id).map(String::as_str),
                last_updated: &d.received_at,
                kind,
            });
            let when = d.supplied.then_some(d.at.as_str());
            let last = d
                .take_home_dates
                .iter()
                .copied()
                .chain([d.collect_on])
                .max();
            out.push(
                self.entry(Kind::MedicationDispense, &d.received_at, when, r)
                    .about((d.collect_on, last.unwrap_or(d.collect_on))),
            );
        }
        for m in &self.missed {
            let (Some(why), Some((request_id, medicine))) =
                (NotDispensed::missed(&m.why), self.request_on(m.date))
            else {
                continue;
            };
            let r = resources::medication_dispense(&DispenseFacts {
                id: &m.id,
                patient_id: &self.su.id,
                medicine,
                request_id: Some(request_id),
                pharmacy_ods: self.ods.get(&m.pharmacy_id).map(String::as_str),
                last_updated: &m.reported_at,
                kind: DispenseKind::NotDispensed {
                    why,
                    date: m.date,
                    dose: DoseMg::from_micrograms(m.dose_ug),
                },
            });
            out.push(
                self.entry(Kind::MedicationDispense, &m.reported_at, None, r)
                    .about((m.date, m.date)),
            );
        }
        out
    }

    fn prescribed(&self, date: NaiveDate) -> Option<DoseMg> {
        Some(self.ledger.as_ref()?.day(date)?.prescribed?.dose_mg)
    }

    fn administrations(&self) -> Vec<Entry> {
        let mut out = Vec::new();
        for d in self
            .dispenses
            .iter()
            .filter(|d| d.supplied && d.supervised_taken)
        {
            let (Some((dose, InHand::Supervised)), Some((request_id, medicine))) =
                (self.in_hand(d.collect_on), self.request_on(d.collect_on))
            else {
                continue;
            };
            let r = resources::medication_administration(&resources::AdministrationFacts {
                id: &d.id,
                patient_id: &self.su.id,
                medicine,
                request_id: Some(request_id),
                dispense_id: &d.id,
                date: d.collect_on,
                dose,
                taken_at: &d.at,
                last_updated: &d.received_at,
            });
            out.push(
                self.entry(
                    Kind::MedicationAdministration,
                    &d.received_at,
                    Some(&d.at),
                    r,
                )
                .about((d.collect_on, d.collect_on)),
            );
        }
        out
    }
}

impl Entry {
    /// Records the days the entry is about.
    fn about(mut self, span: (NaiveDate, NaiveDate)) -> Entry {
        self.span = Some(span);
        self
    }
}
