//! `https` support (cargo feature `tls`): rustls with the `ring` provider,
//! TLS 1.2 and 1.3, ALPN `http/1.1`, server certificates checked against the
//! Mozilla roots from `webpki-roots` (or roots the broker supplies) and
//! against the URL's host name or IP address.
//!
//! The TLS session runs over the `TcpStream` the gateway already connected
//! to a checked address; TLS never triggers a lookup of its own.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};
use crate::url::{Host, Url};

/// A client TLS configuration.
#[derive(Clone)]
pub(crate) struct Tls {
    connector: TlsConnector,
}

impl Tls {
    /// Trusts the Mozilla root program, as shipped in `webpki-roots`.
    pub(crate) fn webpki_roots() -> Tls {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Tls::from_store(roots)
    }

    /// Trusts exactly these DER certificates.
    pub(crate) fn with_roots(ders: impl IntoIterator<Item = Vec<u8>>) -> Result<Tls> {
        let mut roots = RootCertStore::empty();
        for der in ders {
            roots
                .add(CertificateDer::from(der))
                .map_err(|e| Error::Config(format!("invalid root certificate: {e}")))?;
        }
        Ok(Tls::from_store(roots))
    }

    fn from_store(roots: RootCertStore) -> Tls {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Tls {
            connector: TlsConnector::from(Arc::new(config)),
        }
    }

    /// Runs the TLS handshake for `url` over an already connected stream.
    pub(crate) async fn connect(
        &self,
        url: &Url,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>> {
        let name: ServerName<'static> = match &url.host {
            Host::Ip(ip) => ServerName::from(*ip),
            Host::Name(name) => ServerName::try_from(name.clone())
                .map_err(|_| Error::BadRequest(format!("invalid tls server name {name}")))?,
        };
        self.connector
            .connect(name, stream)
            .await
            .map_err(|e| Error::Connect(format!("tls handshake with {} failed: {e}", url.host)))
    }
}
