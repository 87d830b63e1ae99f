//! The crate's error type: what can go wrong below the HTTP and MQTT edges.

/// A failure of the local store. Shown to nobody at the counter: logged with its cause, and
/// the page answers with a plain "try again".
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("local store: {0}")]
    Store(#[from] sqlx::Error),
    #[error("local store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("local store holds unreadable data in {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error("sequence number {0} is too large to store")]
    SeqOutOfRange(u64),
}
