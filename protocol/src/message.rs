//! Message types. JSON, tagged by `type`, every one stamped with `v` and `pharmacy_id`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sotto_domain::{Directions, DoseDay, DoseMg, HoldKind, OpeningHours, Weekday};

use crate::{MAX_MESSAGE_BYTES, VERSION};

/// Server → pharmacy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerMessage {
    pub v: u16,
    pub pharmacy_id: String,
    pub sent_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: ServerBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerBody {
    /// One change, in sequence.
    Delta { seq: u64, change: Change },
    /// Everything the pharmacy needs, as of `seq`; replaces what the client holds.
    Snapshot {
        seq: u64,
        pharmacy: PharmacyInfo,
        people: Vec<PersonState>,
    },
    /// "Still here, and the latest `seq` is this": liveness for the staleness marker, and a
    /// way to notice a lost final delta.
    Heartbeat { seq: u64 },
    /// The server stored these reports (after its commit); the client may forget them.
    ReportAck { report_ids: Vec<String> },
}

impl ServerBody {
    /// The sequence number, for messages that are part of the ordered stream.
    pub fn seq(&self) -> Option<u64> {
        match self {
            ServerBody::Delta { seq, .. }
            | ServerBody::Snapshot { seq, .. }
            | ServerBody::Heartbeat { seq } => Some(*seq),
            ServerBody::ReportAck { .. } => None,
        }
    }
}

/// A change to what the pharmacy holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A person's whole current state (upsert): simple to apply, impossible to half-apply.
    Person(PersonState),
    /// The person is no longer nominated to this pharmacy.
    PersonRemoved { service_user_id: String },
    /// Opening pattern, closures or contact details changed.
    Pharmacy(PharmacyInfo),
}

/// What the counter needs about one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonState {
    pub service_user_id: String,
    /// The service's reference, e.g. `SU-1042`: what the counter searches by.
    pub reference: String,
    /// Name and date of birth: for the pharmacist to confirm who is at the counter.
    pub given_name: String,
    pub family_name: String,
    pub date_of_birth: NaiveDate,
    /// Active holds: their kinds only, never reasons.
    pub holds: Vec<HoldState>,
    /// Prescriptions that ended in the last fortnight, the current one and future ones, each
    /// laid out day by day (ended ones let the counter's dose ledger see the days between two
    /// prescriptions).
    pub prescriptions: Vec<PrescriptionState>,
    /// The pharmacy's local date of the last prescriber review (a safety hold lifted): days
    /// without a dose before it no longer count towards clause 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_review_on: Option<NaiveDate>,
    /// The dates this pharmacy holds the person, when it does not hold them for good (they
    /// moved here, or move on): outside them nothing is supplied here. Absent: for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stay: Option<Stay>,
}

/// When a pharmacy holds a person (a transfer between pharmacies), and the days without a dose
/// counted at the previous one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stay {
    /// The first day this pharmacy holds the person: its records of them begin then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// The last day it holds them (they move on the day after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<NaiveDate>,
    /// The run of days without a dose up to `from`, counted at the previous pharmacy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carried_run: Option<sotto_domain::CarriedRun>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldState {
    pub id: String,
    pub kind: HoldKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrescriptionState {
    pub id: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    /// The Home Office clauses (clause 2 lets the client hand over the rest of a missed
    /// instalment; `consult_after_missed_days` lets it show E offline).
    #[serde(default)]
    pub directions: Directions,
    /// One entry per date from start to end, as the server computed it (closures applied).
    pub days: Vec<DoseDay>,
    /// What is dispensed, and the prescriber's name: the controlled-drug register the pharmacy
    /// keeps needs both for every instalment (absent from older servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub medicine: Option<sotto_domain::Medicine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prescriber: Option<String>,
}

/// The pharmacy's own details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PharmacyInfo {
    pub id: String,
    pub ods_code: String,
    pub name: String,
    /// Derived from `opening_hours` (the weekdays without hours); kept so older stores and
    /// messages still decode.
    pub closed_weekdays: Vec<Weekday>,
    /// `HH:MM` local time: the closing time most days share, derived from `opening_hours`.
    pub closing_time: String,
    /// IANA zone name.
    pub timezone: String,
    pub closures: Vec<NaiveDate>,
    /// The treatment service's number, shown with codes D and E.
    pub service_phone: Option<String>,
    /// Each weekday's opening and closing time: the counter closes each trading day at its
    /// own close. Absent in what older servers sent; see [`PharmacyInfo::hours`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_hours: Option<OpeningHours>,
}

