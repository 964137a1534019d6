//! A fault proxy for the HTTP APIs of the local stack: the AWS emulator, the Kubernetes API
//! server (TLS), the registries and the git HTTP remote. It forwards each request and, for a
//! seeded share of them, answers instead with what the real service sends when it throttles or
//! fails (EC2's `RequestLimitExceeded` on 503, a JSON `ThrottlingException`, the API server's
//! 429 `TooManyRequests` with Retry-After, a registry's `TOOMANYREQUESTS`, a forge's 503), or
//! forwards it and loses the answer ("commit then drop": the work is done, the client sees its
//! connection close). The decision is a hash of the seed, the request (method, path, body) and
//! how many times the proxy saw that same request before, so a run is repeatable whatever the
//! timing, and a retry of the same call (by a client library or by the tool) is judged afresh.
//!
//! Armed with [`FaultProxy::arm_kill`], it also marks the k-th request of a run: it forwards
//! that one (the service does the work), tells the test to kill the client before the answer
//! reaches it, and holds every later request unanswered, so nothing happens after the kill point.
//! Disarming lets what is held go on as the service would have it: the killed client is gone and
//! gets nothing, but an agent that outlives it (the Docker engine a killed imgpush pushed
//! through) gets its answers, as it would from the real service.
//! One proxy can front several services ([`FaultProxy::front`]): a tool that talks to AWS and a
//! registry is killed at its k-th request to either.

use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

/// How often and with what seed to fail.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    pub seed: u64,
    /// The share of requests answered with a fault, 0.0 to 1.0.
    pub rate: f64,
    /// The share of the faults that are "commit then drop" rather than an error answer.
    pub drops: f64,
}

impl Faults {
    /// Throttling and 5xx answers for `rate` of the requests.
    pub fn errors(seed: u64, rate: f64) -> Self {
        Faults { seed, rate, drops: 0.0 }
    }

    /// No faults: the proxy only counts (and, armed, kills).
    pub fn none() -> Self {
        Faults::default()
    }
}

/// Whose errors a front answers with: each service fails in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The EC2/query XML or the JSON protocols of AWS.
    Aws,
    /// The Kubernetes API server: a `Status` object, 429 with Retry-After or 503.
    Kube,
    /// An OCI distribution registry: `{"errors": [...]}` with 429 or 503.
    Registry,
    /// A git smart-HTTP remote behind a forge's load balancer: 502 or 503, plain text.
    Git,
}

/// Where a front forwards to.
#[derive(Debug, Clone)]
pub enum Upstream {
    /// `http://host:port`.
    Http(String),
    /// `https://host:port`, trusting the CA in `ca` (PEM); the front serves TLS with a
    /// certificate for 127.0.0.1 that CA signs (`ca_key`), so a client keeps its CA.
    Https { url: String, ca: std::path::PathBuf, ca_key: std::path::PathBuf },
}

/// A running proxy; it stops when dropped (with the runtime it runs on).
pub struct FaultProxy {
    /// The first front's URL (`http://127.0.0.1:<port>`, or https for a TLS upstream).
    pub url: String,
    faults: Faults,
    counts: Arc<Counts>,
    runtime: tokio::runtime::Runtime,
}

#[derive(Default)]
struct Counts {
    forwarded: AtomicU64,
    failed: AtomicU64,
    /// Requests of the current run (since the last arm or disarm), faulted ones included.
    seen: AtomicU64,
    /// The request to kill at (1-based); 0 when not armed.
    kill_at: AtomicU64,
    killed: Mutex<Option<Sender<()>>>,
    /// Bumped by every arm and disarm: what was held under the last one is let go.
    armings: tokio::sync::watch::Sender<u64>,
    /// How many times each request (by hash) arrived.
    repeats: Mutex<std::collections::HashMap<u64, u64>>,
}

