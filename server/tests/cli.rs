//! The `sotto-server` binary itself: the bootstrap command prints one JSON line, and the audit
//! check exits 0 on an intact log. (Also makes `cargo test` build the binary that the fault tests
//! in `tests/` run as a real process.)

use std::process::Command;

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sotto-server"))
}

#[test]
fn create_staff_prints_one_json_line_and_the_audit_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let out = server()
        .args([
            "admin",
            "create-staff",
            "--name",
            "Ops",
            "--email",
            "ops@service.test",
            "--role",
            "admin",
        ])
        .env("SOTTO_DATABASE_URL", &db)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(v["token"].as_str().unwrap().starts_with("sotto_"));

    let out = server()
        .args(["admin", "verify-audit"])
        .env("SOTTO_DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn a_bad_role_is_a_clear_error_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let out = server()
        .args([
            "admin",
            "create-staff",
            "--name",
            "X",
            "--email",
            "x@service.test",
            "--role",
            "boss",
        ])
        .env("SOTTO_DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--role"), "{stderr}");
}

#[test]
fn set_password_reads_standard_input_and_refuses_a_short_one() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("s.db").display());
    let made = server()
        .args([
            "admin",
            "create-staff",
            "--name",
            "Ops",
            "--email",
            "ops@service.test",
        ])
        .args(["--role", "admin"])
        .env("SOTTO_DATABASE_URL", &db)
        .output()
        .unwrap();
    assert!(made.status.success());
    let set = |password: &str| {
        let mut child = server()
            .args(["admin", "set-password", "--email", "OPS@service.test"])
            .env("SOTTO_DATABASE_URL", &db)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = set("short");
    assert!(!short.status.success());
    let stderr = String::from_utf8_lossy(&short.stderr);
    assert!(stderr.contains("at least 12 characters"), "{stderr}");
    let ok = set("a long enough password");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("password set"));
    // Stored as an Argon2id PHC string, never as the password itself.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let hash: String = rt.block_on(async {
        let store = sotto_server::core::db::Store::connect(&db).await.unwrap();
        let row = sqlx::query("SELECT password_hash FROM staff WHERE email = 'ops@service.test'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        sqlx::Row::get(&row, "password_hash")
    });
    assert!(
        hash.starts_with("$argon2id$") && !hash.contains("long enough"),
        "{hash}"
    );
}
