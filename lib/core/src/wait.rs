//! Waiting for remote state with a deadline, backoff and progress lines on stderr.
//!
//! Every wait says what it waits on and for how long at most; a timeout names the resource
//! and the last state it was seen in, and a state that can never become ready fails at once.

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