/// What one front needs to serve a connection.
struct Front {
    upstream: Upstream,
    service: Service,
    faults: Faults,
    counts: Arc<Counts>,
    /// For a TLS upstream: the server side the client sees, and the client side upstream.
    tls: Option<(tokio_rustls::TlsAcceptor, tokio_rustls::TlsConnector)>,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
type BoxStream = Pin<Box<dyn Stream>>;

impl FaultProxy {
    /// Starts a proxy to the AWS emulator at `upstream` (`http://host:port`).
    pub fn start(upstream: &str, faults: Faults) -> Self {
        Self::start_for(Upstream::Http(upstream.to_owned()), Service::Aws, faults)
    }

    /// Starts a proxy with one front, to `upstream`, failing as `service` does.
    pub fn start_for(upstream: Upstream, service: Service, faults: Faults) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let mut proxy = FaultProxy { url: String::new(), faults, counts: Arc::default(), runtime };
        proxy.url = proxy.front(upstream, service);
        proxy
    }

    /// Adds a front to another service, counted (and killed) with the others; its URL.
    pub fn front(&self, upstream: Upstream, service: Service) -> String {
        let tls = match &upstream {
            Upstream::Http(_) => None,
            Upstream::Https { ca, ca_key, .. } => Some(tls_pair(ca, ca_key)),
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let front = Arc::new(Front { upstream, service, faults: self.faults, counts: self.counts.clone(), tls });
        let listener = self.runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        self.runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let front = front.clone();
                tokio::spawn(async move {
                    let _ = front.accept(client).await;
                });
            }
        });
        format!("{scheme}://{addr}")
    }

    /// (forwarded, answered with a fault) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.counts.forwarded.load(Ordering::SeqCst), self.counts.failed.load(Ordering::SeqCst))
    }

    /// Requests seen since the last [`arm_kill`](Self::arm_kill) or [`disarm`](Self::disarm).
    pub fn seen(&self) -> u64 {
        self.counts.seen.load(Ordering::SeqCst)
    }

    /// From now on, request `k` (1-based) is forwarded and then reported on the returned channel
    /// instead of answered; it and every later request stay unanswered until disarmed.
    pub fn arm_kill(&self, k: u64) -> Receiver<()> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.counts.armings.send_modify(|n| *n += 1);
        *self.counts.killed.lock().unwrap() = Some(tx);
        self.counts.seen.store(0, Ordering::SeqCst);
        self.counts.kill_at.store(k, Ordering::SeqCst);
        rx
    }

    /// Back to forwarding everything, what is held included; the request count starts again.
    pub fn disarm(&self) {
        self.counts.kill_at.store(0, Ordering::SeqCst);
        self.counts.seen.store(0, Ordering::SeqCst);
        self.counts.killed.lock().unwrap().take();
        self.counts.armings.send_modify(|n| *n += 1);
    }
}

impl Front {
    async fn accept(&self, client: TcpStream) -> std::io::Result<()> {
        let client: BoxStream = match &self.tls {
            Some((acceptor, _)) => Box::pin(acceptor.accept(client).await?),
            None => Box::pin(client),
        };
        self.serve(client).await
    }

