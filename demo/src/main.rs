//! `cargo run -p sotto-demo`: the newcomer's first command. Runs the real server on embedded
//! defaults in a temporary folder, seeds a pharmacy, staff and service users through the real
//! API, runs a pharmacy counter client beside it, and prints how to look around. Its own crate,
//! so the server does not depend on the pharmacy client.

#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{Datelike, Duration};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use sotto_server::config::Config;
use sotto_server::core::access::Role;
use sotto_server::core::db::audit::Actor;
use sotto_server::core::staff::{CreateStaff, create_as};
use sotto_server::{Application, app};

#[tokio::main]
async fn main() -> ExitCode {
    sotto_server::telemetry::init();
    let result = match Config::from_env() {
        Ok(config) => run(config, &mut std::io::stdout()).await,
        Err(e) => Err(e.into()),
    };
    result.unwrap_or_else(|e| {
        eprintln!("sotto-demo: {e:#}");
        ExitCode::FAILURE
    })
}

async fn run(mut config: Config, out: &mut impl Write) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("sotto-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("Failed to create the demo folder")?;
    config.database_url = format!("sqlite://{}", dir.join("sotto.db").display());
    config.mail_outbox = dir.join("outbox");
    config
        .service_phone
        .get_or_insert_with(|| "0300 000 0000 (demo)".into());
    // A demo must start anywhere: unless told otherwise, the embedded broker takes any free
    // port (1883 is often held by a system broker).
    if std::env::var_os("SOTTO_MQTT_EMBEDDED_ADDR").is_none() {
        config.mqtt_embedded_addr.set_port(0);
    }
    let app = Application::build(config).await?;
    let addr = app.local_addr();
    let seeded = seed(&app).await?;
    let shutdown = CancellationToken::new();
    let counter = start_counter(&app, &seeded, &dir, shutdown.clone()).await?;
    print_intro(out, addr, counter, &dir, &seeded)?;
    app::cancel_on_signal(shutdown.clone());
    app.run(shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// Runs the pharmacy client beside the server, as a pharmacy would, on the demo pharmacy's
/// credentials.
async fn start_counter(
    app: &Application,
    seeded: &Seeded,
    dir: &std::path::Path,
    shutdown: CancellationToken,
) -> anyhow::Result<std::net::SocketAddr> {
    let http_addr = match std::env::var("SOTTO_COUNTER_ADDR") {
        Ok(v) => v
            .parse()
            .context("SOTTO_COUNTER_ADDR is not an address like 127.0.0.1:8081")?,
        Err(_) => ([127, 0, 0, 1], 8081).into(),
    };
    let client = sotto_pharmacy::PharmacyClient::build(sotto_pharmacy::Config {
        pharmacy_id: seeded.pharmacy_id.clone(),
        mqtt_url: format!("mqtt://127.0.0.1:{}", app.broker_addr().port()),
        mqtt_ca_file: None,
        mqtt_username: seeded.mqtt_username.clone(),
        mqtt_password: seeded.mqtt_password.clone(),
        data_dir: dir.join("pharmacy"),
        http_addr,
        stale_after: std::time::Duration::from_secs(15 * 60),
        keep_alive: std::time::Duration::from_secs(30),
        max_clock_skew: std::time::Duration::from_secs(120),
        server_key: seeded
            .server_key
            .parse()
            .map_err(|e| anyhow::anyhow!("server key: {e}"))?,
        api_token: None,
        counter_hosts: Vec::new(),
    })
    .await
    .context("Failed to start the demo counter (set SOTTO_COUNTER_ADDR if 8081 is taken)")?;
    let addr = client.http_addr();
    tokio::spawn(async move {
        if let Err(e) = client.run(shutdown).await {
            tracing::error!(error = %e, "demo counter stopped");
        }
    });
    Ok(addr)
}

fn print_intro(
    out: &mut impl Write,
    addr: std::net::SocketAddr,
    counter: std::net::SocketAddr,
    dir: &std::path::Path,
    seeded: &Seeded,
) -> anyhow::Result<()> {
    writeln!(out, "Sotto demo (data in {})", dir.display())?;
    writeln!(
        out,
        "  server API    http://{addr}   (OpenAPI: /api/v1/openapi.json)"
    )?;
    writeln!(out, "  counter page  http://{counter}/?reference=SU-1042")?;
    writeln!(
        out,
        "  counter API   token in {} (Authorization: Bearer …)",
        dir.join("pharmacy").join("api-token").display()
    )?;
    writeln!(out, "  staff console http://{addr}/console")?;
    writeln!(
        out,
        "\nConsole sign-in (password for each: {DEMO_PASSWORD}):"
    )?;
    for (role, _) in &seeded.tokens {
        if *role != "pharmacist" {
            writeln!(out, "  {role:<11} {role}@demo.sotto.invalid")?;
        }
    }
    writeln!(
        out,
        "\nStaff tokens (send as 'Authorization: Bearer <token>'):"
    )?;
    for (role, token) in &seeded.tokens {
        writeln!(out, "  {role:<11} {token}")?;
    }
    writeln!(
        out,
        "\nPharmacy {} ({}), service users:",
        seeded.pharmacy_ods, seeded.pharmacy_id
    )?;
    for (reference, id, note) in &seeded.people {
        writeln!(out, "  {reference}  {id}  {note}")?;
    }
    let (reference, id, _) = &seeded.people[0];
    let keyworker = &seeded.tokens[2].1;
    writeln!(
        out,
        "\nPlace a hold on {reference} and watch the counter page change to D:\n  \
         curl -s -X POST -H 'Authorization: Bearer {keyworker}' -H 'Content-Type: application/json' \\\n    \
         -d '{{\"reason\":\"please ring us\"}}' http://{addr}/api/v1/service-users/{id}/holds\n\
         Lift it with POST /api/v1/holds/<id>/lift and it goes back to A. Ctrl-C stops."
    )?;
    out.flush()?;
    Ok(())
}

/// Every demo staff member's console password (the demo is local and throwaway).
const DEMO_PASSWORD: &str = "sotto-demo-password";

struct Seeded {
    tokens: Vec<(&'static str, String)>,
    pharmacy_id: String,
    mqtt_username: String,
    mqtt_password: String,
    server_key: String,
    pharmacy_ods: &'static str,
    people: Vec<(String, String, &'static str)>,
}

async fn seed(app: &Application) -> anyhow::Result<Seeded> {
    let store = app.store();
    let admin = create_as(
        store,
        &Actor("demo".into()),
        CreateStaff {
            name: "Demo Admin".into(),
            email: "admin@demo.sotto.invalid".into(),
            role: Role::Admin,
            pharmacy_id: None,
            team: None,
        },
    )
    .await?;
    let api = Api {
        app_router: sotto_server::web::router(app.state().clone()),
    };
    let pharmacy = api
        .post(
            &admin.token,
            "/api/v1/pharmacies",
            json!({"ods_code": "FDEMO", "name": "Demo Pharmacy",
            "closed_weekdays": ["sun"], "closing_time": "18:00", "timezone": "Europe/London"}),
        )
        .await?;
    let pid = pharmacy["id"].as_str().context("pharmacy id")?.to_string();
    let staff = |name: &str, role: &str| {
        let body = json!({"name": name, "email": format!("{role}@demo.sotto.invalid"), "role": role,
            "pharmacy_id": (role == "pharmacist").then_some(pid.clone())});
        let api = &api;
        let admin = admin.token.clone();
        async move { api.post(&admin, "/api/v1/staff", body).await }
    };
    let clinician = staff("Dr Demo", "clinician").await?;
    let keyworker = staff("Kay Worker", "keyworker").await?;
    let pharmacist = staff("Pat Pharmacist", "pharmacist").await?;
    let tok = |v: &Value| v["token"].as_str().unwrap_or_default().to_string();
    // Console passwords, set the way `admin set-password` does.
    let mut w = store.write().await?;
    let hash = sotto_server::core::passwords::hash(DEMO_PASSWORD);
    for id in [
        admin.id.as_str(),
        clinician["id"].as_str().unwrap_or_default(),
        keyworker["id"].as_str().unwrap_or_default(),
    ] {
        sotto_server::core::db::staff::set_password(&mut w, &Actor("demo".into()), id, &hash)
            .await?;
    }
    w.commit().await?;
    let (ct, kt) = (tok(&clinician), tok(&keyworker));

    // Prescriptions start today and run 14 days; Saturday covers Sunday (the pharmacy is shut).
    let today = chrono::Utc::now().date_naive();
    let daily = json!([
        {"weekday":"mon","days":1,"supervised":true}, {"weekday":"tue","days":1,"supervised":true},
        {"weekday":"wed","days":1,"supervised":true}, {"weekday":"thu","days":1,"supervised":true},
        {"weekday":"fri","days":1,"supervised":true}, {"weekday":"sat","days":2,"supervised":true}]);
    let weekly = json!([{"weekday": "sat", "days": 7, "supervised": false}]);
    let start = if today.weekday() == chrono::Weekday::Sun {
        today - Duration::days(1)
    } else {
        today
    };
    let mut people = Vec::new();
    for (i, (given, family, pattern, note)) in [
        ("Alex", "Demo", &daily, "daily supervised"),
        ("Sam", "Example", &weekly, "weekly take-home"),
        ("Jo", "Sample", &daily, "attend hold placed (code D)"),
    ]
    .into_iter()
    .enumerate()
    {
        let reference = format!("SU-{}", 1042 + i);
        let su = api
            .post(
                &kt,
                "/api/v1/service-users",
                json!({"reference": reference,
            "given_name": given, "family_name": family, "date_of_birth": "1985-04-12",
            "pharmacy_id": pid, "keyworker_id": keyworker["id"], "prescriber_id": clinician["id"]}),
            )
            .await?;
        let id = su["id"].as_str().context("service user id")?.to_string();
        api.post(
            &ct,
            &format!("/api/v1/service-users/{id}/prescriptions"),
            json!({
            "medicine": "methadone_oral_solution_1mg_ml", "daily_dose_mg": 60,
            "start_date": start.to_string(), "end_date": (start + Duration::days(13)).to_string(),
            "collections": pattern}),
        )
        .await?;
        if i == 2 {
            api.post(
                &kt,
                &format!("/api/v1/service-users/{id}/holds"),
                json!({"reason": "please attend for a review"}),
            )
            .await?;
        }
        people.push((reference, id, note));
    }
    Ok(Seeded {
        tokens: vec![
            ("admin", admin.token),
            ("clinician", ct),
            ("keyworker", kt),
            ("pharmacist", tok(&pharmacist)),
        ],
        pharmacy_id: pid,
        mqtt_username: pharmacy["mqtt_username"]
            .as_str()
            .unwrap_or_default()
            .into(),
        server_key: pharmacy["server_public_key"]
            .as_str()
            .unwrap_or_default()
            .into(),
        mqtt_password: pharmacy["mqtt_password"]
            .as_str()
            .unwrap_or_default()
            .into(),
        pharmacy_ods: "FDEMO",
        people,
    })
}

/// Seeds through the real router, so the demo data passes every validation rule.
struct Api {
    app_router: axum::Router,
}

impl Api {
    async fn post(&self, token: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let req = Request::post(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))?;
        let res = self.app_router.clone().oneshot(req).await?;
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20).await?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status != StatusCode::CREATED && status != StatusCode::OK {
            bail!("demo seeding: POST {path} answered {status}: {v}");
        }
        Ok(v)
    }
}