impl PharmacyInfo {
    /// The pharmacy's opening hours: as sent, or (from an older server or store) every weekday
    /// not closed from 09:00 to `closing_time` (18:00 if that cannot be read).
    pub fn hours(&self) -> OpeningHours {
        self.opening_hours.clone().unwrap_or_else(|| {
            let closing = sotto_domain::parse_hh_mm(&self.closing_time)
                .unwrap_or_else(|| chrono::NaiveTime::from_hms_opt(18, 0, 0).expect("a time"));
            OpeningHours::from_legacy(&self.closed_weekdays, closing)
        })
    }
}

/// Pharmacy → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientMessage {
    pub v: u16,
    pub pharmacy_id: String,
    pub sent_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: ClientBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientBody {
    /// "Send me a snapshot": on every connect, and whenever a gap is seen.
    ResyncRequest {
        /// The last `seq` applied, if any.
        last_seq: Option<u64>,
        reason: ResyncReason,
    },
    /// "Heard you": the answer to [`ServerBody::Heartbeat`] with its `seq`, so the server
    /// knows the counter is really there even on a quiet day (the console's warning that a
    /// pharmacy has not been heard from is true only if a connected counter always answers).
    HeartbeatAck { seq: u64 },
    /// What happened at the counter. Sent in batches; each report is retried until the server
    /// acknowledges it with [`ServerBody::ReportAck`], and its `report_id` makes retries harmless.
    Reports { reports: Vec<Report> },
}

/// One event at the counter, with the idempotency key the client gave it when it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub report_id: String,
    #[serde(flatten)]
    pub event: ReportEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportEvent {
    /// An instalment handed over: the supervised dose taken at the counter (if any) and the
    /// take-home doses, by the dates they are for.
    Supplied {
        service_user_id: String,
        /// The collection day of the instalment (what makes a second supply a double supply).
        collect_on: NaiveDate,
        supervised_taken: bool,
        take_home_dates: Vec<NaiveDate>,
        at: DateTime<Utc>,
    },
    /// The pharmacist did not supply (e.g. the person appeared intoxicated). Counts as not
    /// supplied: the day becomes a missed dose when the day is closed.
    Withheld {
        service_user_id: String,
        collect_on: NaiveDate,
        reason: WithheldReason,
        at: DateTime<Utc>,
    },
    /// At the close of `date` the person had no dose in hand for it.
    Missed {
        service_user_id: String,
        date: NaiveDate,
        dose_mg: DoseMg,
        /// Why there was no dose in hand (older clients leave it out).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        why: Option<MissedReason>,
    },
    /// The pharmacy closed `date`; its missed doses were reported before this.
    DayClosed {
        date: NaiveDate,
        at: DateTime<Utc>,
        /// Today was closed before its closing time, on the pharmacist's explicit word. Left out
        /// when false, so older servers and clients read the message as before.
        #[serde(default, skip_serializing_if = "is_false")]
        early: bool,
    },
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Why a day had no dose in hand (the dose ledger's reason), as a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedReason {
    /// The collection covering the day was not made.
    CollectionMissed,
    /// The pharmacy was closed that day and the collection covering it was not made.
    PharmacyClosed,
    /// The instalment was withheld at the counter.
    Withheld,
    /// A hold was in force.
    OnHold,
}

impl MissedReason {
    /// The code as stored and shown.
    pub fn code(self) -> &'static str {
        match self {
            MissedReason::CollectionMissed => "collection_missed",
            MissedReason::PharmacyClosed => "pharmacy_closed",
            MissedReason::Withheld => "withheld",
            MissedReason::OnHold => "on_hold",
        }
    }
}

impl From<sotto_domain::NoDose> for MissedReason {
    fn from(why: sotto_domain::NoDose) -> Self {
        use sotto_domain::NoDose;
        match why {
            NoDose::OnHold => MissedReason::OnHold,
            NoDose::Withheld { .. } => MissedReason::Withheld,
            NoDose::PharmacyClosed { .. } => MissedReason::PharmacyClosed,
            NoDose::CollectionMissed { .. } | NoDose::NothingPrescribed => {
                MissedReason::CollectionMissed
            }
        }
    }
}

/// Why an instalment was withheld: a code, not free text, so nothing identifying travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WithheldReason {
    Intoxicated,
    Unwell,
    IdentityNotConfirmed,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResyncReason {
    Connected,
    Gap,
}

/// Why a payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message of {0} bytes is larger than the {MAX_MESSAGE_BYTES}-byte limit")]
    TooLarge(usize),
    #[error("not a Sotto message: {0}")]
    Malformed(String),
    #[error("protocol version {0} is not supported (this build speaks {VERSION})")]
    UnknownVersion(u64),
    #[error("message is not signed by the server")]
    Unsigned,
    #[error("message signature does not match the pinned server key")]
    BadSignature,
}