    /// One request per connection: the proxy answers with `Connection: close`.
    async fn serve(&self, mut client: BoxStream) -> std::io::Result<()> {
        let Some(request) = read_request(&mut client).await? else { return Ok(()) };
        let head = String::from_utf8_lossy(&request.head).into_owned();
        let counts = &self.counts;
        let n = counts.seen.fetch_add(1, Ordering::SeqCst) + 1;
        // Read before kill_at: a disarm in between lets go of this request at once.
        let arming = *counts.armings.borrow();
        let kill_at = counts.kill_at.load(Ordering::SeqCst);
        if kill_at != 0 && n > kill_at && !self.hold(&mut client, arming).await? {
            return Ok(());
        }
        let repeat = {
            let mut repeats = counts.repeats.lock().unwrap();
            let seen = repeats.entry(fnv(request_key(&head, &request.body), 0)).or_default();
            *seen += 1;
            *seen
        };
        let fault = decide(&head, &request.body, repeat, self.faults);
        if let Some(fault) = fault.filter(|f| *f != Fault::Dropped) {
            counts.failed.fetch_add(1, Ordering::SeqCst);
            client.write_all(&fault.response(self.service, &head)).await?;
            return client.shutdown().await;
        }
        // The answer's head means the service did the work; its body may still be streaming.
        let (mut upstream, response_head, rest) = self.forward(&request).await?;
        if kill_at != 0 && n == kill_at {
            if let Some(killed) = counts.killed.lock().unwrap().take() {
                let _ = killed.send(());
            }
            if !self.hold(&mut client, arming).await? {
                return Ok(());
            }
        }
        if fault == Some(Fault::Dropped) {
            counts.failed.fetch_add(1, Ordering::SeqCst);
            return Ok(()); // the work is done upstream; the client sees its connection close
        }
        counts.forwarded.fetch_add(1, Ordering::SeqCst);
        client.write_all(&with_close(&response_head)).await?;
        client.write_all(&rest).await?;
        tokio::io::copy(&mut upstream, &mut client).await?;
        client.shutdown().await
    }

    /// Keeps the client's connection open and unanswered until the client goes away (`false`)
    /// or the proxy is armed or disarmed again after `arming` (`true`: go on with the request).
    async fn hold(&self, client: &mut BoxStream, arming: u64) -> std::io::Result<bool> {
        let mut armings = self.counts.armings.subscribe();
        let mut sink = [0u8; 1024];
        while *armings.borrow_and_update() == arming {
            tokio::select! {
                read = client.read(&mut sink) => if read? == 0 { return Ok(false) },
                _ = armings.changed() => {}
            }
        }
        Ok(true)
    }

    /// Sends the request upstream; the connection, the answer's head and what came after it.
    async fn forward(&self, request: &Message) -> std::io::Result<(BoxStream, Vec<u8>, Vec<u8>)> {
        let (address, tls) = match &self.upstream {
            Upstream::Http(url) => (url.trim_start_matches("http://"), None),
            Upstream::Https { url, .. } => (url.trim_start_matches("https://"), self.tls.as_ref().map(|t| &t.1)),
        };
        let address = address.trim_end_matches('/');
        let tcp = TcpStream::connect(address).await?;
        let mut upstream: BoxStream = match tls {
            Some(connector) => {
                let host = address.rsplit_once(':').map_or(address, |(h, _)| h).to_owned();
                let name = ServerName::try_from(host).map_err(std::io::Error::other)?;
                Box::pin(connector.connect(name, tcp).await?)
            }
            None => Box::pin(tcp),
        };
        upstream.write_all(&with_close(&request.head)).await?;
        upstream.write_all(&request.body).await?;
        upstream.flush().await?;
        let (head, rest) = read_head(&mut upstream).await?.ok_or_else(|| std::io::Error::other("no answer"))?;
        Ok((upstream, head, rest))
    }
}

