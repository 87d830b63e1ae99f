//! Command line: `serve` (default), `admin create-staff|set-password|verify-audit|
//! mosquitto-config|check-pharmacy`, `openapi`.

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::core::access::Role;
use crate::core::db::{Store, audit};
use crate::core::staff::{CreateStaff, create_as};
use crate::{Application, app};

#[derive(Parser, Debug)]
#[command(
    name = "sotto-server",
    version,
    about = "Sotto: instalment dispensing and discreet hold notification for OST"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server (the default). Configuration comes from SOTTO_* variables.
    Serve,
    /// Administration tasks, using the same configuration as the server.
    #[command(subcommand)]
    Admin(Admin),
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Subcommand, Debug)]
pub enum Admin {
    /// Create a staff account and print {"id":..., "token":...} as one JSON line.
    CreateStaff {
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        /// admin, clinician, keyworker or pharmacist
        #[arg(long)]
        role: String,
        /// Required for a pharmacist.
        #[arg(long)]
        pharmacy_id: Option<String>,
    },
    /// Set (or reset) a staff member's console password, read from the first line of standard
    /// input (so it stays out of the shell history and the process list). Ends their sessions.
    SetPassword {
        #[arg(long)]
        email: String,
        /// Filled from standard input by the command line; tests pass it directly.
        #[arg(skip)]
        password: Option<String>,
    },
    /// Check the audit log's hash chain; exits non-zero if any entry was edited or deleted.
    VerifyAudit,
    /// Compare a pharmacy's counter with the server: every person's code and the last change
    /// applied. Prints one JSON report; exits non-zero if they disagree. Without --counter-url,
    /// reports the server's side (committed vs acknowledged by the broker).
    CheckPharmacy {
        /// The pharmacy's id.
        id: String,
        /// The counter client's address as reachable from here, e.g. http://10.0.0.5:8081.
        #[arg(long)]
        counter_url: Option<String>,
    },
    /// Write Mosquitto's password and ACL files for every enrolled pharmacy (re-run after
    /// enrolling one, then send Mosquitto SIGHUP). The server's own broker user and password are
    /// taken from SOTTO_MQTT_URL.
    MosquittoConfig {
        /// Password file to write (mosquitto.conf: password_file).
        #[arg(long)]
        password_file: std::path::PathBuf,
        /// ACL file to write (mosquitto.conf: acl_file).
        #[arg(long)]
        acl_file: std::path::PathBuf,
    },
}

/// Runs the command line with `args`, writing results to `out`. Errors are returned, not printed.
pub async fn main(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            e.print()?;
            return Ok(if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            });
        }
    };
    let config = Config::from_env()?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config).await,
        Command::Openapi => {
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&crate::http::openapi())?
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin(Admin::SetPassword {
            email,
            password: None,
        }) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("Failed to read the password from standard input")?;
            let password = Some(line.trim_end_matches(['\r', '\n']).to_string());
            run_admin(&config, Admin::SetPassword { email, password }, out).await
        }
        Command::Admin(admin) => run_admin(&config, admin, out).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let app = Application::build(config).await?;
    if !any_staff(app.store()).await? {
        tracing::warn!(
            "no staff accounts yet: create the first admin with \
             `sotto-server admin create-staff --name NAME --email EMAIL --role admin`"
        );
    }
    let shutdown = CancellationToken::new();
    app::cancel_on_signal(shutdown.clone());
    app.run(shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn any_staff(store: &Store) -> anyhow::Result<bool> {
    let row = sqlx::query("SELECT id FROM staff LIMIT 1")
        .fetch_optional(store.pool())
        .await?;
    Ok(row.is_some())
}

/// The admin subcommands, callable in-process (tests use this).
pub async fn run_admin(
    config: &Config,
    admin: Admin,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    let store = Store::connect(&config.database_url).await?;
    let code = match admin {
        Admin::CreateStaff {
            name,
            email,
            role,
            pharmacy_id,
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("--role {role:?} is not one of admin, clinician, keyworker, pharmacist")
            })?;
            let req = CreateStaff {
                name,
                email,
                role,
                pharmacy_id,
                team: None,
            };
            let actor = audit::Actor("cli".into());
            let created = create_as(&store, &actor, req).await.map_err(|e| match e {
                crate::error::Error::Validation(errs) => anyhow::anyhow!(
                    "{}",
                    errs.iter()
                        .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                other => anyhow::anyhow!("{other}"),
            })?;
            writeln!(
                out,
                "{}",
                serde_json::json!({"id": created.id, "token": created.token})
            )?;
            ExitCode::SUCCESS
        }
        Admin::MosquittoConfig {
            password_file,
            acl_file,
        } => {
            let url = config
                .mqtt_url
                .as_deref()
                .context("SOTTO_MQTT_URL must name the server's broker user, e.g. mqtt://sotto-server:PASSWORD@host:1883")?;
            let endpoint = crate::sync::parse_mqtt_url(url)?;
            let (Some(user), Some(password)) = (endpoint.username, endpoint.password) else {
                anyhow::bail!(
                    "SOTTO_MQTT_URL must include the server's user and password (mqtt://user:password@host or mqtts://...)"
                );
            };
            let files = crate::sync::mosquitto::files(store.pool(), &user, &password).await?;
            write_private(&password_file, &files.passwords)?;
            write_private(&acl_file, &files.acl)?;
            writeln!(
                out,
                "wrote {} and {}",
                password_file.display(),
                acl_file.display()
            )?;
            ExitCode::SUCCESS
        }
        Admin::CheckPharmacy { id, counter_url } => {
            let report = crate::check::check_pharmacy(&store, &id, counter_url.as_deref()).await?;
            writeln!(out, "{}", serde_json::to_string(&report)?)?;
            if report.agree {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Admin::SetPassword { email, password } => {
            let password = password.unwrap_or_default();
            crate::core::passwords::validate("password", &password)
                .map_err(|e| anyhow::anyhow!("the password {}", e.message))?;
            let id = crate::core::db::staff::id_by_email(store.pool(), &email)
                .await?
                .with_context(|| format!("no staff member has the e-mail address {email}"))?;
            let mut w = store.write().await?;
            crate::core::db::staff::set_password(
                &mut w,
                &audit::Actor("cli".into()),
                &id,
                &crate::core::passwords::hash(&password),
            )
            .await?;
            w.commit().await?;
            writeln!(out, "password set for staff {id}")?;
            ExitCode::SUCCESS
        }
        Admin::VerifyAudit => {
            let v = audit::verify(store.pool()).await?;
            writeln!(out, "{}", serde_json::to_string(&v)?)?;
            match v.broken {
                None => ExitCode::SUCCESS,
                Some(b) => {
                    tracing::error!(seq = b.seq, problem = %b.problem, "audit chain broken");
                    ExitCode::FAILURE
                }
            }
        }
    };
    store.close().await;
    Ok(code)
}

/// Writes a file readable only by its owner (it holds password hashes).
fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("Failed to write {}", path.display()))?;
    f.write_all(contents.as_bytes())?;
    Ok(())
}
