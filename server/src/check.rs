//! `sotto-server admin check-pharmacy ID`: does a pharmacy's counter show what the server says?
//!
//! After any fault (a crash, a broker restart, a cut line) this is the question that matters:
//! for every person at the pharmacy, the code the counter would show must be the server's, and
//! the counter must have applied every change the server committed. The server's side comes from
//! its database; the counter's from its local API (`/healthz`, `/api/status`), which the operator
//! reaches from the pharmacy's network (or a test reaches on loopback).

use serde::Serialize;
use sqlx::Row;

use crate::core::db::{Store, service_users};
use crate::error::Error;

/// What the check found. `agree` is the one-word answer.
#[derive(Debug, Serialize)]
pub struct Agreement {
    pub pharmacy_id: String,
    /// The last change committed for this pharmacy.
    pub server_seq: i64,
    /// The last change the broker acknowledged.
    pub acknowledged_seq: i64,
    /// Changes committed but not yet acknowledged by the broker.
    pub unsent: i64,
    /// The counter's side, when it was asked.
    pub counter: Option<CounterSide>,
    pub people: usize,
    /// Each person whose code differs (reference, server's code, counter's code).
    pub disagreements: Vec<Disagreement>,
    pub agree: bool,
}

#[derive(Debug, Serialize)]
pub struct CounterSide {
    pub last_seq: i64,
    pub pending_reports: i64,
    pub connected: bool,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Disagreement {
    pub reference: String,
    pub server: String,
    pub counter: String,
}

/// Compares the server's view of `pharmacy_id` with the counter at `counter_url` (when given).
/// Without a counter URL it reports the server's side only, and `agree` says whether the broker
/// has acknowledged everything.
pub async fn check_pharmacy(
    store: &Store,
    pharmacy_id: &str,
    counter_url: Option<&str>,
) -> anyhow::Result<Agreement> {
    let row = sqlx::query("SELECT seq, sent_seq FROM pharmacies WHERE id = $1")
        .bind(pharmacy_id)
        .fetch_optional(store.pool())
        .await?
        .ok_or_else(|| anyhow::anyhow!("no pharmacy with id {pharmacy_id:?}"))?;
    let (server_seq, acknowledged_seq): (i64, i64) =
        (row.try_get("seq")?, row.try_get("sent_seq")?);
    let unsent: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE pharmacy_id = $1 AND sent_at IS NULL")
            .bind(pharmacy_id)
            .fetch_one(store.pool())
            .await?
            .try_get("n")?;
    let ids: Vec<String> = sqlx::query("SELECT id FROM service_users WHERE pharmacy_id = $1")
        .bind(pharmacy_id)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    let mut people = Vec::with_capacity(ids.len());
    for id in &ids {
        let su = service_users::get(store.pool(), id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("service user vanished during the check"))?;
        let status = crate::core::status::for_service_user(store, &su, None, false)
            .await
            .map_err(|e: Error| anyhow::anyhow!("{e}"))?;
        people.push((su.reference, status.code.letter().to_string()));
    }

    let (counter, disagreements) = match counter_url {
        None => (None, Vec::new()),
        Some(url) => {
            let url = url.trim_end_matches('/');
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()?;
            let health: serde_json::Value = http
                .get(format!("{url}/healthz"))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            let side = CounterSide {
                last_seq: health["last_seq"].as_i64().unwrap_or(-1),
                pending_reports: health["pending_reports"].as_i64().unwrap_or(-1),
                connected: health["connected"].as_bool().unwrap_or(false),
            };
            let mut differ = Vec::new();
            for (reference, server_code) in &people {
                let res = http
                    .get(format!("{url}/api/status"))
                    .query(&[("reference", reference)])
                    .send()
                    .await?;
                let counter_code = if res.status().is_success() {
                    let body: serde_json::Value = res.json().await?;
                    body["code"].as_str().unwrap_or("?").to_string()
                } else {
                    format!("HTTP {}", res.status().as_u16())
                };
                if &counter_code != server_code {
                    differ.push(Disagreement {
                        reference: reference.clone(),
                        server: server_code.clone(),
                        counter: counter_code,
                    });
                }
            }
            (Some(side), differ)
        }
    };
    let agree = disagreements.is_empty()
        && match &counter {
            Some(c) => c.last_seq == server_seq && c.pending_reports == 0,
            None => unsent == 0,
        };
    Ok(Agreement {
        pharmacy_id: pharmacy_id.to_string(),
        server_seq,
        acknowledged_seq,
        unsent,
        counter,
        people: people.len(),
        disagreements,
        agree,
    })
}