/// The TLS server config (a certificate for 127.0.0.1 signed by the upstream's CA) and the
/// client config that trusts that CA.
fn tls_pair(ca: &Path, ca_key: &Path) -> (tokio_rustls::TlsAcceptor, tokio_rustls::TlsConnector) {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let (cert, key) = serving_certificate(ca, ca_key);
    let chain = vec![CertificateDer::from_pem_slice(&cert).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(&key).unwrap();
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    // One request per connection over HTTP/1.1, which the proxy parses.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(ca).unwrap()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (tokio_rustls::TlsAcceptor::from(Arc::new(server)), tokio_rustls::TlsConnector::from(Arc::new(client)))
}

/// A key and a certificate for 127.0.0.1 and localhost signed by the CA (openssl, as the
/// stack's own certificates are made): (certificate PEM, key PEM).
fn serving_certificate(ca: &Path, ca_key: &Path) -> (Vec<u8>, Vec<u8>) {
    let dir = crate::temp_dir("fault-proxy-tls");
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").current_dir(&dir).args(args).output().expect("openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").unwrap();
    openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=fault-proxy", "-keyout", "key", "-out", "csr"]);
    let (ca, ca_key) = (ca.to_str().unwrap(), ca_key.to_str().unwrap());
    let sign = ["x509", "-req", "-in", "csr", "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-CAserial", "serial"];
    openssl(&[&sign[..], &["-days", "2", "-extfile", "ext", "-out", "crt"]].concat());
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let pair = (read("crt"), read("key"));
    let _ = std::fs::remove_dir_all(&dir);
    pair
}

struct Message {
    /// Up to and including the blank line.
    head: Vec<u8>,
    /// As sent: `Content-Length` bytes, or the chunks with their framing.
    body: Vec<u8>,
}

/// Reads a head: up to and including the blank line, and what was read past it.
async fn read_head(stream: &mut BoxStream) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            let rest = buf.split_off(i + 4);
            return Ok(Some((buf, rest)));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Reads a request with its body (`Content-Length` or chunked); `None` when the client sent
/// nothing. An `Expect: 100-continue` is answered here and not passed on.
async fn read_request(stream: &mut BoxStream) -> std::io::Result<Option<Message>> {
    let Some((mut head, mut body)) = read_head(stream).await? else { return Ok(None) };
    let text = String::from_utf8_lossy(&head).into_owned();
    if header(&text, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
        head = without_header(&head, "expect");
    }
    let chunked = header(&text, "transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let length: usize = header(&text, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut chunk = [0u8; 16 * 1024];
    while !(if chunked { chunked_end(&body).is_some() } else { body.len() >= length }) {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Message { head, body }))
}

/// Where a chunked body ends (past its last chunk and trailers), if `body` holds all of it.
fn chunked_end(body: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let line = at + find(&body[at..], b"\r\n")?;
        let size = std::str::from_utf8(&body[at..line]).ok()?.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        if size == 0 {
            // Trailers, if any, then a blank line.
            return if body[line..].starts_with(b"\r\n\r\n") {
                Some(line + 4)
            } else {
                find(&body[line + 2..], b"\r\n\r\n").map(|i| line + 2 + i + 4)
            };
        }
        at = line + 2 + size + 2;
        if at > body.len() {
            return None;
        }
    }
}

/// What makes two requests the same one: the request line and the body (not the headers, which
/// carry signatures, dates and the SDK's attempt number).
fn request_key<'a>(head: &'a str, body: &'a [u8]) -> impl Iterator<Item = u8> + 'a {
    head.lines().next().unwrap_or_default().bytes().chain(body.iter().copied())
}

