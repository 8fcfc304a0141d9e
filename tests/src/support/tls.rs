//! A TLS-terminating proxy for the TLS tests: `https://localhost:<port>` in front of a plain
//! TCP address (our server, the engine), with a certificate that a private CA of the test
//! signed, as a load balancer or Rivet Cloud would put in front of a service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::sync::within;

/// A running proxy; it stops with the test's runtime.
#[derive(Debug)]
pub struct TlsProxy {
    /// `https://localhost:<port>`.
    pub url: String,
    /// The test CA's certificate (PEM), which a client must trust.
    pub ca_pem: String,
    /// The same, in a file (for `SSL_CERT_FILE` of a child process).
    pub ca_file: PathBuf,
    _dir: tempfile::TempDir,
}

/// Starts a proxy on a free loopback port that terminates TLS for `localhost` and forwards
/// each connection to `target`.
pub async fn tls_proxy(target: SocketAddr) -> TlsProxy {
    rivet_core::client::tls::ready();
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rivet test CA");
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
        .expect("server params")
        .signed_by(&key, &issuer)
        .expect("server certificate");
    let config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .expect("server config");
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = within(TcpListener::bind("127.0.0.1:0"))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((incoming, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(incoming).await else {
                    return;
                };
                let Ok(mut upstream) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });

    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    let ca_pem = ca_cert.pem();
    std::fs::write(&ca_file, &ca_pem).expect("write the CA");
    TlsProxy {
        url: format!("https://localhost:{port}"),
        ca_pem,
        ca_file,
        _dir: dir,
    }
}
