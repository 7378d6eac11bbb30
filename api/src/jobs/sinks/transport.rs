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

/// Why a sink's wire could not be prepared, or a batch not delivered.
/// The text is what the server log and the sink's status show; the error
/// underneath is kept as the source, except reqwest's (it may repeat the
/// URL, which can hold credentials: only its kind is kept).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing to the syslog connection failed.
    #[error("writing: {0}")]
    Write(#[source] std::io::Error),
    /// Writing to the syslog connection took too long.
    #[error("writing timed out")]
    WriteTimedOut,
    /// The CA file cannot be read or parsed.
    #[error("reading {}: {source}", path.display())]
    ReadCaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The CA file holds no certificate.
    #[error("{} holds no certificate", .0.display())]
    NoCertificate(std::path::PathBuf),
    /// A certificate of the CA file is not acceptable.
    #[error("{}: {source}", path.display())]
    BadCertificate {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The TLS settings cannot be built.
    #[error("TLS settings: {0}")]
    TlsSettings(#[source] tokio_rustls::rustls::Error),
    /// A syslog connection was asked of another kind of sink.
    #[error("not a syslog sink")]
    NotSyslog,
    /// An HTTP post was asked of another kind of sink.
    #[error("not an http sink")]
    NotHttp,
    /// The TCP connection failed.
    #[error("connecting: {0}")]
    Connect(#[source] std::io::Error),
    /// The host is not a name TLS can check.
    #[error("{0:?} is not a valid TLS server name")]
    ServerName(String),
    /// The TLS handshake failed.
    #[error("TLS handshake: {0}")]
    Handshake(#[source] std::io::Error),
    /// Connecting took too long.
    #[error("connecting timed out")]
    ConnectTimedOut,
    /// The HTTP client cannot be built.
    #[error("HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
    /// The HTTP request took too long.
    #[error("the request timed out")]
    RequestTimedOut,
    /// The HTTP connection failed.
    #[error("connecting failed")]
    ConnectFailed,
    /// The HTTP request failed otherwise.
    #[error("the request failed")]
    RequestFailed,
    /// The receiver answered something else than 2xx.
    #[error("the receiver answered {0}")]
    Answered(reqwest::StatusCode),
    /// A batch was to be written without a connection.
    #[error("not connected")]
    NotConnected,
}

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one write or request may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The most bytes a syslog receiver may send over one connection before it
/// is closed. A receiver never speaks syslog back; over TLS the server
/// sends a few session tickets (a few hundred bytes) or a close_notify
/// alert after the handshake, which the raw socket sees. Anything beyond
/// this is a receiver (or something posing as one) flooding the sink: the
/// connection is closed instead of drained forever.
pub const MAX_UNSOLICITED_BYTES: usize = 64 * 1024;

/// The reason a connection is closed when the receiver sends data: also
/// what `GET /health` shows for it.
pub const RECEIVER_SENDS_DATA: &str =
    "the receiver sends data, which a syslog receiver never does: the connection was closed";

/// An open connection to a syslog receiver.
#[derive(Debug)]
pub struct SyslogConnection {
    stream: SyslogStream,
    /// Bytes the receiver sent so far (at most a little over
    /// [`MAX_UNSOLICITED_BYTES`]: the connection is dropped then).
    unsolicited: usize,
}

#[derive(Debug)]
enum SyslogStream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS (RFC 5425).
    Tls(Box<TlsStream<TcpStream>>),
}

/// What the receiver's side of a connection looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// Open and quiet: keep writing.
    Open,
    /// The receiver closed the connection (or it broke).
    Closed,
    /// The receiver sent more than [`MAX_UNSOLICITED_BYTES`]: drop the
    /// connection and back off.
    Misbehaving,
}

impl SyslogConnection {
    fn new(stream: SyslogStream) -> SyslogConnection {
        SyslogConnection {
            stream,
            unsolicited: 0,
        }
    }

    fn socket(&self) -> &TcpStream {
        match &self.stream {
            SyslogStream::Tcp(stream) => stream,
            SyslogStream::Tls(stream) => stream.get_ref().0,
        }
    }

    /// Writes framed messages.
    pub async fn send(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let written = async {
            match &mut self.stream {
                SyslogStream::Tcp(stream) => {
                    stream.write_all(bytes).await?;
                    stream.flush().await
                }
                SyslogStream::Tls(stream) => {
                    stream.write_all(bytes).await?;
                    stream.flush().await
                }
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, written).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(SinkError::Write(error)),
            Err(_) => Err(SinkError::WriteTimedOut),
        }
    }

    /// Whether the receiver closed the connection (or it broke), or sends
    /// data it never should. Reads what is waiting on the raw socket without
    /// blocking (TLS records are not decrypted: the sink never reads), but
    /// never more than [`MAX_UNSOLICITED_BYTES`] over the connection's life,
    /// so a receiver that keeps sending cannot hold the sink (and the
    /// runtime thread it runs on) in this loop.
    pub fn peer(&mut self) -> Peer {
        let mut scratch = [0u8; 4096];
        while self.unsolicited <= MAX_UNSOLICITED_BYTES {
            match self.socket().try_read(&mut scratch) {
                Ok(0) => return Peer::Closed,
                // TLS session tickets or a close_notify alert: keep
                // reading until the socket says more (EOF or nothing).
                Ok(read) => self.unsolicited += read,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => return Peer::Open,
                Err(_) => return Peer::Closed,
            }
        }
        Peer::Misbehaving
    }
}

fn root_store(spec: &SinkSpec) -> Result<RootCertStore, SinkError> {
    let mut roots = RootCertStore::empty();
    match &spec.ca_file {
        Some(path) => {
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|error| read_ca_file(path, error))?
                .collect::<Result<_, _>>()
                .map_err(|error| read_ca_file(path, error))?;
            if certificates.is_empty() {
                return Err(SinkError::NoCertificate(path.clone()));
            }
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|error| SinkError::BadCertificate {
                        path: path.clone(),
                        source: Box::new(error),
                    })?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

/// A CA file that cannot be read.
fn read_ca_file(
    path: &std::path::Path,
    error: impl std::error::Error + Send + Sync + 'static,
) -> SinkError {
    SinkError::ReadCaFile {
        path: path.to_path_buf(),
        source: Box::new(error),
    }
}

/// The TLS client settings of a sink (checked at start-up).
pub fn tls_connector(spec: &SinkSpec) -> Result<TlsConnector, SinkError> {
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(SinkError::TlsSettings)?
        .with_root_certificates(root_store(spec)?)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Opens a connection to a syslog sink.
pub async fn connect_syslog(
    spec: &SinkSpec,
    tls: Option<&TlsConnector>,
) -> Result<SyslogConnection, SinkError> {
    let SinkTarget::Syslog { host, port, .. } = &spec.target else {
        return Err(SinkError::NotSyslog);
    };
    let connect = async {
        let stream = TcpStream::connect((host.as_str(), *port))
            .await
            .map_err(SinkError::Connect)?;
        let _ = stream.set_nodelay(true);
        match tls {
            None => Ok(SyslogConnection::new(SyslogStream::Tcp(stream))),
            Some(connector) => {
                let name = ServerName::try_from(host.clone())
                    .map_err(|_| SinkError::ServerName(host.clone()))?;
                let stream = connector
                    .connect(name, stream)
                    .await
                    .map_err(SinkError::Handshake)?;
                Ok(SyslogConnection::new(SyslogStream::Tls(Box::new(stream))))
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| SinkError::ConnectTimedOut)?
}

/// The HTTP client of an http(s) sink (checked at start-up).
pub fn http_client(spec: &SinkSpec) -> Result<reqwest::Client, SinkError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &spec.ca_file {
        let pem = std::fs::read(path).map_err(|error| read_ca_file(path, error))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
            SinkError::BadCertificate {
                path: path.clone(),
                source: Box::new(error),
            }
        })?;
        builder = builder.tls_built_in_root_certs(false);
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(SinkError::HttpClient)
}

/// POSTs one batch; any status but 2xx is a failure.
pub async fn post_batch(
    client: &reqwest::Client,
    spec: &SinkSpec,
    body: Vec<u8>,
) -> Result<(), SinkError> {
    let SinkTarget::Http { url } = &spec.target else {
        return Err(SinkError::NotHttp);
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
            SinkError::RequestTimedOut
        } else if error.is_connect() {
            SinkError::ConnectFailed
        } else {
            SinkError::RequestFailed
        }
    })?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(SinkError::Answered(status))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A connection to a loopback receiver that first sends `reply` and
    /// then, when `close`, closes its side.
    async fn connection_to(reply: Vec<u8>, close: bool) -> SyslogConnection {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (written, wrote) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            socket.write_all(&reply).await.expect("reply");
            socket.flush().await.expect("flush");
            if close {
                drop(socket);
                let _ = written.send(());
            } else {
                let _ = written.send(());
                // Keep the receiver's side open until the test ends.
                std::future::pending::<()>().await;
            }
        });
        let stream = TcpStream::connect(address).await.expect("connect");
        let connection = SyslogConnection::new(SyslogStream::Tcp(stream));
        // Over loopback, written bytes (and the FIN) are in the sink's
        // socket once the receiver's write returned.
        wrote.await.expect("the receiver wrote");
        connection
    }

    #[tokio::test]
    async fn a_quiet_receiver_is_open_and_a_closed_one_closed() {
        assert_eq!(connection_to(Vec::new(), false).await.peer(), Peer::Open);
        assert_eq!(connection_to(Vec::new(), true).await.peer(), Peer::Closed);
        // What a TLS server sends after the handshake (session tickets) is
        // read and forgotten.
        assert_eq!(
            connection_to(vec![0x17; 600], false).await.peer(),
            Peer::Open
        );
    }

    /// Issue 15: a receiver that keeps sending held the sink in an endless
    /// read loop at a full core; the reading is bounded and the receiver
    /// reported.
    #[tokio::test]
    async fn a_receiver_that_sends_data_is_misbehaving_after_a_bounded_read() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            // Without end (until the sink drops the connection).
            while socket.write_all(&[b'x'; 16 * 1024]).await.is_ok() {}
        });
        let stream = TcpStream::connect(address).await.expect("connect");
        let mut connection = SyslogConnection::new(SyslogStream::Tcp(stream));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let peer = loop {
            match connection.peer() {
                Peer::Open if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                other => break other,
            }
        };
        assert_eq!(peer, Peer::Misbehaving);
        // One check reads at most one buffer past the limit.
        assert!(connection.unsolicited <= MAX_UNSOLICITED_BYTES + 4096);
    }
}
