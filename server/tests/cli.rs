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
