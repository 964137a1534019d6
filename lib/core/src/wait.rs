//! Waiting for remote state with a deadline, backoff and progress lines on stderr.
//!
//! Every wait says what it waits on and for how long at most; a timeout names the resource
//! and the last state it was seen in, and a state that can never become ready fails at once.

// The one module that sleeps: clippy.toml denies bare sleeps everywhere else.
#![allow(clippy::disallowed_methods)]

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::errors::Hinted;

/// What one look at the resource found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<T> {
    /// Done; the wait returns this value.
    Ready(T),
    /// Not yet; the string is the state to report (e.g. `pending`).
    Pending(String),
    /// It will never get ready (e.g. NAT gateway `failed`): stop waiting now.
    Failed(String),
}

/// How often to look: `initial`, growing by `factor` up to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_secs(2), max: Duration::from_secs(15), factor: 1.5 }
    }
}

impl Backoff {
    fn next(&self, current: Duration) -> Duration {
        current.mul_f64(self.factor).min(self.max)
    }
}

/// Polls `check` until it is ready, failed, or `timeout` passes.
///
/// `what` names the resource in progress lines and errors, e.g. `NAT gateway nat-0a1 (us-east-1a)`.
pub async fn until<T, E, F, Fut>(
    what: &str,
    goal: &str,
    timeout: Duration,
    backoff: Backoff,
    mut check: F,
) -> anyhow::Result<T>
where
    E: Into<anyhow::Error>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Check<T>, E>>,
{
    let started = Instant::now();
    let deadline = started + timeout;
    let mut delay = backoff.initial;
    let mut announced = false;
    let mut last_state = String::from("unknown");
    loop {
        match check().await.map_err(Into::into)? {
            Check::Ready(value) => {
                if announced {
                    tracing::info!("{what} is {goal} after {}", human(started.elapsed()));
                }
                return Ok(value);
            }
            Check::Failed(state) => {
                return Err(Hinted::new(
                    format!("{what} will not become {goal}: it is {state}"),
                    "read the state above, fix its cause, then run the same command again",
                )
                .into());
            }
            Check::Pending(state) => {
                if !announced {
                    tracing::info!("waiting for {what} to become {goal} (now {state}; up to {})", human(timeout));
                    announced = true;
                } else if state != last_state {
                    tracing::info!("{what} is {state} ({} so far)", human(started.elapsed()));
                }
                last_state = state;
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Hinted::new(
                format!(
                    "timed out after {} waiting for {what} to become {goal}; last seen {last_state}",
                    human(timeout)
                ),
                "run the same command again to keep waiting, or raise --timeout",
            )
            .into());
        }
        tokio::time::sleep(delay.min(deadline - now)).await;
        delay = backoff.next(delay);
    }
}

/// When [`retry`] stops retrying a call that keeps failing transiently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// At most this many retries after the first attempt (`--retries`).
    Retries(u32),
    /// Retry as long as less than this was spent sleeping between attempts: for a failure that
    /// lasts a while, such as a new IAM role the service cannot assume yet.
    Waited(Duration),
}

/// How [`retry`] retries: the delays between attempts and when to give up.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub backoff: Backoff,
    pub limit: Limit,
}

/// A call [`retry`] gave up on: its last error (transient or not) and the attempts made.
#[derive(Debug)]
pub struct GaveUp<E> {
    pub error: E,
    pub attempts: u32,
}

/// What the retry loops share, so the async and the blocking one cannot drift apart.
struct Attempts {
    policy: Retry,
    attempt: u32,
    delay: Duration,
    waited: Duration,
}

impl Attempts {
    fn new(policy: Retry) -> Self {
        Self { policy, attempt: 1, delay: policy.backoff.initial, waited: Duration::ZERO }
    }

