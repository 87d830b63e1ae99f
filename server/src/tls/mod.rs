//! TLS: the server's certificate for HTTPS and the embedded broker's TLS listener, and what the
//! server trusts when it connects to a broker over `mqtts://`.
//!
//! One crypto provider everywhere, ring (lettre and the rest of the tree use it; a second one
//! compiled in makes rustls panic when asked for "the" default, see TECH.md). Every config here
//! names its provider explicitly, so nothing depends on which library installed the default first.

pub mod listener;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::config::TlsFiles;

/// Makes ring the process-wide default provider, for libraries that ask for the default.
/// Safe to call more than once (tests start many servers in one process).
pub fn install_crypto_provider() {
    // Err means a provider is already installed: fine, as long as it is the only one compiled in.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's certificate, ready for its two TLS listeners.
#[derive(Clone)]
pub struct ServerTls {
    /// HTTPS (ALPN `http/1.1`: the API is served over HTTP/1.1).
    pub http: Arc<ServerConfig>,
    /// The embedded broker's MQTT over TLS.
    pub mqtt: Arc<ServerConfig>,
}

impl ServerTls {
    /// Reads the PEM certificate chain and private key; any problem is a start-up error naming
    /// the variable and the file.
    pub fn load(files: &TlsFiles) -> anyhow::Result<ServerTls> {
        let certs = read_certs(&files.cert).with_context(|| {
            format!(
                "SOTTO_TLS_CERT: cannot use {} as a PEM certificate chain",
                files.cert.display()
            )
        })?;
        let key = PrivateKeyDer::from_pem_file(&files.key)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| {
                format!(
                    "SOTTO_TLS_KEY: cannot read a PEM private key from {}",
                    files.key.display()
                )
            })?;
        let mqtt = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("TLS: no protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .context(
                "SOTTO_TLS_CERT / SOTTO_TLS_KEY: the certificate and key cannot be used together",
            )?;
        let mut http = mqtt.clone();
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            http: Arc::new(http),
            mqtt: Arc::new(mqtt),
        })
    }
}

/// What the server trusts on an `mqtts://` link: the system's roots plus, optionally, a private
/// CA (`SOTTO_MQTT_CA_FILE`).
pub fn client_config(ca_file: Option<&Path>) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    // Unreadable entries in the system store are skipped: one bad file must not stop the link.
    let system = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(system.certs);
    if let Some(path) = ca_file {
        let certs = read_certs(path).with_context(|| {
            format!(
                "SOTTO_MQTT_CA_FILE: cannot use {} as PEM CA certificates",
                path.display()
            )
        })?;
        for cert in certs {
            roots
                .add(cert)
                .with_context(|| format!("SOTTO_MQTT_CA_FILE: {} is not a CA", path.display()))?;
        }
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "mqtts://: no trusted certificates (install the system CA bundle or set SOTTO_MQTT_CA_FILE)"
    );
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS: no protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; none at all is an error (a key file given by mistake).
fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(!certs.is_empty(), "no CERTIFICATE block in the file");
    Ok(certs)
}
