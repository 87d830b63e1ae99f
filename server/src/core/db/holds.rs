//! Holds: attend (placed by the service) and safety (consecutive missed doses).

use sotto_domain::HoldKind;
use sqlx::Row;

use super::audit::{Actor, WriteTx};
use super::{new_id, now_text};
use crate::error::{Error, Result};

/// A hold as stored. `reason` is the service's business and never leaves the service.
#[derive(Debug, Clone)]
pub struct Hold {
    pub id: String,
    pub service_user_id: String,
    pub kind: HoldKind,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: String,
    pub lifted_at: Option<String>,
}

fn kind_str(k: HoldKind) -> &'static str {
    match k {
        HoldKind::Attend => "attend",
        HoldKind::Safety => "safety",
    }
}

/// A stored hold kind.
pub(crate) fn parse_kind(kind: &str) -> Result<HoldKind> {
    match kind {
        "attend" => Ok(HoldKind::Attend),
        "safety" => Ok(HoldKind::Safety),
        _ => Err(Error::Internal("stored hold kind is unknown".into())),
    }
}

fn from_row(r: &sqlx::any::AnyRow) -> Result<Hold> {
    let kind: String = r.try_get("kind")?;
    Ok(Hold {
        id: r.try_get("id")?,
        service_user_id: r.try_get("service_user_id")?,
        kind: parse_kind(&kind)?,
        reason: r.try_get("reason")?,
        placed_by: r.try_get("placed_by")?,
        placed_at: r.try_get("placed_at")?,
        lifted_at: r.try_get("lifted_at")?,
    })
}

const COLUMNS: &str = "id, service_user_id, kind, reason, placed_by, placed_at, lifted_at";

pub async fn place(
    w: &mut WriteTx,
    actor: &Actor,
    service_user_id: &str,
    kind: HoldKind,
    reason: &str,
) -> Result<Hold> {
    let hold = Hold {
        id: new_id(),
        service_user_id: service_user_id.to_string(),
        kind,
        reason: reason.to_string(),
        placed_by: actor.0.clone(),
        placed_at: now_text(),
        lifted_at: None,
    };
    sqlx::query(
        "INSERT INTO holds (id, service_user_id, kind, reason, placed_by, placed_at) \
         VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(&hold.id)
    .bind(service_user_id)
    .bind(kind_str(kind))
    .bind(reason)
    .bind(&actor.0)
    .bind(&hold.placed_at)
    .execute(&mut *w.tx)
    .await?;
    w.audit(
        actor,
        "hold.place",
        &format!("service_user:{service_user_id}"),
        serde_json::json!({"hold_id": hold.id, "kind": kind_str(kind)}),
    )
    .await?;
    Ok(hold)
}

pub async fn get(w: &mut WriteTx, id: &str) -> Result<Option<Hold>> {
    let sql = format!("SELECT {COLUMNS} FROM holds WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Lifts a hold that is still active; returns when.
pub async fn lift(w: &mut WriteTx, actor: &Actor, hold: &Hold, note: &str) -> Result<String> {
    let at = now_text();
    sqlx::query(
        "UPDATE holds SET lifted_by = $1, lifted_at = $2, lift_note = $3 \
         WHERE id = $4 AND lifted_at IS NULL",
    )
    .bind(&actor.0)
    .bind(&at)
    .bind(note)
    .bind(&hold.id)
    .execute(&mut *w.tx)
    .await?;
    w.audit(
        actor,
        "hold.lift",
        &format!("service_user:{}", hold.service_user_id),
        serde_json::json!({"hold_id": hold.id, "kind": kind_str(hold.kind)}),
    )
    .await?;
    Ok(at)
}

/// Holds not yet lifted, oldest first.
pub async fn active<'e, E>(exec: E, service_user_id: &str) -> Result<Vec<Hold>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!(
        "SELECT {COLUMNS} FROM holds WHERE service_user_id = $1 AND lifted_at IS NULL \
         ORDER BY placed_at"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(service_user_id)
        .fetch_all(exec)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Every hold of a person, lifted or not, newest first (the console's history).
pub async fn history<'e, E>(exec: E, service_user_id: &str) -> Result<Vec<Hold>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql =
        format!("SELECT {COLUMNS} FROM holds WHERE service_user_id = $1 ORDER BY placed_at DESC");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(service_user_id)
        .fetch_all(exec)
        .await?;
    rows.iter().map(from_row).collect()
}

/// One hold by id, outside a write transaction (for reading pages).
pub async fn find<'e, E>(exec: E, id: &str) -> Result<Option<Hold>>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let sql = format!("SELECT {COLUMNS} FROM holds WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(exec)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Names the appointment an attend hold waits for, audited.
pub async fn set_appointment(
    w: &mut WriteTx,
    actor: &Actor,
    hold: &Hold,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    sqlx::query("UPDATE holds SET appointment_at = $1 WHERE id = $2")
        .bind(&at)
        .bind(&hold.id)
        .execute(&mut *w.tx)
        .await?;
    w.audit(
        actor,
        "hold.appointment",
        &format!("service_user:{}", hold.service_user_id),
        serde_json::json!({"hold_id": hold.id, "appointment_at": at}),
    )
    .await
}
