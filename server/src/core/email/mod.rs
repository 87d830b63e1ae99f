//! E-mail to staff and (opt-in) service users: missed doses, safety holds, heads-ups.
//!
//! Mail is a transactional outbox: [`queue::enqueue`] inserts a row in the same transaction as the
//! change that causes it, so a mail goes out only if the change commits, and [`worker::run`]
//! delivers queued rows over SMTP (or into a folder of `.eml` files when no relay is configured),
//! retrying with backoff until each is sent. Delivery is at least once: a crash between the relay's
//! "250 OK" and marking the row sent resends it, with the same `Message-ID` so clients can spot it.
//!
//! Personal data: [`templates`] are the only way to build a [`Mail`], and they take a service
//! reference and a link, never a name, medicine or dose. Logs name mail by id and kind only.

pub mod queue;
pub mod templates;
mod transport;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

/// The link an e-mail gives for a person: their page in the staff console. A signed-out
/// browser following it is sent to sign in and then straight back to it.
pub fn person_link(public_url: &str, service_user_id: &str) -> String {
    format!(
        "{}/console/people/{service_user_id}",
        public_url.trim_end_matches('/')
    )
}

/// An e-mail to send. Built only by [`templates`], which guarantee no family name, medicine or
/// dose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// One recipient address, e.g. `kw@service.nhs.uk` or `Name <kw@service.nhs.uk>`.
    pub to: String,
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// e.g. "missed_dose", "safety_hold": for logs/metrics, never personal.
    pub kind: &'static str,
}

/// Mail settings.
#[derive(Clone)]
pub struct MailConfig {
    /// `SOTTO_SMTP_URL`, in lettre's URL grammar (`scheme://user:pass@host:port/ehlo-name?tls=..`):
    ///
    /// * `smtp://host:port` — plain SMTP, no TLS at all (a relay on localhost or a trusted network);
    /// * `smtp://host:port?tls=required` — STARTTLS, refusing to send if the relay doesn't offer it;
    /// * `smtp://host:port?tls=opportunistic` — STARTTLS when offered, else plain (not MITM-safe);
    /// * `smtps://host:port` — implicit TLS ("SMTP over TLS", port 465 by default).
    ///
    /// Default ports: 25 for `smtp://`, 587 with `?tls=...`, 465 for `smtps://`. `user:pass@`
    /// (percent-encoded) enables AUTH; a path sets the EHLO name. Certificates are checked against
    /// the system trust store. `None` writes `.eml` files to [`MailConfig::outbox`] instead.
    pub smtp_url: Option<String>,
    /// `SOTTO_MAIL_OUTBOX`: when `smtp_url` is `None`, one RFC 5322 `.eml` file per message goes
    /// here (created if missing) — for demos and for services that pick mail up from a folder.
    pub outbox: PathBuf,
    /// The `From:` mailbox, e.g. `Sotto <sotto@localhost>`.
    pub from: String,
    /// First retry delay; doubles per attempt, capped at `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often the worker looks for due mail when not woken (mail queued by another server
    /// instance, or a wake-up lost in a crash).
    pub poll_every: Duration,
    /// When mail is due and retries fall due (tests let an hour pass in a moment).
    pub clock: Arc<dyn Clock>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            outbox: "./outbox".into(),
            from: "Sotto <sotto@localhost>".into(),
            retry_base: Duration::from_secs(30),
            // Low enough that once a relay outage ends, every waiting alert goes out within
            // ten minutes (hazard log H18), high enough not to hammer a relay that is down.
            retry_max: Duration::from_secs(10 * 60),
            poll_every: Duration::from_secs(5),
            clock: Arc::new(SystemClock),
        }
    }
}

impl MailConfig {
    /// Checks the SMTP URL and the `From:` address, so start-up can refuse a bad configuration
    /// plainly (the worker would otherwise only log it and leave mail queued). The message names
    /// the variable and never shows the URL's password.
    pub fn validate(&self) -> Result<(), String> {
        transport::Sender::new(self).map(|_| ())
    }
}

// Hand-written so that a password inside the SMTP URL never reaches a log line.
impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field(
                "smtp_url",
                &self.smtp_url.as_deref().map(crate::config::redact_url),
            )
            .field("outbox", &self.outbox)
            .field("from", &self.from)
            .field("retry_base", &self.retry_base)
            .field("retry_max", &self.retry_max)
            .field("poll_every", &self.poll_every)
            .finish()
    }
}
