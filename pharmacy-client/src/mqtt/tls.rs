//! What the client trusts on an `mqtts://` broker: the system's roots plus, optionally, the
//! service's private CA (`SOTTO_MQTT_CA_FILE`). ring is the only crypto provider compiled in
//! (a second one makes rustls panic), and it is named here rather than taken as a default.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Built once at start-up, so a missing or bad CA file stops the client with a clear message.
pub(crate) fn client_config(ca_file: Option<&Path>) -> anyhow::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    // Unreadable entries in the system store are skipped: one bad file must not stop the link.
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = ca_file {
        let context = || {
            format!(
                "SOTTO_MQTT_CA_FILE: cannot use {} as PEM CA certificates",
                path.display()
            )
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(context)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(context)?;
        anyhow::ensure!(
            !certs.is_empty(),
            "{}: no CERTIFICATE in the file",
            context()
        );
        for cert in certs {
            roots.add(cert).with_context(context)?;
        }
    }
    anyhow::ensure!(
        !roots.is_empty(),
        "mqtts://: no trusted certificates (install the system CA bundle or set SOTTO_MQTT_CA_FILE)"
    );
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS: no protocol versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
