//! The server's signing key: generated on first start, kept in the database, loaded by every
//! server instance (see `migrations/*/0005_server_key.sql`).

use rand::RngCore;
use sotto_protocol::ServerKey;
use sqlx::Row;

use crate::core::db::{Store, now_text};
use crate::error::{Error, Result};

/// Loads the key, creating it if this is the first start. Two instances starting at once agree:
/// the insert is `ON CONFLICT DO NOTHING` and both then read the row that won.
pub async fn load_or_create(store: &Store) -> Result<ServerKey> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let candidate = ServerKey::from_secret(secret);
    sqlx::query(
        "INSERT INTO server_keys (id, secret, public_key, created_at) VALUES (1, $1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(hex::encode(candidate.secret()))
    .bind(candidate.public().to_string())
    .bind(now_text())
    .execute(store.pool())
    .await?;
    let row = sqlx::query("SELECT secret FROM server_keys WHERE id = 1")
        .fetch_one(store.pool())
        .await?;
    let stored: String = row.try_get("secret")?;
    let bytes: [u8; 32] = hex::decode(stored)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::Internal("the stored server key is malformed".into()))?;
    Ok(ServerKey::from_secret(bytes))
}
