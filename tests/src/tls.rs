//! Throwaway certificates for TLS tests: a CA, a server certificate it signs for `localhost` and
//! 127.0.0.1, and a second, unrelated CA (for clients that must refuse our server). PEM files in
//! a temporary folder, as an operator would have them.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

pub struct TestPki {
    dir: tempfile::TempDir,
}

impl TestPki {
    pub fn generate() -> TestPki {
        let dir = tempfile::tempdir().expect("temp dir");
        let (ca_pem, issuer) = ca("Sotto test CA");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("valid names");
        params
            .distinguished_name
            .push(DnType::CommonName, "sotto.test server");
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &issuer).expect("signed");
        let (other_ca_pem, _) = ca("Somebody else's CA");
        let write = |name: &str, contents: String| {
            std::fs::write(dir.path().join(name), contents).expect("write PEM");
        };
        write("ca.pem", ca_pem);
        write("server.pem", cert.pem());
        write("server.key", key.serialize_pem());
        write("other-ca.pem", other_ca_pem);
        TestPki { dir }
    }

    /// The CA that signed the server certificate.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A CA that signed nothing of ours.
    pub fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other-ca.pem")
    }

    /// The server's certificate chain (`SOTTO_TLS_CERT`).
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    /// The server's private key (`SOTTO_TLS_KEY`).
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }

    pub fn files(&self) -> sotto_server::config::TlsFiles {
        sotto_server::config::TlsFiles {
            cert: self.cert(),
            key: self.key(),
        }
    }

    /// A folder for more files (a broken key, a Mosquitto config).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// An HTTP client that trusts this CA only.
    pub fn https_client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.ca()).expect("read CA");
        reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA PEM"))
            .build()
            .expect("client builds")
    }
}

/// A self-signed CA: its PEM, and what signs with it.
fn ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), Issuer::new(params, key))
}
