//! `https` support (cargo feature `tls`, on by default): rustls with the
//! `ring` provider, TLS 1.2 and 1.3, ALPN `http/1.1`, server certificates
//! checked against the URL's host name or IP address and against
//!
//! - the default roots: the system's (read once per process through
//!   `rustls-native-certs`, which honours `SSL_CERT_FILE` and
//!   `SSL_CERT_DIR`), or the Mozilla roots from `webpki-roots` when the
//!   system has none;
//! - plus a policy's own CA certificates ([`crate::Policy::ca_certificates`],
//!   `ca_file` in configuration), if any;
//! - or exactly the roots a caller supplies
//!   ([`crate::Gateway::with_root_certificates`]).
//!
//! The TLS session runs over the `TcpStream` the gateway already connected
//! to a checked address; TLS never triggers a lookup of its own. The default
//! roots are loaded at the first `https` hop, not when a gateway is built,
//! so an http-only broker never reads the system's certificate store.

use std::cell::OnceCell;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};
use crate::url::{Host, Url};

/// Which roots a [`Tls`] trusts.
#[derive(Clone)]
enum Trust {
    /// The default roots plus these CA certificates (DER).
    DefaultAnd(Vec<CertificateDer<'static>>),
    /// Exactly these roots.
    Only(Arc<RootCertStore>),
}

/// A client TLS configuration, built at its first use.
#[derive(Clone)]
pub(crate) struct Tls {
    trust: Trust,
    connector: OnceCell<TlsConnector>,
}

impl Tls {
    /// Trusts the default roots plus `extra` (DER CA certificates). Fails
    /// with `bad_config` when one is not a usable CA certificate.
    pub(crate) fn default_and(extra: &[Vec<u8>]) -> Result<Tls> {
        let extra: Vec<CertificateDer<'static>> = extra
            .iter()
            .map(|der| CertificateDer::from(der.clone()))
            .collect();
        // Checks them now, so a bad one fails at configuration time.
        let mut check = RootCertStore::empty();
        for der in &extra {
            check
                .add(der.clone())
                .map_err(|e| Error::Config(format!("invalid ca certificate: {e}")))?;
        }
        Ok(Tls {
            trust: Trust::DefaultAnd(extra),
            connector: OnceCell::new(),
        })
    }

    /// Trusts exactly these DER certificates.
    pub(crate) fn with_roots(ders: impl IntoIterator<Item = Vec<u8>>) -> Result<Tls> {
        let mut roots = RootCertStore::empty();
        for der in ders {
            roots
                .add(CertificateDer::from(der))
                .map_err(|e| Error::Config(format!("invalid root certificate: {e}")))?;
        }
        Ok(Tls {
            trust: Trust::Only(Arc::new(roots)),
            connector: OnceCell::new(),
        })
    }

    fn connector(&self) -> &TlsConnector {
        self.connector.get_or_init(|| match &self.trust {
            Trust::DefaultAnd(extra) if extra.is_empty() => default_connector().clone(),
            Trust::DefaultAnd(extra) => {
                let mut roots = default_roots().clone();
                for der in extra {
                    // Checked in `default_and`.
                    let _ = roots.add(der.clone());
                }
                connector(roots)
            }
            Trust::Only(roots) => connector(RootCertStore::clone(roots)),
        })
    }

    /// Runs the TLS handshake for `url` over an already connected stream.
    pub(crate) async fn connect(
        &self,
        url: &Url,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>> {
        handshake(self.connector(), url, stream).await
    }
}

/// Runs the TLS handshake for `url` over `stream`, trusting the default
/// roots.
pub(crate) async fn connect_default(url: &Url, stream: TcpStream) -> Result<TlsStream<TcpStream>> {
    handshake(default_connector(), url, stream).await
}

async fn handshake(
    connector: &TlsConnector,
    url: &Url,
    stream: TcpStream,
) -> Result<TlsStream<TcpStream>> {
    let name: ServerName<'static> = match &url.host {
        Host::Ip(ip) => ServerName::from(*ip),
        Host::Name(name) => ServerName::try_from(name.clone())
            .map_err(|_| Error::BadRequest(format!("invalid tls server name {name}")))?,
    };
    connector
        .connect(name, stream)
        .await
        .map_err(|e| Error::Connect(format!("tls handshake with {} failed: {e}", url.host)))
}

/// Reads the CA certificates of a PEM file (one or more `CERTIFICATE`
/// sections), as DER. Fails with `bad_config` naming the file when it cannot
/// be read, is not PEM or holds no certificate.
pub(crate) fn read_pem_certificates(path: &Path) -> Result<Vec<Vec<u8>>> {
    let bad = |why: String| Error::Config(format!("ca_file {}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| bad(lower_first(&e.to_string())))?;
    let mut ders = Vec::new();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| bad(format!("not a valid pem file: {e}")))?;
        ders.push(cert.to_vec());
    }
    if ders.is_empty() {
        return Err(bad(
            "holds no pem certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    // Each must be a usable trust anchor.
    Tls::default_and(&ders).map_err(|e| match e {
        Error::Config(why) => bad(why),
        other => other,
    })?;
    Ok(ders)
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn connector(roots: RootCertStore) -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// The connector trusting the default roots, shared by every gateway.
fn default_connector() -> &'static TlsConnector {
    static CONNECTOR: OnceLock<TlsConnector> = OnceLock::new();
    CONNECTOR.get_or_init(|| connector(default_roots().clone()))
}

/// The system's roots, or the Mozilla roots when the system has none;
/// loaded once per process.
fn default_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| system_or_mozilla(rustls_native_certs::load_native_certs().certs))
}

/// A store of the usable certificates among `system`, or of the Mozilla
/// roots when none is usable.
fn system_or_mozilla(system: Vec<CertificateDer<'static>>) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(system);
    if roots.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &[u8] = include_bytes!("../tests/tls/ca.der");

    #[test]
    fn without_system_roots_the_mozilla_roots_are_used() {
        let roots = system_or_mozilla(Vec::new());
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        let roots = system_or_mozilla(vec![CertificateDer::from(b"junk".to_vec())]);
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len());
        let roots = system_or_mozilla(vec![CertificateDer::from(CA.to_vec())]);
        assert_eq!(
            roots.len(),
            1,
            "the system's roots replace the Mozilla ones"
        );
    }

    #[test]
    fn pem_files_are_read_and_checked() {
        let dir = std::env::temp_dir().join(format!("caplet-egress-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pem = dir.join("ca.pem");
        let section = CertificateDer::from(CA.to_vec());
        let body = base64_lines(section.as_ref());
        let one = format!("-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n");
        std::fs::write(&pem, format!("{one}{one}")).unwrap();
        assert_eq!(read_pem_certificates(&pem).unwrap(), vec![CA.to_vec(); 2]);

        std::fs::write(&pem, "not a certificate\n").unwrap();
        let err = read_pem_certificates(&pem).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "bad_config: ca_file {}: holds no pem certificate (-----BEGIN CERTIFICATE-----)",
                pem.display()
            )
        );
        std::fs::write(
            &pem,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let err = read_pem_certificates(&pem).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "bad_config: ca_file {}: invalid ca certificate: ",
                pem.display()
            )),
            "{err}"
        );
        let missing = dir.join("missing.pem");
        let err = read_pem_certificates(&missing).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "bad_config: ca_file {}: no such file or directory (os error 2)",
                missing.display()
            )
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn base64_lines(der: &[u8]) -> String {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        let mut out = String::new();
        for chunk in text.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out
    }
}