/// FNV-1a of `bytes`, started from `seed`.
fn fnv(bytes: impl Iterator<Item = u8>, seed: u64) -> u64 {
    bytes.fold(0xcbf2_9ce4_8422_2325 ^ seed, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The head without the header `name`.
fn without_header(head: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let prefix = format!("{name}:");
    let lines: Vec<&str> =
        text.trim_end_matches("\r\n").split("\r\n").filter(|l| !l.to_ascii_lowercase().starts_with(&prefix)).collect();
    format!("{}\r\n\r\n", lines.join("\r\n")).into_bytes()
}

/// The head with its `Connection` header replaced by `Connection: close`.
fn with_close(head: &[u8]) -> Vec<u8> {
    let mut head = without_header(head, "connection");
    head.truncate(head.len() - 2);
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    head
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Throttled,
    InternalError,
    /// Forwarded, and the answer lost.
    Dropped,
}

/// Whether this request gets a fault, from a hash of the seed, the request and its attempt.
fn decide(head: &str, body: &[u8], repeat: u64, faults: Faults) -> Option<Fault> {
    let mut hash = fnv(request_key(head, body).chain(repeat.to_le_bytes()), faults.seed);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    let share = (hash >> 11) as f64 / (1u64 << 53) as f64;
    if share >= faults.rate {
        return None;
    }
    // Where in [0, rate) the share falls picks the kind, so the kinds stay independent of the rate.
    Some(match share / faults.rate {
        s if s < faults.drops => Fault::Dropped,
        _ if hash & 1 == 0 => Fault::Throttled,
        _ => Fault::InternalError,
    })
}

impl Fault {
    /// The service's answer, in its own format.
    fn response(self, service: Service, head: &str) -> Vec<u8> {
        let throttled = self == Fault::Throttled;
        let (status, content_type, extra, body) = match service {
            Service::Aws => return self.aws_response(head),
            Service::Kube => {
                let (status, reason, code, message) = if throttled {
                    ("429 Too Many Requests", "TooManyRequests", 429, "Too many requests, please try again later.")
                } else {
                    (
                        "503 Service Unavailable",
                        "ServiceUnavailable",
                        503,
                        "the server is currently unable to handle the request",
                    )
                };
                let body = format!(
                    r#"{{"kind":"Status","apiVersion":"v1","metadata":{{}},"status":"Failure","message":"{message}","reason":"{reason}","details":{{"retryAfterSeconds":1}},"code":{code}}}"#
                );
                (status, "application/json", "Retry-After: 1\r\n", body)
            }
            Service::Registry => {
                let (status, code, message) = if throttled {
                    ("429 Too Many Requests", "TOOMANYREQUESTS", "too many requests")
                } else {
                    ("503 Service Unavailable", "UNAVAILABLE", "service unavailable")
                };
                let body = format!(r#"{{"errors":[{{"code":"{code}","message":"{message}"}}]}}"#);
                (status, "application/json", "", body)
            }
            Service::Git => {
                let status = if throttled { "503 Service Unavailable" } else { "502 Bad Gateway" };
                (status, "text/plain", "", format!("{status}\n"))
            }
        };
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// AWS's answer, in the request's protocol: the EC2/query XML or the JSON one.
    fn aws_response(self, head: &str) -> Vec<u8> {
        let json = header(head, "content-type").is_some_and(|t| t.contains("json"));
        let (status, code, message) = match self {
            Fault::Throttled if json => ("400 Bad Request", "ThrottlingException", "Rate exceeded"),
            Fault::Throttled => ("503 Service Unavailable", "RequestLimitExceeded", "Request limit exceeded."),
            Fault::InternalError | Fault::Dropped => {
                ("500 Internal Server Error", "InternalError", "An internal error has occurred")
            }
        };
        let (content_type, body) = if json {
            ("application/x-amz-json-1.1", format!(r#"{{"__type":"{code}","message":"{message}"}}"#))
        } else {
            (
                "text/xml",
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>\
                     <Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
                ),
            )
        };
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nx-amzn-ErrorType: {code}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_of_faults_follows_the_rate_and_the_seed() {
        let faults = Faults::errors(7, 0.25);
        let hits = (0..4000)
            .filter(|i| decide("POST / HTTP/1.1\r\n", format!("Action=X&n={i}").as_bytes(), 1, faults).is_some())
            .count();
        assert!((800..1200).contains(&hits), "{hits} of 4000 at 25%");
        let again = |seed| decide("POST / HTTP/1.1\r\n", b"Action=CreateVpc", 1, Faults::errors(seed, 0.5));
        assert_eq!(again(1), again(1), "the same seed and request, the same answer");
        let retries = (1..=64)
            .filter(|n| decide("POST / HTTP/1.1\r\n", b"Action=CreateVpc", *n, Faults::errors(1, 0.5)).is_some());
        assert!((16..48).contains(&retries.count()), "each repeat of a request is judged afresh");
        assert_eq!(decide("GET / HTTP/1.1\r\n", b"", 1, Faults::none()), None);
        let drops = Faults { seed: 3, rate: 0.5, drops: 0.5 };
        let kinds: Vec<_> =
            (0..2000).filter_map(|i| decide("POST / HTTP/1.1\r\n", format!("n={i}").as_bytes(), 1, drops)).collect();
        let dropped = kinds.iter().filter(|f| **f == Fault::Dropped).count();
        assert!((400..600).contains(&dropped), "{dropped} of {} faults dropped at 50%", kinds.len());
    }

    #[test]
    fn a_chunked_body_ends_after_its_last_chunk_and_trailers() {
        let whole: &[u8] = b"4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n";
        assert_eq!(chunked_end(&[whole, b"GET"].concat()), Some(whole.len()));
        let trailers: &[u8] = b"4;ext=1\r\nwiki\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(chunked_end(trailers), Some(trailers.len()));
        assert_eq!(chunked_end(b"4\r\nwiki\r\n5\r\npe"), None);
        assert_eq!(chunked_end(b"4\r\nwiki\r\n0\r\n"), None);
        assert_eq!(chunked_end(b""), None);
    }

    #[test]
    fn each_service_fails_in_its_own_words() {
        let text = |f: Fault, s| String::from_utf8(f.response(s, "POST / HTTP/1.1\r\n")).unwrap();
        let kube = text(Fault::Throttled, Service::Kube);
        assert!(
            kube.starts_with("HTTP/1.1 429") && kube.contains("Retry-After: 1") && kube.contains("TooManyRequests")
        );
        assert!(text(Fault::InternalError, Service::Kube).starts_with("HTTP/1.1 503"));
        assert!(text(Fault::Throttled, Service::Registry).contains(r#""code":"TOOMANYREQUESTS""#));
        assert!(text(Fault::InternalError, Service::Git).starts_with("HTTP/1.1 502"));
        assert!(text(Fault::Throttled, Service::Aws).contains("RequestLimitExceeded"));
        for f in [Fault::Throttled, Fault::InternalError] {
            for s in [Service::Aws, Service::Kube, Service::Registry, Service::Git] {
                let t = text(f, s);
                let (head, body) = t.split_once("\r\n\r\n").unwrap();
                assert!(head.contains(&format!("Content-Length: {}", body.len())), "{t}");
            }
        }
    }

    /// An upstream that answers every request with 200 `ok`.
    fn upstream() -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
        });
        url
    }

    /// Sends a GET through the proxy on its own thread; the answer comes on the channel.
    fn get(proxy: &str, path: &'static str) -> Receiver<String> {
        use std::io::{Read, Write};
        let address = proxy.trim_start_matches("http://").to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut conn = std::net::TcpStream::connect(address).unwrap();
            conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).unwrap();
            let mut answer = String::new();
            let _ = conn.read_to_string(&mut answer);
            let _ = tx.send(answer);
        });
        rx
    }

    #[test]
    fn what_a_kill_point_holds_is_answered_once_disarmed() {
        let proxy = FaultProxy::start_for(Upstream::Http(upstream()), Service::Registry, Faults::none());
        let killed = proxy.arm_kill(1);
        let first = get(&proxy.url, "/first");
        killed.recv_timeout(std::time::Duration::from_secs(10)).expect("the kill point is reported");
        let second = get(&proxy.url, "/second");
        let wait = std::time::Duration::from_millis(300);
        assert!(first.recv_timeout(wait).is_err() && second.recv_timeout(wait).is_err(), "both held");
        proxy.disarm();
        for answer in [first, second] {
            let answer = answer.recv_timeout(std::time::Duration::from_secs(10)).expect("answered");
            assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok"), "{answer}");
        }
    }

    #[test]
    fn connection_headers_are_replaced_and_expect_is_dropped() {
        let head = b"PUT /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nExpect: 100-continue\r\n\r\n";
        let closed = String::from_utf8(with_close(head)).unwrap();
        assert_eq!(closed, "PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n");
        let plain = String::from_utf8(without_header(head, "expect")).unwrap();
        assert_eq!(plain, "PUT /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
    }
}