    /// After a failed attempt: how long to sleep before the next one (at least what the failure
    /// `asked` for, up to [`ASKED_MAX`]), or `None` to give up. Logs the retry.
    fn next<E: Display>(
        &mut self,
        what: &str,
        error: &E,
        transient: bool,
        asked: Option<Duration>,
    ) -> Option<Duration> {
        let more = match self.policy.limit {
            Limit::Retries(retries) => self.attempt <= retries,
            Limit::Waited(limit) => self.waited < limit,
        };
        if !transient || !more {
            return None;
        }
        let delay = self.delay.max(asked.unwrap_or_default().min(ASKED_MAX));
        match self.policy.limit {
            Limit::Retries(retries) => {
                tracing::warn!("{what}: {error:#}; retry {} of {retries} in {delay:?}", self.attempt)
            }
            Limit::Waited(_) => tracing::warn!("{what}: {error:#}; retrying in {delay:?}"),
        }
        self.attempt += 1;
        self.waited += delay;
        self.delay = self.policy.backoff.next(self.delay);
        Some(delay)
    }

    fn gave_up<E>(&self, error: E) -> GaveUp<E> {
        GaveUp { error, attempts: self.attempt }
    }
}

/// The longest wait a failure can ask [`retry_asked`] for: a server that asks for more (a
/// registry's Retry-After of an hour) is not waited out in one run.
pub const ASKED_MAX: Duration = Duration::from_secs(60);

/// Calls `op` (with the attempt number, from 1) until it succeeds, fails in a way `transient`
/// says a retry cannot fix, or `policy` gives up; each retry is logged with `what`, the attempt
/// and the error. Unlike [`until`], which polls a state, this repeats a call that failed.
pub async fn retry<T, E, F, Fut>(
    what: &str,
    policy: Retry,
    transient: impl Fn(&E) -> bool,
    op: F,
) -> Result<T, GaveUp<E>>
where
    E: Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    retry_asked(what, policy, transient, |_| None, op).await
}

/// [`retry`] for a service that says how long to wait (HTTP's Retry-After): `asked` reads that
/// from a failure, and the next attempt waits at least as long (up to [`ASKED_MAX`]).
pub async fn retry_asked<T, E, F, Fut>(
    what: &str,
    policy: Retry,
    transient: impl Fn(&E) -> bool,
    asked: impl Fn(&E) -> Option<Duration>,
    mut op: F,
) -> Result<T, GaveUp<E>>
where
    E: Display,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempts = Attempts::new(policy);
    loop {
        let error = match op(attempts.attempt).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        match attempts.next(what, &error, transient(&error), asked(&error)) {
            Some(delay) => tokio::time::sleep(delay).await,
            None => return Err(attempts.gave_up(error)),
        }
    }
}

