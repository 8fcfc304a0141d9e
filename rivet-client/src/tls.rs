//! TLS for `https://` and `wss://` endpoints (feature `tls`): rustls with its ring provider,
//! installed once as the process default, the system's root certificates (which honour
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`) and any an app adds for a private CA.

/// Whether this build reaches `https://` and `wss://` endpoints (the `tls` feature).
pub const ENABLED: bool = cfg!(feature = "tls");

/// Makes rustls usable before an HTTP client is built or a WebSocket dialed: installs its ring
/// provider as the process default, once, unless the app installed one of its own first. Free
/// without the `tls` feature.
///
/// Rivet's own clients (the network client, the envoy, the OTLP exporter) call it. The `tls`
/// feature builds reqwest without a provider of its own, so an app that builds `reqwest`
/// clients before any of those calls it first (reqwest panics otherwise).
pub fn ready() {
    #[cfg(feature = "tls")]
    {
        static INSTALLED: std::sync::Once = std::sync::Once::new();
        INSTALLED.call_once(|| {
            // An error means another provider is the default already: it is used.
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
    }
}

/// Root certificates added to the system's, parsed from PEM.
#[cfg(feature = "tls")]
#[derive(Debug, Clone, Default)]
pub(crate) struct ExtraRoots {
    pem: Vec<u8>,
}

#[cfg(feature = "tls")]
impl ExtraRoots {
    pub(crate) fn add_pem(&mut self, pem: &[u8]) {
        self.pem.extend_from_slice(pem);
        self.pem.push(b'\n');
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pem.is_empty()
    }

    /// The certificates, for reqwest; an error if the PEM given holds none.
    pub(crate) fn for_http(&self) -> Result<Vec<reqwest::Certificate>, String> {
        let certs = reqwest::Certificate::from_pem_bundle(&self.pem).map_err(|e| e.to_string())?;
        if certs.is_empty() {
            return Err("no PEM certificate (`-----BEGIN CERTIFICATE-----`) found".to_owned());
        }
        Ok(certs)
    }

    /// A WebSocket connector that trusts the system's roots and these.
    pub(crate) fn for_websocket(&self) -> Result<WebSocketTls, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;

        let mut roots = rustls::RootCertStore::empty();
        // Unreadable system roots are skipped, as the default connector does.
        let (added, _) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        tracing::debug!(added, "system root certificates");
        for cert in CertificateDer::pem_slice_iter(&self.pem) {
            let cert = cert.map_err(|e| e.to_string())?;
            roots.add(cert).map_err(|e| e.to_string())?;
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(WebSocketTls(tokio_tungstenite::Connector::Rustls(
            std::sync::Arc::new(config),
        )))
    }
}

/// The TLS settings of a client's WebSockets, when they are not tungstenite's defaults.
#[cfg(feature = "tls")]
#[derive(Clone)]
pub(crate) struct WebSocketTls(pub(crate) tokio_tungstenite::Connector);

#[cfg(feature = "tls")]
impl std::fmt::Debug for WebSocketTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebSocketTls(extra roots)")
    }
}
