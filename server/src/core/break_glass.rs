//! Breaking glass: a keyworker or clinician opens one record outside their caseload, stating
//! why. It is allowed (an emergency cannot wait for a reassignment), opens that record to them
//! for [`access::BREAK_GLASS_MINUTES`], is audited with the reason, and is mailed to the service
//! (and to the person's keyworker of record) in the same transaction.

use chrono::{Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::core::AppState;
use crate::core::access::{self, BREAK_GLASS_MINUTES, Caller, PersonOp};
use crate::core::db::{self, audit::Actor};
use crate::core::email::{self, queue, templates};
use crate::core::values;
use crate::error::{Error, Result};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BreakGlass {
    /// Why the record is needed now (at least a few words; kept in the audit log, never sent).
    #[schema(min_length = 10, max_length = 500)]
    pub reason: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GlassBroken {
    pub id: String,
    pub service_user_id: String,
    /// RFC 3339 UTC: until then the caller acts as if the person were on their caseload.
    pub expires_at: String,
}

/// Opens `su_id`'s record to the caller, with `reason`; refused to pharmacists and
/// administrators, and when the person is already on the caller's caseload.
pub async fn open(
    st: &AppState,
    caller: &Caller,
    su_id: &str,
    reason: &str,
) -> Result<GlassBroken> {
    access::role_may(caller.role, PersonOp::BreakGlass)?;
    let reason = values::parse_text("reason", reason, 500, true)?;
    if reason.chars().count() < 10 {
        return Err(Error::field(
            "reason",
            "say why you need this record now, in at least a few words",
        ));
    }
    let mut w = st.store.write().await?;
    let su = db::service_users::get(&mut *w.tx, su_id)
        .await?
        .ok_or(Error::NotFound("service user"))?;
    access::person_in(&mut w.tx, caller, &su, PersonOp::BreakGlass).await?;
    let id = db::new_id();
    let now = Utc::now();
    let opened_at = now.to_rfc3339_opts(SecondsFormat::Millis, true);
    let expires_at =
        (now + Duration::minutes(BREAK_GLASS_MINUTES)).to_rfc3339_opts(SecondsFormat::Millis, true);
    sqlx::query(
        "INSERT INTO break_glass (id, staff_id, service_user_id, reason, opened_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&id)
    .bind(&caller.id)
    .bind(&su.id)
    .bind(&reason)
    .bind(&opened_at)
    .bind(&expires_at)
    .execute(&mut *w.tx)
    .await?;
    w.audit(
        &Actor(caller.id.clone()),
        "access.break_glass",
        &format!("service_user:{}", su.id),
        serde_json::json!({"reason": reason, "expires_at": expires_at, "grant": id}),
    )
    .await?;
    let names = sqlx::query("SELECT id, name, email FROM staff WHERE id IN ($1, $2)")
        .bind(&caller.id)
        .bind(&su.keyworker_id)
        .fetch_all(&mut *w.tx)
        .await?;
    let mut staff_name = String::from("A member of staff");
    let mut keyworker_email = None;
    for r in &names {
        let sid: String = r.try_get("id")?;
        if sid == caller.id {
            staff_name = r.try_get("name")?;
        }
        if sid == su.keyworker_id {
            keyworker_email = Some(r.try_get::<String, _>("email")?);
        }
    }
    let link = email::person_link(&st.config.public_url, &su.id);
    let until = &expires_at[..16].replace('T', " ");
    let mut told: Vec<String> = st.config.service_email.iter().cloned().collect();
    told.extend(keyworker_email.filter(|k| !told.contains(k)));
    for to in told {
        let mail = templates::break_glass(&to, &staff_name, &su.reference, until, &link);
        queue::enqueue(&mut w, &mail).await?;
    }
    w.commit().await?;
    tracing::warn!(grant = %id, "record opened outside the caseload (break glass)");
    Ok(GlassBroken {
        id,
        service_user_id: su.id,
        expires_at,
    })
}

/// One read of a person's record, as the access log keeps it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccessEntry {
    pub at: String,
    pub staff_id: String,
    /// `api`, `console` or `fhir`.
    pub via: String,
    /// How the reader stood to the person: `keyworker`, `prescriber`, `team`, `break_glass` or
    /// `pharmacy`.
    pub relation: String,
}

/// Who read this person's record, newest first (the last 500 reads).
pub async fn access_log(st: &AppState, caller: &Caller, su_id: &str) -> Result<Vec<AccessEntry>> {
    access::person(
        &st.store,
        caller,
        su_id,
        PersonOp::ReadAccessLog,
        access::Via::Api,
    )
    .await?;
    let rows = sqlx::query(
        "SELECT at, staff_id, via, relation FROM access_log WHERE service_user_id = $1 \
         ORDER BY at DESC, id DESC LIMIT 500",
    )
    .bind(su_id)
    .fetch_all(st.store.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AccessEntry {
                at: r.try_get("at")?,
                staff_id: r.try_get("staff_id")?,
                via: r.try_get("via")?,
                relation: r.try_get("relation")?,
            })
        })
        .collect()
}
