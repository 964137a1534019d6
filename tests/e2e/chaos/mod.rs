//! Chaos: each tool behind the fault proxy ([`ekskit_tests::faults`]), in front of every service
//! it talks to (the AWS emulator, the Kubernetes API server, the registry, the git remote). For
//! each kill point k, a run is killed (SIGKILL) right after its k-th request reached a service
//! and before the answer came back, then re-run; the re-run must converge on exactly what a
//! clean run makes, and a further run must print the same document. Then a `--delete` is killed
//! at its k-th request and re-run, and what the tool's services hold must be back to what it was
//! before: nothing orphaned. Then whole runs at 25% injected throttling and 5xx must succeed,
//! and runs with 10% of the answers lost after the work was done must leave nothing behind.
//!
//! `make test` runs a seeded slice (a few kill points per tool, one faulted run of each kind);
//! `make chaos` (EKSKIT_CHAOS=full) every kill point of a run and 20 faulted runs per tool, and
//! prints the figures. Each tool works in a place of its own (an AWS region, a namespace, a
//! repository), another for the slice: the inventories are region- or namespace-wide.

mod aws;
mod git;
mod kube;
mod registry;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use ekskit_tests::faults::{FaultProxy, Faults, Service, Upstream};
use ekskit_tests::{run, stderr};
use serde_json::Value;

const SEED: u64 = 20;

/// `make chaos` sets EKSKIT_CHAOS=full; anything else is the slice `make test` runs.
fn full() -> bool {
    std::env::var("EKSKIT_CHAOS").is_ok_and(|v| v == "full")
}

/// One of two places: one for `make chaos`, another for the slice, so that a `make test` run
/// while `make chaos` runs on the same stack does not see its resources.
fn place(full_run: &'static str, slice: &'static str) -> &'static str {
    if full() { full_run } else { slice }
}

/// The URLs of a proxy's fronts, in the order of [`Subject::services`].
type Fronts = [String];
/// Sets a command's environment and flags for the fronts.
type Aim = Box<dyn Fn(&mut Command, &Fronts)>;
/// The document a run reads, for the fronts.
type Document = Box<dyn Fn(&Fronts) -> Option<String>>;

/// One tool under test: the services it talks to, how to run it against the proxy's fronts, and
/// what those services hold.
struct Subject {
    tool: &'static str,
    /// The stack's environment the tool runs with.
    env: &'static BTreeMap<String, String>,
    services: Vec<(Upstream, Service)>,
    /// Points a command at the fronts (environment, flags every run gets).
    aim: Aim,
    /// The document a create reads, made for the fronts.
    stdin: Document,
    create: Vec<String>,
    /// The delete: after a create with its document, and after a run that failed with `stdin`.
    /// `None` for a tool that has no delete (tagbump): `reset` puts things back instead.
    cleanup: Option<Vec<String>>,
    reset: Option<Box<dyn Fn()>>,
    /// What of a document a further run must print again: a tool whose document reports what
    /// this run did (kapply's `created`/`unchanged`) drops that here.
    normalize: fn(&mut Value),
    /// What the services hold, as `kind id` lines (`untagged` appended where the stack's
    /// ownership mark is missing), sorted.
    inventory: Box<dyn Fn() -> Vec<String>>,
}

/// A proxy with a front per service of the subject.
struct Proxy {
    proxy: FaultProxy,
    fronts: Vec<String>,
}

impl Proxy {
    fn start(subject: &Subject, faults: Faults) -> Self {
        let (first, rest) = subject.services.split_first().expect("a subject talks to a service");
        let proxy = FaultProxy::start_for(first.0.clone(), first.1, faults);
        let mut fronts = vec![proxy.url.clone()];
        fronts.extend(rest.iter().map(|(upstream, service)| proxy.front(upstream.clone(), *service)));
        Proxy { proxy, fronts }
    }
}

#[derive(Debug, Default)]
struct Figures {
    create_requests: u64,
    delete_requests: u64,
    kill_points: usize,
    converged: usize,
    orphans: usize,
    fault_runs: usize,
    fault_runs_ok: usize,
    drop_runs: usize,
    drop_runs_ok: usize,
    failures: Vec<String>,
}

impl Figures {
    /// After one kill point or faulted run (`what`): a failure is recorded and followed by what a
    /// user does next, a plain delete without faults; what that leaves is orphaned. True when
    /// something was left, so the next runs would start from a dirty place.
    fn settle(&mut self, subject: &Subject, what: &str, result: Result<(), String>, baseline: &[String]) -> bool {
        if let Err(e) = result {
            self.failures.push(format!("{what}: {e}"));
            if let Err(e) = plain_cleanup(subject) {
                self.failures.push(format!("the delete after {what}: {e}"));
            }
        }
        let left = leftovers(baseline, &(subject.inventory)());
        self.orphans += left.len();
        if !left.is_empty() {
            self.failures.push(format!("{what} left {left:?}"));
        }
        !left.is_empty()
    }
}

