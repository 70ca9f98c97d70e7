//! Opening one SMTP connection the way production needs it: our own TCP
//! stream with TCP_NODELAY (lettre never sets it: Nagle and delayed ACKs
//! cap a connection near 23 messages/s), then plain, STARTTLS or implicit
//! TLS (rustls; Mozilla's roots plus an optional CA file), then AUTH.
//!
//! The password never reaches a message: every error text built here goes
//! through [`Connector::redact`], which also removes the base64 forms an
//! AUTH exchange puts on the wire, in case a server echoes them back.

use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::delivery::DeliveryError;

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text. Only for a relay on this machine (or a trusted network).
    None,
    /// Plain connect, then STARTTLS (port 587 or 25); refused if the server
    /// does not offer it: no silent downgrade.
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

impl std::str::FromStr for TlsMode {
    type Err = String;

    fn from_str(text: &str) -> Result<TlsMode, String> {
        match text {
            "none" => Ok(TlsMode::None),
            "starttls" => Ok(TlsMode::StartTls),
            "tls" => Ok(TlsMode::Tls),
            _ => Err(format!("`{text}` is not a TLS mode: none, starttls or tls")),
        }
    }
}

/// Everything `flowc run --smtp` is told about the server.
#[derive(Clone, Debug)]
pub struct SmtpSettings {
    /// `host:port` (`[::1]:25` for IPv6).
    pub address: String,
    /// `None`: `none` for a loopback host, `starttls` for any other.
    pub tls: Option<TlsMode>,
    /// Extra trusted roots (PEM), e.g. a company CA or a test certificate.
    pub ca_file: Option<PathBuf>,
    /// User and password, for AUTH PLAIN or LOGIN.
    pub credentials: Option<(String, String)>,
    /// How many connections deliver at once.
    pub connections: usize,
    /// How long the server may take to accept a connection or answer a
    /// command ([`TIMEOUT`] by default). After the end of a message, no
    /// answer in this time leaves the send in doubt.
    pub timeout: Duration,
}

/// How long a server may take to accept a connection or answer a command,
/// unless the settings say otherwise.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Connects, protects and authenticates, as configured once for the run.
pub(super) struct Connector {
    pub address: String,
    mode: TlsMode,
    starttls: Option<TlsParameters>,
    implicit: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
    credentials: Option<Credentials>,
    secrets: Vec<String>,
    pub timeout: Duration,
}