/// Decodes a message, checking size and version before the shape, so an unknown version is
/// reported as such rather than as a malformed payload.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLarge(bytes.len()));
    }
    #[derive(Deserialize)]
    struct Version {
        v: u64,
    }
    let version: Version =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if version.v != u64::from(VERSION) {
        return Err(DecodeError::UnknownVersion(version.v));
    }
    serde_json::from_slice(bytes).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Encodes any message (cannot fail for these types).
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).expect("protocol types always serialise")
}

impl ServerMessage {
    pub fn new(pharmacy_id: impl Into<String>, body: ServerBody) -> Self {
        Self {
            v: VERSION,
            pharmacy_id: pharmacy_id.into(),
            sent_at: Utc::now(),
            body,
        }
    }
}

impl ClientMessage {
    pub fn new(pharmacy_id: impl Into<String>, body: ClientBody) -> Self {
        Self {
            v: VERSION,
            pharmacy_id: pharmacy_id.into(),
            sent_at: Utc::now(),
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_with_their_tags() {
        let m = ServerMessage::new("p1", ServerBody::Heartbeat { seq: 7 });
        let json = String::from_utf8(encode(&m)).unwrap();
        assert!(json.contains(r#""type":"heartbeat""#), "{json}");
        assert_eq!(decode::<ServerMessage>(json.as_bytes()).unwrap(), m);
        let c = ClientMessage::new(
            "p1",
            ClientBody::ResyncRequest {
                last_seq: None,
                reason: ResyncReason::Connected,
            },
        );
        assert_eq!(decode::<ClientMessage>(&encode(&c)).unwrap(), c);
        let ack = ClientMessage::new("p1", ClientBody::HeartbeatAck { seq: 7 });
        let json = String::from_utf8(encode(&ack)).unwrap();
        assert!(json.contains(r#""type":"heartbeat_ack","seq":7"#), "{json}");
        assert_eq!(decode::<ClientMessage>(json.as_bytes()).unwrap(), ack);
        let no_seq =
            br#"{"v":1,"pharmacy_id":"p","sent_at":"2026-11-23T10:00:00Z","type":"heartbeat_ack"}"#;
        assert!(matches!(
            decode::<ClientMessage>(no_seq),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn a_day_closed_early_says_so_and_an_ordinary_one_reads_as_before() {
        let at: DateTime<Utc> = "2026-11-23T14:00:00Z".parse().unwrap();
        let date = at.date_naive();
        let ordinary = ReportEvent::DayClosed {
            date,
            at,
            early: false,
        };
        let json = serde_json::to_string(&ordinary).unwrap();
        assert!(!json.contains("early"), "{json}");
        assert_eq!(
            serde_json::from_str::<ReportEvent>(&json).unwrap(),
            ordinary
        );
        let early = ReportEvent::DayClosed {
            date,
            at,
            early: true,
        };
        let json = serde_json::to_string(&early).unwrap();
        assert!(json.contains(r#""early":true"#), "{json}");
        assert_eq!(serde_json::from_str::<ReportEvent>(&json).unwrap(), early);
    }

    #[test]
    fn unknown_versions_and_garbage_are_refused_distinctly() {
        let future = br#"{"v":2,"pharmacy_id":"p","sent_at":"2026-11-23T10:00:00Z","type":"heartbeat","seq":1}"#;
        assert!(matches!(
            decode::<ServerMessage>(future),
            Err(DecodeError::UnknownVersion(2))
        ));
        assert!(matches!(
            decode::<ServerMessage>(b"\xff\x00"),
            Err(DecodeError::Malformed(_))
        ));
        let wrong_type = br#"{"v":1,"pharmacy_id":"p","sent_at":"2026-11-23T10:00:00Z","type":"launch","seq":1}"#;
        assert!(matches!(
            decode::<ServerMessage>(wrong_type),
            Err(DecodeError::Malformed(_))
        ));
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            decode::<ServerMessage>(&big),
            Err(DecodeError::TooLarge(_))
        ));
    }

    #[test]
    fn pharmacy_details_without_opening_hours_still_decode_and_derive_them() {
        let old = br#"{"id":"p","ods_code":"F1","name":"P","closed_weekdays":["sun"],
            "closing_time":"17:30","timezone":"Europe/London","closures":[],"service_phone":null}"#;
        let info: PharmacyInfo = serde_json::from_slice(old).unwrap();
        let hours = info.hours();
        assert_eq!(hours.on(Weekday::Sun), None);
        let mon = hours.on(Weekday::Mon).unwrap();
        assert_eq!(
            mon.close(),
            chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap()
        );
        let with_hours = PharmacyInfo {
            opening_hours: Some(hours.clone()),
            ..info
        };
        let json = serde_json::to_string(&with_hours).unwrap();
        assert_eq!(
            serde_json::from_str::<PharmacyInfo>(&json).unwrap(),
            with_hours
        );
    }
}