/// Runs the kill points and the faulted runs for `subject`, reports the figures, and fails on
/// any run that did not converge or left something behind.
fn check(subject: Subject) {
    let figures = chaos(&subject);
    report(subject.tool, &figures);
    let failed = figures.failures.join("\n");
    assert_eq!(figures.orphans, 0, "{}: resources left behind:\n{failed}", subject.tool);
    assert_eq!(figures.converged, figures.kill_points, "{}:\n{failed}", subject.tool);
    // At least 19 of 20 runs at 25% faults succeed. A run with lost answers may still fail (a
    // create retried by a client library after its first attempt did the work can meet "already
    // exists"; docs/chaos.md); it is counted, and must leave nothing the plain delete after it
    // cannot remove (the orphan check above).
    let needed = |runs: usize| if full() { runs - runs / 20 } else { runs };
    assert!(figures.fault_runs_ok >= needed(figures.fault_runs), "{}:\n{failed}", subject.tool);
    if figures.drop_runs_ok < figures.drop_runs {
        let _ = writeln!(std::io::stderr(), "chaos: {} with lost answers:\n{failed}", subject.tool);
    }
}

fn chaos(subject: &Subject) -> Figures {
    let mut figures = Figures::default();
    let baseline = (subject.inventory)();
    let proxy = Proxy::start(subject, Faults::none());

    // The reference: a clean run through the proxy, which counts its requests.
    proxy.proxy.disarm();
    let doc = clean(subject, &proxy, &subject.create, None).expect("the reference run");
    figures.create_requests = proxy.proxy.seen();
    let reference = shape(&(subject.inventory)());
    proxy.proxy.disarm();
    undo(subject, &proxy, &doc).expect("the reference delete");
    figures.delete_requests = proxy.proxy.seen();
    assert_eq!((subject.inventory)(), baseline, "the reference delete left something");

    for k in kill_points(figures.create_requests.max(figures.delete_requests)) {
        figures.kill_points += 1;
        let result = kill_point(subject, &proxy, k, &reference);
        figures.converged += usize::from(result.is_ok());
        if figures.settle(subject, &format!("kill point {k}"), result, &baseline) {
            break; // the next kill points would start from a dirty place
        }
    }

    // 25% throttling and 5xx; then 10% of the answers lost after the service did the work.
    let runs = if full() { 20 } else { 1 };
    let kinds = [
        ("25% faults", Faults::errors(SEED, 0.25)),
        ("10% answers lost", Faults { seed: SEED, rate: 0.1, drops: 1.0 }),
    ];
    for (kind, faults) in kinds {
        for run in 0..runs {
            let proxy = Proxy::start(subject, Faults { seed: SEED + run, ..faults });
            let result = faulted_run(subject, &proxy, &reference, &baseline);
            let (tried, ok) = if faults.drops > 0.0 {
                (&mut figures.drop_runs, &mut figures.drop_runs_ok)
            } else {
                (&mut figures.fault_runs, &mut figures.fault_runs_ok)
            };
            *tried += 1;
            *ok += usize::from(result.is_ok());
            if figures.settle(subject, &format!("run {run} at {kind}"), result, &baseline) {
                return figures;
            }
        }
    }
    figures
}

/// Every request of a run (full), or a seeded handful spread over it (the slice).
fn kill_points(requests: u64) -> Vec<u64> {
    if full() {
        return (1..=requests).collect();
    }
    let mut points: Vec<u64> = [1, 4, 2].iter().map(|q| 1 + (SEED * 7 + requests * q / 5) % requests).collect();
    points.dedup();
    points
}

/// Create killed at k, re-run; delete killed at k, re-run (or, without a delete, the reset).
fn kill_point(subject: &Subject, proxy: &Proxy, k: u64, reference: &[String]) -> Result<(), String> {
    let stdin = (subject.stdin)(&proxy.fronts);
    killed_at(subject, proxy, k, &subject.create, stdin.as_deref());
    proxy.proxy.disarm();
    let doc = create_and_check(subject, proxy, reference)?;
    if subject.cleanup.is_some() {
        killed_at(subject, proxy, k, &delete_args(subject), Some(&doc.to_string()));
        proxy.proxy.disarm();
    }
    undo(subject, proxy, &doc)
}

/// A create that must make what the reference made, and a re-run that must print the same
/// document; the document.
fn create_and_check(subject: &Subject, proxy: &Proxy, reference: &[String]) -> Result<Value, String> {
    let doc = clean(subject, proxy, &subject.create, None)?;
    let now = shape(&(subject.inventory)());
    if now != reference {
        return Err(format!("the create made {now:?}, a clean run {reference:?}"));
    }
    let mut again = clean(subject, proxy, &subject.create, None)?;
    let mut first = doc.clone();
    (subject.normalize)(&mut first);
    (subject.normalize)(&mut again);
    if again != first {
        return Err(format!("a further run printed another document:\n{again}\nnot\n{doc}"));
    }
    Ok(doc)
}

/// Create, re-run, delete, each through a proxy that fails some of the requests.
fn faulted_run(subject: &Subject, proxy: &Proxy, reference: &[String], baseline: &[String]) -> Result<(), String> {
    let doc = create_and_check(subject, proxy, reference)?;
    undo(subject, proxy, &doc)?;
    let left = leftovers(baseline, &(subject.inventory)());
    if left.is_empty() { Ok(()) } else { Err(format!("left {left:?}")) }
}

