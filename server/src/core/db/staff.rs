//! Staff accounts. Tokens are stored only as hashes.

use sqlx::Row;

use super::audit::{Actor, WriteTx};
use super::{conflict_on_unique, new_id, now_text};
use crate::core::access::Role;
use crate::core::secrets::{hash_secret, new_secret};
use crate::core::values::{Email, Name};
use crate::error::Result;

/// A validated new staff member.
pub struct NewStaff {
    pub name: Name,
    pub email: Email,
    pub role: Role,
    pub pharmacy_id: Option<String>,
}

/// The new account's id and its token (shown once, never stored).
pub struct Created {
    pub id: String,
    pub token: String,
}

pub async fn insert(w: &mut WriteTx, actor: &Actor, s: &NewStaff) -> Result<Created> {
    let id = new_id();
    let token = new_secret("sotto");
    let res = sqlx::query(
        "INSERT INTO staff (id, name, email, role, pharmacy_id, token_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(s.name.as_str())
    .bind(s.email.as_str().to_ascii_lowercase())
    .bind(s.role.as_str())
    .bind(s.pharmacy_id.as_deref())
    .bind(hash_secret(&token))
    .bind(now_text())
    .execute(&mut *w.tx)
    .await;
    conflict_on_unique(res, "email", || {
        "a staff member with this e-mail address already exists".into()
    })?;
    w.audit(
        actor,
        "staff.create",
        &format!("staff:{id}"),
        serde_json::json!({"role": s.role.as_str(), "pharmacy_id": s.pharmacy_id}),
    )
    .await?;
    Ok(Created { id, token })
}

/// The role of a staff member, if they exist (to check a keyworker is a keyworker, ...).
pub async fn role_of(w: &mut WriteTx, id: &str) -> Result<Option<Role>> {
    let row = sqlx::query("SELECT role FROM staff WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *w.tx)
        .await?;
    Ok(match row {
        Some(r) => Role::parse(&r.try_get::<String, _>("role")?),
        None => None,
    })
}

/// Sets (or resets) a staff member's console password and ends their console sessions, so a
/// reset locks out whoever knew the old one. `hash` is an Argon2id PHC string.
pub async fn set_password(
    w: &mut WriteTx,
    actor: &Actor,
    staff_id: &str,
    hash: &str,
) -> Result<bool> {
    let res = sqlx::query("UPDATE staff SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(staff_id)
        .execute(&mut *w.tx)
        .await?;
    if res.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query("DELETE FROM console_sessions WHERE staff_id = $1")
        .bind(staff_id)
        .execute(&mut *w.tx)
        .await?;
    w.audit(
        actor,
        "staff.password_set",
        &format!("staff:{staff_id}"),
        serde_json::json!({}),
    )
    .await?;
    Ok(true)
}

/// A staff member's id by e-mail (case-insensitive, as stored).
pub async fn id_by_email(pool: &sqlx::AnyPool, email: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT id FROM staff WHERE email = $1")
        .bind(email.trim().to_ascii_lowercase())
        .fetch_optional(pool)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("id")?),
        None => None,
    })
}

/// Sets (or clears) a staff member's team, audited with the old and new team.
pub async fn set_team(
    w: &mut WriteTx,
    actor: &Actor,
    staff_id: &str,
    team: Option<&str>,
) -> Result<()> {
    let old: Option<String> = sqlx::query("SELECT team FROM staff WHERE id = $1")
        .bind(staff_id)
        .fetch_one(&mut *w.tx)
        .await?
        .try_get("team")?;
    sqlx::query("UPDATE staff SET team = $1 WHERE id = $2")
        .bind(team)
        .bind(staff_id)
        .execute(&mut *w.tx)
        .await?;
    w.audit(
        actor,
        "staff.team",
        &format!("staff:{staff_id}"),
        serde_json::json!({"from": old, "to": team}),
    )
    .await
}
