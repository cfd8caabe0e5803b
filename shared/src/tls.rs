//! TLS for every outbound connection that is not an AWS SDK client (the
//! PostgreSQL warehouse, fetch-api's HTTP sources): rustls with the platform's
//! roots (Lambda's Amazon Linux trust store) and the aws-lc-rs provider the
//! AWS SDK already links, so no second crypto library (ring, OpenSSL) is built.

use std::sync::Arc;

/// The TLS client settings every outbound connection uses (the warehouse, fetch-api's HTTP).
pub fn rustls_client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
