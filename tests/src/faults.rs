//! A fault proxy for HTTP APIs of the local stack (the AWS emulator): it forwards each request
//! and, for a seeded share of them, answers instead with what real AWS sends when it throttles
//! or fails (EC2's `RequestLimitExceeded` on 503, a JSON `ThrottlingException`, a 500
//! `InternalError`), or forwards it and loses the answer ("commit then drop": the work is done,
//! the client sees its connection close). The decision is a hash of the seed, the request
//! (method, path, body) and how many times the proxy saw that same request before, so a run is
//! repeatable whatever the timing, and a retry of the same call (by the SDK or by the tool) is
//! judged afresh.
//!
//! Armed with [`FaultProxy::arm_kill`], it also marks the k-th request of a run: it forwards
//! that one (AWS does the work), tells the test to kill the client before the answer reaches
//! it, and holds every later request unanswered, so nothing happens after the kill point.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// A running proxy; it stops when dropped (with the runtime it runs on).
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub url: String,
    counts: Arc<Counts>,
    _runtime: tokio::runtime::Runtime,
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
    /// How many times each request (by hash) arrived.
    repeats: Mutex<std::collections::HashMap<u64, u64>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`).
    pub fn start(upstream: &str, faults: Faults) -> Self {
        let target = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        runtime.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (target, counts) = (target.clone(), shared.clone());
                tokio::spawn(async move {
                    let _ = serve(client, &target, faults, &counts).await;
                });
            }
        });
        FaultProxy { url: format!("http://{addr}"), counts, _runtime: runtime }
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
        *self.counts.killed.lock().unwrap() = Some(tx);
        self.counts.seen.store(0, Ordering::SeqCst);
        self.counts.kill_at.store(k, Ordering::SeqCst);
        rx
    }

    /// Back to forwarding everything; the request count starts again.
    pub fn disarm(&self) {
        self.counts.kill_at.store(0, Ordering::SeqCst);
        self.counts.seen.store(0, Ordering::SeqCst);
        self.counts.killed.lock().unwrap().take();
    }
}

/// One request per connection: the proxy answers with `Connection: close`.
async fn serve(mut client: TcpStream, target: &str, faults: Faults, counts: &Counts) -> std::io::Result<()> {
    let Some(request) = read_message(&mut client).await? else { return Ok(()) };
    let head = String::from_utf8_lossy(&request.head).into_owned();
    let n = counts.seen.fetch_add(1, Ordering::SeqCst) + 1;
    let kill_at = counts.kill_at.load(Ordering::SeqCst);
    if kill_at != 0 && n > kill_at {
        return hold(client).await;
    }
    let repeat = {
        let mut repeats = counts.repeats.lock().unwrap();
        let seen = repeats.entry(fnv(request_key(&head, &request.body), 0)).or_default();
        *seen += 1;
        *seen
    };
    let fault = decide(&head, &request.body, repeat, faults);
    if let Some(fault) = fault.filter(|f| *f != Fault::Dropped) {
        counts.failed.fetch_add(1, Ordering::SeqCst);
        return client.write_all(&fault.response(&head)).await;
    }
    let response = forward(target, &request).await?;
    if kill_at != 0 && n == kill_at {
        if let Some(killed) = counts.killed.lock().unwrap().take() {
            let _ = killed.send(());
        }
        return hold(client).await;
    }
    if fault == Some(Fault::Dropped) {
        counts.failed.fetch_add(1, Ordering::SeqCst);
        return Ok(()); // the work is done upstream; the client sees its connection close
    }
    counts.forwarded.fetch_add(1, Ordering::SeqCst);
    let split = find(&response, b"\r\n\r\n").map_or(response.len(), |i| i + 4);
    client.write_all(&with_close(&response[..split])).await?;
    client.write_all(&response[split..]).await?;
    client.shutdown().await
}

/// Sends the request upstream and reads its whole answer.
async fn forward(target: &str, request: &Message) -> std::io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(target).await?;
    upstream.write_all(&with_close(&request.head)).await?;
    upstream.write_all(&request.body).await?;
    let mut response = Vec::new();
    upstream.read_to_end(&mut response).await?;
    Ok(response)
}

/// Keeps the client's connection open and unanswered until the client goes away.
async fn hold(mut client: TcpStream) -> std::io::Result<()> {
    let mut sink = [0u8; 1024];
    while client.read(&mut sink).await? > 0 {}
    Ok(())
}

struct Message {
    /// Up to and including the blank line.
    head: Vec<u8>,
    body: Vec<u8>,
}

/// Reads a request head and its `Content-Length` body; `None` when the client sent nothing.
async fn read_message(stream: &mut TcpStream) -> std::io::Result<Option<Message>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = buf[..end].to_vec();
    let length = header(&String::from_utf8_lossy(&head), "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(Message { head, body }))
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

/// The head with its `Connection` header replaced by `Connection: close`.
fn with_close(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut lines: Vec<&str> = text
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    lines.push("Connection: close");
    format!("{}\r\n\r\n", lines.join("\r\n")).into_bytes()
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
    /// AWS's answer, in the request's protocol: the EC2/query XML or the JSON one.
    fn response(self, head: &str) -> Vec<u8> {
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
}
