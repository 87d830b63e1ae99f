//! A world for push scenarios: the server on an embedded broker or a private Mosquitto, two
//! enrolled pharmacies, a person with a daily prescription covering today, and a counter.

use std::time::Duration;

use chrono::Duration as Days;
use serde_json::json;

use crate::counter::{Counter, Enrolled};
use crate::mosquitto::Mosquitto;
use crate::smtp::Smtp;
use crate::tls::TestPki;
use crate::{Backend, Staff, TestApp, service_user_body};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    Embedded,
    Mosquitto,
}

/// Generates `embedded::NAME` and `mosquitto::NAME` from `async fn NAME(w: PushWorld)`.
#[macro_export]
macro_rules! on_both_brokers {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let w = $crate::push::PushWorld::start($crate::push::BrokerKind::Embedded).await;
                    super::$name(w).await;
                }
            )*
        }
        mod mosquitto {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let w = $crate::push::PushWorld::start($crate::push::BrokerKind::Mosquitto).await;
                    super::$name(w).await;
                }
            )*
        }
    };
}

/// Generates a test per broker and database from `async fn NAME(kind, backend)`.
#[macro_export]
macro_rules! on_all_setups {
    ($($name:ident),* $(,)?) => {
        mod embedded_sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::push::BrokerKind::Embedded, $crate::Backend::Sqlite).await; } )*
        }
        mod embedded_postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::push::BrokerKind::Embedded, $crate::Backend::Postgres).await; } )*
        }
        mod mosquitto_sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::push::BrokerKind::Mosquitto, $crate::Backend::Sqlite).await; } )*
        }
        mod mosquitto_postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name($crate::push::BrokerKind::Mosquitto, $crate::Backend::Postgres).await; } )*
        }
    };
}

pub const REFERENCE: &str = "SU-1042";

pub struct PushWorld {
    pub kind: BrokerKind,
    /// The real SMTP server the app delivers to.
    pub smtp: Smtp,
    pub app: TestApp,
    pub mosquitto: Option<Mosquitto>,
    pub pharmacy: Enrolled,
    pub other_pharmacy: Enrolled,
    pub clinician: Staff,
    pub keyworker: Staff,
    pub service_user: String,
    pub prescription: String,
}

/// The service's own inbox in a push world (urgent notices to the service go there).
pub const SERVICE_EMAIL: &str = "service@sotto.test";

impl PushWorld {
    pub async fn start(kind: BrokerKind) -> PushWorld {
        Self::start_on(kind, Backend::Sqlite, 1).await
    }

    /// On a chosen database, with the prescription starting `started_days_ago`.
    pub async fn start_on(kind: BrokerKind, backend: Backend, started_days_ago: i64) -> PushWorld {
        Self::start_full(kind, backend, started_days_ago, None).await
    }

    /// Everything over TLS with `pki`'s certificate: HTTPS, and the embedded broker's TLS
    /// listener or a Mosquitto TLS listener (which the server's own link then uses too).
    pub async fn start_tls(kind: BrokerKind, pki: &TestPki) -> PushWorld {
        Self::start_full(kind, Backend::Sqlite, 1, Some(pki)).await
    }

    async fn start_full(
        kind: BrokerKind,
        backend: Backend,
        started_days_ago: i64,
        tls: Option<&TestPki>,
    ) -> PushWorld {
        let smtp = Smtp::start();
        let mosquitto = match (kind, tls) {
            (BrokerKind::Embedded, _) => None,
            (BrokerKind::Mosquitto, None) => Some(Mosquitto::start().await),
            (BrokerKind::Mosquitto, Some(pki)) => Some(Mosquitto::start_with_tls(pki).await),
        };
        let url = mosquitto.as_ref().map(|m| match tls {
            Some(_) => m.server_tls_url(),
            None => m.server_url(),
        });
        let smtp_url = smtp.url();
        let mut app = TestApp::spawn_with(backend, |c| {
            if let Some(pki) = tls {
                c.tls = Some(pki.files());
                c.mqtt_ca_file = Some(pki.ca());
            }
            c.mqtt_url = url;
            c.heartbeat_interval = Duration::from_millis(500);
            c.service_phone = Some("0300 123 4567".into());
            c.smtp_url = Some(smtp_url);
            c.mail_retry_base = Duration::from_millis(100);
            c.public_url = "https://sotto.test".into();
            c.service_email = Some(SERVICE_EMAIL.into());
        })
        .await;
        if let Some(pki) = tls {
            app.client = pki.https_client();
        }
        let pharmacy = app.enrol_pharmacy("FA001", &[]).await;
        let other_pharmacy = app.enrol_pharmacy("FB002", &[]).await;
        if let Some(m) = &mosquitto {
            m.configure(&app).await;
        }
        let clinician = app.staff("clinician", None).await;
        let keyworker = app.staff("keyworker", None).await;
        let (status, su) = app
            .post(
                &keyworker.token,
                "/api/v1/service-users",
                service_user_body(REFERENCE, &pharmacy.id, &keyworker.id, &clinician.id),
            )
            .await;
        assert_eq!(status, 201, "{su}");
        let service_user = su["id"].as_str().unwrap().to_string();
        // Started yesterday, every day a supervised collection: today is always code A, and
        // any day from today on can take a regime change.
        let start = crate::pharmacy_today() - Days::days(started_days_ago);
        let (status, p) = app
            .post(
                &clinician.token,
                &format!("/api/v1/service-users/{service_user}/prescriptions"),
                crate::prescription_body(start, 14, crate::every_day_supervised()),
            )
            .await;
        assert_eq!(status, 201, "{p}");
        PushWorld {
            kind,
            smtp,
            prescription: p["id"].as_str().unwrap().to_string(),
            app,
            mosquitto,
            pharmacy,
            other_pharmacy,
            clinician,
            keyworker,
            service_user,
        }
    }