/// [`retry`] for blocking code (git2): sleeps the thread, out of the async workers' way.
pub fn retry_blocking<T, E, F>(
    what: &str,
    policy: Retry,
    transient: impl Fn(&E) -> bool,
    mut op: F,
) -> Result<T, GaveUp<E>>
where
    E: Display,
    F: FnMut(u32) -> Result<T, E>,
{
    let mut attempts = Attempts::new(policy);
    loop {
        let error = match op(attempts.attempt) {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        match attempts.next(what, &error, transient(&error), None) {
            // Outside a runtime block_in_place just runs the closure.
            Some(delay) => tokio::task::block_in_place(|| std::thread::sleep(delay)),
            None => return Err(attempts.gave_up(error)),
        }
    }
}

/// `90s` → `1m30s`: durations as people read them in progress lines.
pub fn human(d: Duration) -> impl Display {
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn returns_once_ready() {
        let calls = AtomicU32::new(0);
        let value = until("NAT gateway nat-1", "available", Duration::from_secs(600), Backoff::default(), || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Infallible>(if n < 3 { Check::Pending("pending".into()) } else { Check::Ready(n) }) }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn fails_fast_on_a_failed_state() {
        let started = Instant::now();
        let err = until::<(), _, _, _>(
            "NAT gateway nat-1",
            "available",
            Duration::from_secs(600),
            Backoff::default(),
            || async { Ok::<_, Infallible>(Check::Failed("failed: Elastic IP already in use".into())) },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "NAT gateway nat-1 will not become available: it is failed: Elastic IP already in use"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_names_the_resource_and_its_last_state() {
        let started = Instant::now();
        let err = until::<(), _, _, _>(
            "NAT gateway nat-1",
            "available",
            Duration::from_secs(60),
            Backoff::default(),
            || async { Ok::<_, Infallible>(Check::Pending("pending".into())) },
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "timed out after 1m waiting for NAT gateway nat-1 to become available; last seen pending"
        );
        // It gives up at the deadline, not a whole backoff step later.
        assert_eq!(started.elapsed(), Duration::from_secs(60));
    }

    fn doubling(initial: u64, max: u64, limit: Limit) -> Retry {
        let backoff = Backoff { initial: Duration::from_secs(initial), max: Duration::from_secs(max), factor: 2.0 };
        Retry { backoff, limit }
    }

    /// A call failing with `errors` in turn, then succeeding with its attempt number.
    fn flaky(errors: &'static [&'static str]) -> impl FnMut(u32) -> Result<u32, &'static str> {
        move |attempt| errors.get(attempt as usize - 1).map_or(Ok(attempt), |e| Err(*e))
    }

    #[tokio::test(start_paused = true)]
    async fn retries_transient_errors_with_doubling_delays() {
        let started = Instant::now();
        let mut call = flaky(&["503", "503", "503"]);
        let policy = doubling(1, 30, Limit::Retries(4));
        let value = retry("pushing x:1", policy, |e| *e == "503", |n| std::future::ready(call(n))).await.unwrap();
        assert_eq!(value, 4);
        assert_eq!(started.elapsed(), Duration::from_secs(1 + 2 + 4));
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_after_its_retries_or_at_once_on_a_lasting_error() {
        let started = Instant::now();
        let mut call = flaky(&["503", "503", "503"]);
        let policy = doubling(1, 30, Limit::Retries(2));
        let gave_up = retry("x", policy, |e| *e == "503", |n| std::future::ready(call(n))).await.unwrap_err();
        assert_eq!((gave_up.error, gave_up.attempts), ("503", 3));
        assert_eq!(started.elapsed(), Duration::from_secs(1 + 2));

        let mut call = flaky(&["503", "401"]);
        let gave_up = retry("x", policy, |e| *e == "503", |n| std::future::ready(call(n))).await.unwrap_err();
        assert_eq!((gave_up.error, gave_up.attempts), ("401", 2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_the_failure_asks_for_is_kept_up_to_its_cap() {
        let policy = doubling(1, 8, Limit::Retries(3));
        let asked = |e: &&str| e.strip_prefix("429 after ").and_then(|s| s.parse().ok()).map(Duration::from_secs);
        let mut call = flaky(&["429 after 5", "503", "429 after 3600"]);
        let started = Instant::now();
        let value = retry_asked("x", policy, |_| true, asked, |n| std::future::ready(call(n))).await.unwrap();
        // 5s asked (more than the 1s backoff), then the 2s backoff, then the cap, not an hour.
        assert_eq!((value, started.elapsed()), (4, Duration::from_secs(5 + 2) + ASKED_MAX));
    }

    #[tokio::test(start_paused = true)]
    async fn a_time_limit_counts_the_sleeps_and_caps_the_delay() {
        // 2+4+8+16+20+20+20+20 = 110s < 120s: one more retry (20s), then it gives up.
        let started = Instant::now();
        let policy = doubling(2, 20, Limit::Waited(Duration::from_secs(120)));
        let gave_up = retry("x", policy, |_| true, |_| async { Err::<(), _>("not yet") }).await.unwrap_err();
        assert_eq!((gave_up.attempts, started.elapsed()), (10, Duration::from_secs(130)));
    }

    #[test]
    fn the_blocking_variant_retries_the_same_way() {
        let mut call = flaky(&["rejected", "rejected"]);
        let backoff = Backoff { initial: Duration::from_millis(1), max: Duration::from_millis(4), factor: 2.0 };
        let policy = Retry { backoff, limit: Limit::Retries(2) };
        assert_eq!(retry_blocking("push of main", policy, |_| true, &mut call).unwrap(), 3);
        let mut call = flaky(&["rejected", "rejected", "rejected"]);
        let gave_up = retry_blocking("push of main", policy, |_| true, &mut call).unwrap_err();
        assert_eq!((gave_up.error, gave_up.attempts), ("rejected", 3));
    }

    #[test]
    fn backoff_grows_to_its_cap() {
        let b = Backoff::default();
        let mut d = b.initial;
        for _ in 0..20 {
            d = b.next(d);
        }
        assert_eq!(d, b.max);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(5)).to_string(), "5s");
        assert_eq!(human(Duration::from_secs(600)).to_string(), "10m");
        assert_eq!(human(Duration::from_secs(90)).to_string(), "1m30s");
    }
}
