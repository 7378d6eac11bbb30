//! The wire of a sink: a syslog connection over TCP or TLS, or an HTTP
//! client. Connecting and sending time out; every failure is an error the
//! delivery loop retries with backoff.

use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::config::{SinkSpec, SinkTarget};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one write or request may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// An open connection to a syslog receiver.
#[derive(Debug)]
pub enum SyslogConnection {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS (RFC 5425).
    Tls(Box<TlsStream<TcpStream>>),
}

impl SyslogConnection {
    fn socket(&self) -> &TcpStream {
        match self {
            SyslogConnection::Tcp(stream) => stream,
            SyslogConnection::Tls(stream) => stream.get_ref().0,
        }
    }

    /// Writes framed messages.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        let written = async {
            match self {
                SyslogConnection::Tcp(stream) => {
                    stream.write_all(bytes).await?;
                    stream.flush().await
                }
                SyslogConnection::Tls(stream) => {
                    stream.write_all(bytes).await?;
                    stream.flush().await
                }
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, written).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(format!("writing: {error}")),
            Err(_) => Err("writing timed out".into()),
        }
    }

    /// Whether the receiver closed the connection (or it broke). A syslog
    /// receiver never speaks, so anything but "nothing to read" on the raw
    /// socket other than TLS records means the connection is gone.
    pub fn is_closed(&self) -> bool {
        let mut scratch = [0u8; 512];
        loop {
            match self.socket().try_read(&mut scratch) {
                Ok(0) => return true,
                // TLS session tickets or a close_notify alert: keep
                // reading until the socket says more (EOF or nothing).
                Ok(_) => continue,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return false,
                Err(_) => return true,
            }
        }
    }
}

fn root_store(spec: &SinkSpec) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    match &spec.ca_file {
        Some(path) => {
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|error| format!("reading {}: {error}", path.display()))?
                .collect::<Result<_, _>>()
                .map_err(|error| format!("reading {}: {error}", path.display()))?;
            if certificates.is_empty() {
                return Err(format!("{} holds no certificate", path.display()));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|error| format!("{}: {error}", path.display()))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

/// The TLS client settings of a sink (checked at start-up).
pub fn tls_connector(spec: &SinkSpec) -> Result<TlsConnector, String> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS settings: {error}"))?
        .with_root_certificates(root_store(spec)?)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Opens a connection to a syslog sink.
pub async fn connect_syslog(
    spec: &SinkSpec,
    tls: Option<&TlsConnector>,
) -> Result<SyslogConnection, String> {
    let SinkTarget::Syslog { host, port, .. } = &spec.target else {
        return Err("not a syslog sink".into());
    };
    let connect = async {
        let stream = TcpStream::connect((host.as_str(), *port))
            .await
            .map_err(|error| format!("connecting: {error}"))?;
        let _ = stream.set_nodelay(true);
        match tls {
            None => Ok(SyslogConnection::Tcp(stream)),
            Some(connector) => {
                let name = ServerName::try_from(host.clone())
                    .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
                let stream = connector
                    .connect(name, stream)
                    .await
                    .map_err(|error| format!("TLS handshake: {error}"))?;
                Ok(SyslogConnection::Tls(Box::new(stream)))
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| "connecting timed out".to_string())?
}

/// The HTTP client of an http(s) sink (checked at start-up).
pub fn http_client(spec: &SinkSpec) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &spec.ca_file {
        let pem =
            std::fs::read(path).map_err(|error| format!("reading {}: {error}", path.display()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        builder = builder.tls_built_in_root_certs(false);
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder
        .build()
        .map_err(|error| format!("HTTP client: {error}"))
}

/// POSTs one batch; any status but 2xx is a failure.
pub async fn post_batch(
    client: &reqwest::Client,
    spec: &SinkSpec,
    body: Vec<u8>,
) -> Result<(), String> {
    let SinkTarget::Http { url } = &spec.target else {
        return Err("not an http sink".into());
    };
    let mut request = client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
        .body(body);
    if let Some(token) = &spec.hec_token {
        request = request.header(
            reqwest::header::AUTHORIZATION,
            format!("Splunk {}", token.as_str()),
        );
    }
    // reqwest's errors may repeat the URL; only the kind is kept.
    let response = request.send().await.map_err(|error| {
        if error.is_timeout() {
            "the request timed out".to_string()
        } else if error.is_connect() {
            "connecting failed".to_string()
        } else {
            "the request failed".to_string()
        }
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}
