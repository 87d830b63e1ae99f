//! A private PostgreSQL cluster for one test, on its own port, that the test may stop and start
//! (the shared server at 5432 must never be stopped under other tests).

use std::path::PathBuf;
use std::process::Command;

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn as_postgres(cmd: &str) {
    let status = Command::new("su")
        .args(["postgres", "-s", "/bin/sh", "-c", cmd])
        .status()
        .expect("su runs");
    assert!(status.success(), "as postgres: {cmd}");
}

impl PgCluster {
    /// initdb (trust authentication) and start.
    pub fn start() -> PgCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL server binaries installed")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("initdb").exists())
            .expect("initdb found");
        let dir = tempfile::tempdir().expect("temp dir");
        Command::new("chown")
            .args(["postgres:postgres", dir.path().to_str().unwrap()])
            .status()
            .expect("chown");
        let port = crate::process::free_port();
        let c = PgCluster { dir, bin, port };
        as_postgres(&format!(
            "{} -D {}/data -A trust -U postgres >/dev/null",
            c.bin.join("initdb").display(),
            c.dir.path().display()
        ));
        c.start_again();
        c
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn stop(&self) {
        as_postgres(&format!(
            "{} -D {}/data stop -m fast -w >/dev/null",
            self.bin.join("pg_ctl").display(),
            self.dir.path().display()
        ));
    }

    pub fn start_again(&self) {
        as_postgres(&format!(
            "{} -D {d}/data -l {d}/log -w -o \"-p {p} -k {d} -c listen_addresses=127.0.0.1\" start >/dev/null",
            self.bin.join("pg_ctl").display(),
            d = self.dir.path().display(),
            p = self.port
        ));
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = Command::new("su")
            .args([
                "postgres",
                "-s",
                "/bin/sh",
                "-c",
                &format!(
                    "{} -D {}/data stop -m immediate >/dev/null 2>&1",
                    self.bin.join("pg_ctl").display(),
                    self.dir.path().display()
                ),
            ])
            .status();
    }
}
