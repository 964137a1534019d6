//! Timing rules on the AWS emulator (`scripts/devstack.d/moto_timed.py`): clusters, node groups,
//! add-ons and NAT gateways whose name, cluster or `ekskit.io/stack` tag contains the rule's
//! `match` pass through their real intermediate states for durations scaled from AWS's, and end
//! in a failed state with AWS's reason when the rule says so. A rule is set with [`Timing::set`]
//! and dropped when the returned value is, so a test's rule never outlives it.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

const PATH: &str = "/_ekskit/timing";

/// A rule set on the emulator; dropping it drops the rule.
pub struct Timing {
    address: String,
    matched: String,
}

impl Timing {
    /// Sets `rule` (`{"match": .., "scale": .., "scales": {..}, "fail": {..}}`) on the emulator at
    /// the stack's `AWS_ENDPOINT_URL`; panics when the emulator refuses it.
    pub fn set(env: &BTreeMap<String, String>, rule: Value) -> Timing {
        let address = address(env);
        let matched = rule["match"].as_str().expect("a rule has a match").to_owned();
        let (status, body) = request(&address, "POST", PATH, Some(&rule.to_string()));
        assert_eq!(status, 200, "the emulator refused the timing rule {rule}: {body}");
        Timing { address, matched }
    }

    /// The rules and the resources on a clock now, as the emulator reports them.
    pub fn state(&self) -> Value {
        let (_, body) = request(&self.address, "GET", PATH, None);
        serde_json::from_str(&body).expect("the emulator answers JSON")
    }
}

impl Drop for Timing {
    fn drop(&mut self) {
        let query = format!("{PATH}?match={}", encode(&self.matched));
        let (status, body) = request(&self.address, "DELETE", &query, None);
        if status != 200 && !std::thread::panicking() {
            panic!("dropping the timing rule {}: {status} {body}", self.matched);
        }
    }
}

/// `host:port` of `AWS_ENDPOINT_URL` (`http://127.0.0.1:4666`).
fn address(env: &BTreeMap<String, String>) -> String {
    let url = &env["AWS_ENDPOINT_URL"];
    url.trim_start_matches("http://").trim_end_matches('/').to_owned()
}

/// Percent-encodes what is not unreserved in a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One HTTP/1.1 request with `Connection: close`; (status, body).
fn request(address: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream =
        TcpStream::connect(address).unwrap_or_else(|e| panic!("connecting to the emulator {address}: {e}"));
    let body = body.unwrap_or("");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body.as_bytes())).expect("writing the request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("reading the answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, body.to_owned())
}

const INSIGHTS: &str = "/_ekskit/insights";

/// A finding added to a cluster's EKS upgrade insights on the emulator
/// (`scripts/devstack.d/moto_upgrades.py`); dropping it drops every finding of that cluster.
pub struct Finding {
    address: String,
    cluster: String,
}

impl Finding {
    /// Adds `finding` (`{"cluster": .., "kubernetesVersion": "1.36", "name": .., "status":
    /// "ERROR", "reason": ..}`); panics when the emulator refuses it.
    pub fn add(env: &BTreeMap<String, String>, finding: Value) -> Finding {
        let address = address(env);
        let cluster = finding["cluster"].as_str().expect("a finding names its cluster").to_owned();
        let (status, body) = request(&address, "POST", INSIGHTS, Some(&finding.to_string()));
        assert_eq!(status, 200, "the emulator refused the finding {finding}: {body}");
        Finding { address, cluster }
    }
}

impl Drop for Finding {
    fn drop(&mut self) {
        let query = format!("{INSIGHTS}?cluster={}", encode(&self.cluster));
        let (status, body) = request(&self.address, "DELETE", &query, None);
        if status != 200 && !std::thread::panicking() {
            panic!("dropping the findings of {}: {status} {body}", self.cluster);
        }
    }
}
