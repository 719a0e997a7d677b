//! TLS for `wss://`: rustls (with *ring*) checking the server against the
//! system's root certificates, plus any extra roots the caller trusts.
//! Without extra roots, tokio-tungstenite builds the same configuration
//! itself; this module is only for callers that pin a private CA.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_tungstenite::Connector;

/// A connector trusting the system's roots and the certificates in `pem`.
pub(crate) fn connector(pem: &[u8]) -> Result<Connector, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("the extra root certificates are not PEM: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("an extra root certificate is unusable: {e}"))?;
        added += 1;
    }
    if added == 0 {
        return Err("no certificate found in the extra root certificates".to_owned());
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Connector::Rustls(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_root() {
        assert_eq!(
            connector(b"hello").err().as_deref(),
            Some("no certificate found in the extra root certificates")
        );
        let broken = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
        assert!(
            connector(broken)
                .err()
                .is_some_and(|e| e.starts_with("the extra root certificates are not PEM")),
        );
    }
}