    /// The days without a dose the server holds for `su` (`GET …/missed-doses`, as the keyworker).
    pub async fn missed_doses(&self, su: &str) -> Vec<serde_json::Value> {
        let (status, body) = self
            .app
            .get(
                &self.keyworker.token,
                &format!("/api/v1/service-users/{su}/missed-doses"),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body.as_array().unwrap().clone()
    }

    pub fn broker_port(&self) -> u16 {
        self.app.broker_addr.port()
    }

    /// Where pharmacies reach the broker over TLS: the embedded broker's TLS listener, or the
    /// external broker the server itself reaches over `mqtts://`.
    pub fn broker_tls_port(&self) -> u16 {
        self.app
            .broker_tls_addr
            .unwrap_or(self.app.broker_addr)
            .port()
    }

    pub async fn counter(&self, stale_after: Duration) -> Counter {
        Counter::start(&self.pharmacy, self.broker_port(), stale_after).await
    }

    pub async fn place_hold(&self) -> String {
        let path = format!("/api/v1/service-users/{}/holds", self.service_user);
        let (status, hold) = self
            .app
            .post(
                &self.keyworker.token,
                &path,
                json!({"reason": "please ring us about your review"}),
            )
            .await;
        assert_eq!(status, 201, "{hold}");
        hold["id"].as_str().unwrap().to_string()
    }

    pub async fn lift_hold(&self, id: &str) {
        let (status, b) = self
            .app
            .post(
                &self.keyworker.token,
                &format!("/api/v1/holds/{id}/lift"),
                json!({"note": "spoke"}),
            )
            .await;
        assert_eq!(status, 200, "{b}");
    }

    /// Changes the daily dose from today.
    pub async fn change_dose(&self, mg: f64) {
        let today = crate::pharmacy_today();
        let (status, b) = self
            .app
            .post(
                &self.clinician.token,
                &format!("/api/v1/prescriptions/{}/regime-changes", self.prescription),
                json!({"effective_from": today.to_string(), "daily_dose_mg": mg, "reason": "titration"}),
            )
            .await;
        assert_eq!(status, 201, "{b}");
    }

    /// The pharmacy's latest sequence number on the server.
    pub async fn server_seq(&self) -> i64 {
        let store = self.app.db().await;
        let row = sqlx::query("SELECT seq FROM pharmacies WHERE id = $1")
            .bind(&self.pharmacy.id)
            .fetch_one(store.pool())
            .await
            .unwrap();
        let seq = sqlx::Row::get::<i64, _>(&row, "seq");
        store.close().await;
        seq
    }

    /// The server's signing key, read from its database (to replay authentic messages).
    pub async fn server_signing_key(&self) -> sotto_protocol::ServerKey {
        let store = self.app.db().await;
        let key = sotto_server::sync::signing::load_or_create(&store)
            .await
            .unwrap();
        store.close().await;
        key
    }

    /// The stored outbox payload of one delta (to replay it).
    pub async fn outbox_payload(&self, seq: i64) -> String {
        let store = self.app.db().await;
        let row = sqlx::query("SELECT payload FROM outbox WHERE pharmacy_id = $1 AND seq = $2")
            .bind(&self.pharmacy.id)
            .bind(seq)
            .fetch_one(store.pool())
            .await
            .unwrap();
        let payload = sqlx::Row::get::<String, _>(&row, "payload");
        store.close().await;
        payload
    }
}