/// The host part of `host:port` or `[v6]:port`.
fn host_of(address: &str) -> Option<&str> {
    if let Some(rest) = address.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return (!port.is_empty()).then_some(host);
    }
    let (host, port) = address.rsplit_once(':')?;
    (!host.is_empty() && !port.is_empty() && !host.contains(':')).then_some(host)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Connector {
    pub fn new(settings: &SmtpSettings) -> Result<Connector, DeliveryError> {
        let address = settings.address.clone();
        let host = host_of(&address).ok_or_else(|| {
            DeliveryError(format!(
                "`{address}` is not an SMTP server address: write host:port (e.g. mail.example.com:587)"
            ))
        })?;
        let loopback = is_loopback(host);
        let mode = settings.tls.unwrap_or(if loopback {
            TlsMode::None
        } else {
            TlsMode::StartTls
        });
        if mode == TlsMode::None && !loopback && settings.credentials.is_some() {
            return Err(DeliveryError(format!(
                "the SMTP credentials would cross the network unencrypted to {address}: use --smtp-tls starttls or tls"
            )));
        }
        let roots = match &settings.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    DeliveryError(format!("cannot read the CA file {}: {e}", path.display()))
                })?;
                let roots = CertificateDer::pem_slice_iter(&pem)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| {
                        DeliveryError(format!("{}: not PEM certificates: {e}", path.display()))
                    })?;
                if roots.is_empty() {
                    return Err(DeliveryError(format!(
                        "{}: no certificate in it",
                        path.display()
                    )));
                }
                Some((pem, roots))
            }
            None => None,
        };
        let tls_error = |e: &dyn std::fmt::Display| DeliveryError(format!("TLS set-up: {e}"));
        let starttls = match mode {
            TlsMode::StartTls => {
                let mut builder = TlsParameters::builder(host.to_string());
                if let Some((pem, _)) = &roots {
                    builder = builder.add_root_certificate(
                        Certificate::from_pem(pem).map_err(|e| tls_error(&e))?,
                    );
                }
                Some(builder.build_rustls().map_err(|e| tls_error(&e))?)
            }
            _ => None,
        };
        let implicit = match mode {
            TlsMode::Tls => {
                let mut store = rustls::RootCertStore::empty();
                store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                for root in roots.iter().flat_map(|(_, roots)| roots.iter()) {
                    store.add(root.clone()).map_err(|e| tls_error(&e))?;
                }
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .map_err(|e| tls_error(&e))?
                    .with_root_certificates(store)
                    .with_no_client_auth();
                let name = ServerName::try_from(host.to_string()).map_err(|e| tls_error(&e))?;
                Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
            }
            _ => None,
        };
        let mut secrets = Vec::new();
        if let Some((user, password)) = &settings.credentials {
            if !password.is_empty() {
                secrets.push(password.clone());
                secrets.push(base64(password.as_bytes()));
                secrets.push(base64(format!("\0{user}\0{password}").as_bytes()));
            }
        }
        Ok(Connector {
            address: address.clone(),
            mode,
            starttls,
            implicit,
            credentials: settings
                .credentials
                .clone()
                .map(|(user, password)| Credentials::new(user, password)),
            secrets,
            timeout: settings.timeout,
        })
    }

    pub fn mode(&self) -> TlsMode {
        self.mode
    }

    /// `text` without the password, in clear or base64.
    pub fn redact(&self, text: String) -> String {
        self.secrets
            .iter()
            .fold(text, |text, secret| text.replace(secret, "[redacted]"))
    }

    fn fail(&self, what: &str, error: impl std::fmt::Display) -> DeliveryError {
        DeliveryError(self.redact(format!(
            "the SMTP server at {} {what}: {error}",
            self.address
        )))
    }

    /// A ready connection: greeted, protected as configured, logged in.
    pub async fn connect(&self) -> Result<AsyncSmtpConnection, DeliveryError> {
        let stream = tokio::time::timeout(self.timeout, TcpStream::connect(&self.address))
            .await
            .map_err(|_| {
                self.fail(
                    "did not answer",
                    format!("no connection in {} s", self.timeout.as_secs()),
                )
            })?
            .map_err(|e| {
                DeliveryError(format!(
                    "cannot reach the SMTP server at {}: {e}",
                    self.address
                ))
            })?;
        stream
            .set_nodelay(true)
            .map_err(|e| DeliveryError(format!("cannot set TCP_NODELAY: {e}")))?;
        let hello = ClientId::Domain("flowc.localhost".into());
        let transport: Box<dyn AsyncTokioStream> = match &self.implicit {
            Some((connector, name)) => {
                let tls =
                    tokio::time::timeout(self.timeout, connector.connect(name.clone(), stream))
                        .await
                        .map_err(|_| self.fail("did not finish the TLS handshake", "timed out"))?
                        .map_err(|e| self.fail("failed the TLS handshake", e))?;
                Box::new(TlsStream(tls))
            }
            None => Box::new(stream),
        };
        let session = async {
            let mut connection = AsyncSmtpConnection::connect_with_transport(transport, &hello)
                .await
                .map_err(|e| self.fail("did not greet", e))?;
            if let Some(parameters) = &self.starttls {
                connection
                    .starttls(parameters.clone(), &hello)
                    .await
                    .map_err(|e| self.fail("failed STARTTLS", e))?;
            }
            if let Some(credentials) = &self.credentials {
                connection
                    .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                    .await
                    .map_err(|e| self.fail("refused the credentials", e))?;
            }
            Ok(connection)
        };
        tokio::time::timeout(self.timeout, session)
            .await
            .map_err(|_| {
                self.fail(
                    "did not answer",
                    format!("no greeting in {} s", self.timeout.as_secs()),
                )
            })?
    }
}

/// A rustls stream over our nodelay TCP stream, as lettre takes a transport.
#[derive(Debug)]
struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsStream {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// Standard base64 with padding: the form AUTH PLAIN and LOGIN send.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn addresses_and_loopback() {
        assert_eq!(host_of("mail.example.com:587"), Some("mail.example.com"));
        assert_eq!(host_of("[::1]:25"), Some("::1"));
        assert_eq!(host_of("mail.example.com"), None);
        assert_eq!(host_of("::1:25"), None);
        assert!(is_loopback("127.0.0.2") && is_loopback("::1") && is_loopback("LOCALHOST"));
        assert!(!is_loopback("10.0.0.1") && !is_loopback("mail.example.com"));
    }

    #[test]
    fn credentials_never_go_out_in_clear_to_another_host() {
        let settings = |address: &str, tls| SmtpSettings {
            address: address.into(),
            tls,
            ca_file: None,
            credentials: Some(("u".into(), "hunter2".into())),
            connections: 1,
            timeout: TIMEOUT,
        };
        let error = Connector::new(&settings("mail.example.com:25", Some(TlsMode::None)))
            .err()
            .map(|e| e.0)
            .unwrap_or_default();
        assert!(error.contains("unencrypted"), "{error}");
        assert!(!error.contains("hunter2"));
        let local = Connector::new(&settings("127.0.0.1:25", None)).map(|c| c.mode());
        assert_eq!(local.ok(), Some(TlsMode::None));
        let remote = Connector::new(&settings("mail.example.com:587", None)).map(|c| c.mode());
        assert_eq!(remote.ok(), Some(TlsMode::StartTls));
    }

    #[test]
    fn redaction_covers_the_auth_encodings() {
        let settings = SmtpSettings {
            address: "127.0.0.1:25".into(),
            tls: None,
            ca_file: None,
            credentials: Some(("user".into(), "pass".into())),
            connections: 1,
            timeout: TIMEOUT,
        };
        let Ok(connector) = Connector::new(&settings) else {
            panic!("a loopback connector")
        };
        let text = format!(
            "501 bad {} {} pass",
            base64(b"\0user\0pass"),
            base64(b"pass")
        );
        let redacted = connector.redact(text);
        assert!(!redacted.contains("pass"), "{redacted}");
        assert!(!redacted.contains("AHVzZXIAcGFzcw=="), "{redacted}");
    }
}
