//! The embedded broker: runs in-process when no `SOTTO_MQTT_URL` is set, so `sotto-server`
//! alone is a working system. It asks our database who a client is, and its ACL keeps each
//! pharmacy to its own two topics.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sotto_broker::{Authenticator, Broker, BrokerConfig, BrokerTls, Identity};
use sqlx::Row;

use super::link::Endpoint;
use crate::config::Config;
use crate::core::db::Store;
use crate::core::secrets::{hash_secret, new_secret};

/// The server's own broker user; its password is fresh each start (nobody else needs it).
const SERVER_USER: &str = "sotto-server";

struct DbAuth {
    store: Store,
    server_password_hash: String,
}

impl Authenticator for DbAuth {
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a [u8],
    ) -> Pin<Box<dyn Future<Output = Option<Identity>> + Send + 'a>> {
        Box::pin(async move {
            let password = std::str::from_utf8(password).ok()?;
            let hash = hash_secret(password);
            if username == SERVER_USER {
                return (hash == self.server_password_hash).then_some(Identity::Server);
            }
            let row = sqlx::query(
                "SELECT id FROM pharmacies WHERE mqtt_username = $1 AND mqtt_password_hash = $2",
            )
            .bind(username)
            .bind(&hash)
            .fetch_optional(self.store.pool())
            .await;
            match row {
                Ok(Some(r)) => r
                    .try_get::<String, _>("id")
                    .ok()
                    .map(|pharmacy_id| Identity::Pharmacy { pharmacy_id }),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "broker authentication: database unavailable");
                    None
                }
            }
        })
    }
}

/// Starts the broker and returns how the server itself connects to it.
/// With `tls`, pharmacies may also connect over TLS on `config.mqtt_embedded_tls_addr`.
pub async fn start(
    config: &Config,
    store: Store,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<(Broker, Endpoint)> {
    let server_password = new_secret("broker");
    let auth = Arc::new(DbAuth {
        store,
        server_password_hash: hash_secret(&server_password),
    });
    let broker = Broker::start(
        BrokerConfig {
            addr: config.mqtt_embedded_addr,
            tls: tls.map(|server_config| BrokerTls {
                addr: config.mqtt_embedded_tls_addr,
                server_config,
            }),
            ..BrokerConfig::default()
        },
        auth,
    )
    .await?;
    let addr = broker.local_addr();
    tracing::info!(%addr, "embedded MQTT broker listening");
    let endpoint = Endpoint {
        host: addr.ip().to_string(),
        port: addr.port(),
        username: Some(SERVER_USER.into()),
        password: Some(server_password),
        client_id: config.mqtt_client_id.clone(),
        // The server and its broker share a process and a machine: loopback needs no TLS.
        tls: None,
    };
    Ok((broker, endpoint))
}
