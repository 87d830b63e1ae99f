//! Turning a queued row into an RFC 5322 message and handing it to the relay or the outbox folder.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::MailConfig;

/// Per SMTP command. A black-holed relay costs at most this per attempt; the claim lease in
/// [`super::queue`] is far longer, so another worker never takes over a mail still being sent.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where mail goes: a relay, or `.eml` files in a folder.
pub(super) enum Sender {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(PathBuf),
}

/// A queued mail as the worker hands it to [`Sender::send`].
pub(super) struct Outgoing<'a> {
    pub id: &'a str,
    pub to: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

impl Sender {
    /// Builds the sender; the error names the variable and never shows the URL's password.
    pub(super) fn new(config: &MailConfig) -> Result<(Sender, Mailbox), String> {
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| format!("mail From address {:?}: {e}", config.from))?;
        let sender = match &config.smtp_url {
            Some(url) => {
                let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| {
                        format!(
                            "SOTTO_SMTP_URL {}: {e} (use smtp://host:port, \
                             smtp://host:port?tls=required or smtps://host:port)",
                            crate::config::redact_url(url)
                        )
                    })?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Sender::Smtp(smtp)
            }
            None => Sender::Folder(config.outbox.clone()),
        };
        Ok((sender, from))
    }

    /// Sends one message. The error text is safe to store and log: it never holds the recipient
    /// or the body (a relay's reply text may quote the address, so only its code is kept).
    pub(super) async fn send(&self, from: &Mailbox, mail: &Outgoing<'_>) -> Result<(), String> {
        let message = build(from, mail)?;
        match self {
            Sender::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| describe(&e)),
            Sender::Folder(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| format!("cannot create the mail outbox folder: {e}"))?;
                AsyncFileTransport::<Tokio1Executor>::new(dir)
                    .send(message)
                    .await
                    .map(drop)
                    .map_err(|e| format!("cannot write to the mail outbox folder: {e}"))
            }
        }
    }
}

/// Is `to` a single address lettre can send to?
pub(super) fn valid_recipient(to: &str) -> bool {
    to.parse::<Mailbox>().is_ok()
}

fn build(from: &Mailbox, mail: &Outgoing<'_>) -> Result<Message, String> {
    // Checked at enqueue; a stored value that no longer parses is reported without echoing it.
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|_| "the stored recipient address does not parse".to_string())?;
    // A stable Message-ID: a resend after a crash is recognisably the same message.
    let domain = from.email.domain();
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject)
        .message_id(Some(format!("<{}@{domain}>", mail.id)))
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.to_string())
        .map_err(|e| format!("cannot build the message: {e}"))
}

fn describe(e: &lettre::transport::smtp::Error) -> String {
    let code = e
        .status()
        .map(|c| format!(" (SMTP {c})"))
        .unwrap_or_default();
    if e.is_permanent() {
        format!("the relay refused the message{code}")
    } else if e.is_transient() {
        format!("the relay deferred the message{code}")
    } else if e.is_response() {
        "the relay sent a reply that could not be understood".into()
    } else {
        // Connection, network, TLS, timeout, client: the text comes from the socket or TLS layer.
        e.to_string()
    }
}