/// The tool's `--delete` of what `doc` describes, or the subject's reset.
fn undo(subject: &Subject, proxy: &Proxy, doc: &Value) -> Result<(), String> {
    match &subject.reset {
        Some(reset) if subject.cleanup.is_none() => {
            reset();
            Ok(())
        }
        _ => clean(subject, proxy, &delete_args(subject), Some(&doc.to_string())).map(drop),
    }
}

/// The delete a user runs after a failed run, without faults.
fn plain_cleanup(subject: &Subject) -> Result<(), String> {
    let Some(cleanup) = &subject.cleanup else {
        subject.reset.as_ref().expect("a subject without a delete has a reset")();
        return Ok(());
    };
    let plain = Proxy::start(subject, Faults::none());
    let stdin = (subject.stdin)(&plain.fronts);
    clean(subject, &plain, cleanup, stdin.as_deref()).map(drop)
}

/// For a document that describes what is, not what the run did.
fn as_is(_: &mut Value) {}

/// The delete after a create, with the create's document on stdin: the cleanup's flags (which
/// override what the document says).
fn delete_args(subject: &Subject) -> Vec<String> {
    subject.cleanup.clone().unwrap_or_default()
}

fn command(subject: &Subject, proxy: &Proxy, args: &[String]) -> Command {
    let mut cmd = ekskit_tests::tool(subject.tool, subject.env);
    cmd.args(args);
    (subject.aim)(&mut cmd, &proxy.fronts);
    cmd
}

/// A run to its end; its document, or what it said when it failed. Without `stdin`, the
/// subject's own document for these fronts.
fn clean(subject: &Subject, proxy: &Proxy, args: &[String], stdin: Option<&str>) -> Result<Value, String> {
    let own = (subject.stdin)(&proxy.fronts);
    let out = run(command(subject, proxy, args), stdin.or(own.as_deref()));
    if !out.status.success() {
        return Err(format!("{} {args:?} exited {:?}:\n{}", subject.tool, out.status.code(), stderr(&out)));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{} {args:?}: stdout is not JSON: {e}", subject.tool))
}

/// Starts the tool armed to be killed at its k-th request; true when it was (a run with fewer
/// requests ends by itself).
fn killed_at(subject: &Subject, proxy: &Proxy, k: u64, args: &[String], stdin: Option<&str>) -> bool {
    let signal = proxy.proxy.arm_kill(k);
    let mut cmd = command(subject, proxy, args);
    cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawning the tool");
    let mut pipe = child.stdin.take().expect("stdin is piped");
    pipe.write_all(stdin.unwrap_or_default().as_bytes()).expect("writing stdin");
    drop(pipe);
    let limit = Instant::now() + Duration::from_secs(600);
    loop {
        match signal.recv_timeout(Duration::from_millis(20)) {
            Ok(()) => {
                child.kill().expect("SIGKILL"); // no cleanup, as with a lost runner
                child.wait().expect("reaping the tool");
                return true;
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                if child.try_wait().expect("polling the tool").is_some() {
                    return false;
                }
                assert!(Instant::now() < limit, "{} armed at request {k} neither ended nor got there", subject.tool);
            }
        }
    }
}

/// The inventory without ids: kinds and whether they carry the stack's mark, sorted.
fn shape(inventory: &[String]) -> Vec<String> {
    let mut shape: Vec<String> = inventory
        .iter()
        .map(|line| {
            let mut words = line.split(' ');
            let kind = words.next().unwrap_or_default();
            format!("{kind}{}", if line.ends_with(" untagged") { " untagged" } else { "" })
        })
        .collect();
    shape.sort();
    shape
}

fn leftovers(baseline: &[String], now: &[String]) -> Vec<String> {
    now.iter().filter(|l| !baseline.contains(l)).cloned().collect()
}

fn report(tool: &str, f: &Figures) {
    let line = format!(
        "{tool:<11} requests {:>3} create / {:>3} delete | kill points {:>3} tried, {:>3} converged | orphans {} | 25% faults: {}/{} runs succeeded | 10% answers lost: {}/{}",
        f.create_requests,
        f.delete_requests,
        f.kill_points,
        f.converged,
        f.orphans,
        f.fault_runs_ok,
        f.fault_runs,
        f.drop_runs_ok,
        f.drop_runs
    );
    let _ = writeln!(std::io::stderr(), "chaos: {line}");
    if let Ok(path) = std::env::var("EKSKIT_CHAOS_REPORT") {
        let row = serde_json::json!({
            "tool": tool, "create_requests": f.create_requests, "delete_requests": f.delete_requests,
            "kill_points": f.kill_points, "converged": f.converged, "orphans": f.orphans,
            "fault_runs": f.fault_runs, "fault_runs_ok": f.fault_runs_ok,
            "drop_runs": f.drop_runs, "drop_runs_ok": f.drop_runs_ok,
        });
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("the chaos report");
        writeln!(file, "{row}").expect("writing the chaos report");
    }
}
