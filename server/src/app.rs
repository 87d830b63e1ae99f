//! Start-up and shutdown: `Application::build` binds (port 0 allowed) and starts the MQTT side;
//! `run` serves until told to stop, then drains requests and stops every background task.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::core::AppState;
use crate::core::db::Store;
use crate::sync::{self, SyncHandle};
use crate::tls::listener::TlsListener;

pub struct Application {
    /// Mail worker and schedulers (the MQTT side has its own).
    tasks: TaskTracker,
    listener: TcpListener,
    /// Set when `SOTTO_TLS_CERT`/`KEY` are: HTTPS on `listener`.
    https: Option<Arc<rustls::ServerConfig>>,
    state: AppState,
    sync: SyncHandle,
    /// Stops the background tasks once the HTTP server has drained.
    tasks_stop: CancellationToken,
}

impl Application {
    /// Connects to the database (migrating it), binds the HTTP listener, starts the embedded
    /// broker (unless an external one is configured) and the MQTT link.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        crate::tls::install_crypto_provider();
        // Before anything else, so a bad certificate stops start-up with nothing half-started.
        let tls = config
            .tls
            .as_ref()
            .map(crate::tls::ServerTls::load)
            .transpose()?;
        let store = Store::connect(&config.database_url).await?;
        let listener = TcpListener::bind(config.http_addr).await.with_context(|| {
            format!(
                "Failed to listen on {} (is the port taken? set SOTTO_HTTP_ADDR)",
                config.http_addr
            )
        })?;
        let tasks_stop = CancellationToken::new();
        let mail = mail_config(&config);
        mail.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        let broker_tls = tls.as_ref().map(|t| t.mqtt.clone());
        let sync = sync::start(&config, store.clone(), broker_tls, tasks_stop.clone()).await?;
        // The embedded broker may have been given port 0: record where it really listens (the
        // console's enrolment page tells pharmacies).
        let mut config = config;
        if config.mqtt_url.is_none() {
            config.mqtt_embedded_addr = sync.broker_addr;
        }
        let tasks = TaskTracker::new();
        tasks.spawn(crate::core::email::worker::run(
            store.clone(),
            mail,
            store.mail_wake(),
            tasks_stop.clone(),
        ));
        if config.run_schedulers {
            tasks.spawn(crate::core::dispensing::schedulers::run(
                store.clone(),
                schedule_settings(&config),
                tasks_stop.clone(),
            ));
        }
        let auth_limiter = Arc::new(crate::auth_limit::AuthLimiter::new(
            config.auth_max_failures,
            std::time::Duration::from_secs(60),
        ));
        Ok(Application {
            tasks,
            listener,
            https: tls.map(|t| t.http),
            state: AppState {
                store,
                config: Arc::new(config),
                link: Some(Arc::new(sync.link.clone())),
                server_public_key: sync.public_key.to_string(),
                auth_limiter,
            },
            sync,
            tasks_stop,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// Where pharmacies reach the broker (embedded or external).
    pub fn broker_addr(&self) -> SocketAddr {
        self.sync.broker_addr
    }

    /// Where pharmacies reach the embedded broker over TLS (with a certificate configured).
    pub fn broker_tls_addr(&self) -> Option<SocketAddr> {
        self.sync.broker_tls_addr
    }

    /// The server's own broker endpoint and credentials.
    pub fn broker_endpoint(&self) -> &crate::sync::link::Endpoint {
        &self.sync.endpoint
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` is cancelled, then drains requests, stops the MQTT side and
    /// closes the pool.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let store = self.state.store.clone();
        let router = crate::web::router(self.state);
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        let addr = self.listener.local_addr()?;
        let served = match self.https {
            None => {
                tracing::info!(%addr, "sotto-server listening (HTTP)");
                axum::serve(self.listener, service)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
            }
            Some(tls) => {
                tracing::info!(%addr, "sotto-server listening (HTTPS)");
                // `tap_io`: axum provides `ConnectInfo<SocketAddr>` for any tapped listener whose
                // address is a SocketAddr (the orphan rule keeps us from providing it for ours).
                let listener = TlsListener::new(self.listener, tls)?.tap_io(|_| {});
                axum::serve(listener, service)
                    .with_graceful_shutdown(shutdown.cancelled_owned())
                    .await
            }
        }
        .context("HTTP server failed");
        self.tasks_stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        self.sync.stopped().await;
        store.close().await;
        tracing::info!("sotto-server stopped");
        served
    }
}

/// Mail settings from the server configuration.
pub fn mail_config(config: &Config) -> crate::core::email::MailConfig {
    crate::core::email::MailConfig {
        smtp_url: config.smtp_url.clone(),
        outbox: config.mail_outbox.clone(),
        from: config.mail_from.clone(),
        retry_base: config.mail_retry_base,
        ..crate::core::email::MailConfig::default()
    }
}

fn schedule_settings(config: &Config) -> crate::core::dispensing::schedulers::ScheduleSettings {
    crate::core::dispensing::schedulers::ScheduleSettings {
        alerts: crate::core::dispensing::alerts::AlertSettings::from_config(config),
        service_email: config.service_email.clone(),
        silence_after: chrono::Duration::hours(2),
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
pub fn cancel_on_signal(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler");
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutdown requested");
        token.cancel();
    });
}
