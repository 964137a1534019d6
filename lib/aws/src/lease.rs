//! One run per stack across machines: a lease held as an S3 object written with conditional
//! puts. The file lock ([`ekskit_core::lock`]) keeps two runs on one machine apart; two CI runners
//! share no file system, so with `--lease s3://BUCKET[/PREFIX]` a run also takes
//! `<PREFIX>/<tool>-<region>-<stack>.lease`:
//!
//! - taking it is a PutObject with `If-None-Match: *`: of two runs, S3 lets exactly one create it;
//! - the holder renews it every quarter of its TTL with `If-Match: <its ETag>`, so a renewal
//!   fails the moment another run has taken it over, and the run stops instead of racing on;
//! - a waiting run takes over a lease whose ETag has not changed for a whole TTL, by its own
//!   clock (no clocks are compared across machines): the holder was killed or lost its network.
//!   The takeover is again conditional (`If-Match`), so of two waiters one wins;
//! - the lease is deleted when the run ends, also when it fails; a killed or interrupted run's
//!   lease lapses after its TTL.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use clap::Args;
use ekskit_core::cli::parse_duration;
use ekskit_core::wait::{Backoff, Check, until};
use ekskit_core::{Hinted, InputError};
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::{AwsResultExt, aws_code};

/// How long a run waits for another run's lease before it gives up.
const WAIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Default, Args)]
pub struct LeaseArgs {
    /// Also hold a lease in S3 for the run, so runs on other machines (CI runners) on the same
    /// stack take turns; the bucket must exist
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]", env = "EKSKIT_LEASE")]
    pub lease: Option<String>,

    /// How long a lease outlives its holder's last renewal: a killed run's lease is taken over
    /// after this
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub lease_ttl: Duration,
}

/// Where the lease lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseUrl {
    pub bucket: String,
    pub prefix: String,
}

impl LeaseUrl {
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let bad = || InputError::new(format!("--lease {text}: expected s3://BUCKET or s3://BUCKET/PREFIX"));
        let rest = text.strip_prefix("s3://").ok_or_else(bad)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.');
        if bucket.len() < 3 || bucket.len() > 63 || !bucket.chars().all(valid) {
            return Err(bad());
        }
        Ok(LeaseUrl { bucket: bucket.to_owned(), prefix: prefix.trim_matches('/').to_owned() })
    }

    fn key(&self, tool: &str, region: &str, stack: &str) -> String {
        let name = format!("{tool}-{region}-{stack}.lease");
        if self.prefix.is_empty() { name } else { format!("{}/{name}", self.prefix) }
    }
}

/// What the lease object says: who holds it, for the runs that wait.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holder {
    owner: String,
    tool: String,
    stack: String,
    region: String,
    ttl_seconds: u64,
    renewals: u64,
}

/// A lease on one stack's runs of one tool.
struct Lease {
    s3: Client,
    url: LeaseUrl,
    key: String,
    holder: Holder,
    ttl: Duration,
}

/// Runs `body` as the only run of `tool` on `stack` in `region`: holding the file lock of this
/// machine and, when `args` names one, the lease in S3 (neither for a dry run, which changes
/// nothing). The lease is given back when `body` ends, whatever its outcome; a lease taken over
/// by another run stops `body` with an error.
pub async fn exclusive<T>(
    config: &aws_config::SdkConfig,
    args: &LeaseArgs,
    dry_run: bool,
    (tool, region, stack): (&str, &str, &str),
    body: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    if dry_run {
        return body.await;
    }
    let _lock = ekskit_core::lock::acquire(tool, region, stack).await?;
    let Some(text) = args.lease.as_deref() else { return body.await };
    let url = LeaseUrl::parse(text)?;
    let lease = Lease {
        s3: Client::new(config),
        key: url.key(tool, region, stack),
        holder: Holder {
            owner: owner(),
            tool: tool.to_owned(),
            stack: stack.to_owned(),
            region: region.to_owned(),
            ttl_seconds: args.lease_ttl.as_secs().max(1),
            renewals: 0,
        },
        ttl: args.lease_ttl.max(Duration::from_secs(1)),
        url,
    };
    let etag = lease.acquire().await?;
    let outcome = tokio::select! {
        result = body => result,
        lost = lease.keep(etag.clone()) => Err(lost),
    };
    lease.release().await;
    outcome
}

impl Lease {
    fn where_(&self) -> String {
        format!("s3://{}/{}", self.url.bucket, self.key)
    }

    /// Takes the lease, waiting while another run holds it; its ETag.
    async fn acquire(&self) -> anyhow::Result<String> {
        // The other holder's ETag and since when (our clock) it has not changed.
        let seen: std::sync::Mutex<Option<(String, Instant)>> = std::sync::Mutex::new(None);
        let what = format!("the lease {}", self.where_());
        let backoff = Backoff { initial: Duration::from_secs(2), max: Duration::from_secs(5), factor: 1.5 };
        until(&what, "free", WAIT, backoff, || async {
            if let Some(etag) = self.write(&self.holder, None).await? {
                return Ok::<_, anyhow::Error>(Check::Ready(etag));
            }
            let Some((etag, holder)) = self.read().await? else { return Ok(Check::Pending("just freed".into())) };
            // The holder's TTL, not ours: it renews on its own schedule.
            let ttl = Duration::from_secs(holder.ttl_seconds.max(1));
            if !stale(&seen, &etag, ttl) {
                return Ok(Check::Pending(format!("held by {}", holder.owner)));
            }
            warn!("taking over {} from {} (not renewed for {}s)", self.where_(), holder.owner, ttl.as_secs());
            Ok(match self.write(&self.holder, Some(&etag)).await? {
                Some(mine) => Check::Ready(mine),
                None => Check::Pending("taken over by another run".into()),
            })
        })
        .await
        .inspect(|_| info!("holding the lease {}", self.where_()))
    }

    /// Renews the lease until it is lost; the error that says so.
    async fn keep(&self, mut etag: String) -> anyhow::Error {
        let mut renewed = Instant::now();
        let mut ticks = tokio::time::interval(self.ttl / 4);
        ticks.tick().await; // the first tick is now
        let mut holder = self.holder.clone();
        loop {
            ticks.tick().await;
            holder.renewals += 1;
            match self.write(&holder, Some(&etag)).await {
                Ok(Some(next)) => {
                    etag = next;
                    renewed = Instant::now();
                }
                Ok(None) => return self.lost("another run took it over"),
                Err(e) if renewed.elapsed() < self.ttl => warn!("renewing {}: {e:#}; trying again", self.where_()),
                Err(e) => return self.lost(&format!("it could not be renewed for {}s: {e:#}", self.ttl.as_secs())),
            }
        }
    }

    fn lost(&self, why: &str) -> anyhow::Error {
        Hinted::new(
            format!(
                "lost the lease {}: {why}; stopped so that two runs do not change stack {} at once",
                self.where_(),
                self.holder.stack
            ),
            "run the same command again: it waits for the other run and converges",
        )
        .into()
    }

    /// Deletes the lease if it is still ours; a failure only costs the next run a TTL's wait.
    async fn release(&self) {
        let ours = match self.read().await {
            Ok(Some((etag, holder))) if holder.owner == self.holder.owner => Some(etag),
            _ => None,
        };
        let Some(etag) = ours else { return };
        let deleted = self.s3.delete_object().bucket(&self.url.bucket).key(&self.key).if_match(etag).send().await;
        match deleted.aws(format!("deleting the lease {}", self.where_())) {
            Ok(_) => info!("released the lease {}", self.where_()),
            Err(e) => warn!("{e:#}; the next run takes it over after {}s", self.ttl.as_secs()),
        }
    }

    /// Writes a new lease (`None`) or replaces the one with `etag`; its new ETag, or `None` when
    /// the condition failed (someone else holds it).
    async fn write(&self, holder: &Holder, etag: Option<&str>) -> anyhow::Result<Option<String>> {
        let body = serde_json::to_vec(holder)?;
        let put = self.s3.put_object().bucket(&self.url.bucket).key(&self.key).content_type("application/json");
        let put = match etag {
            Some(etag) => put.if_match(etag),
            None => put.if_none_match("*"),
        };
        match put.body(ByteStream::from(body)).send().await.aws(format!("writing the lease {}", self.where_())) {
            Ok(out) => Ok(Some(
                out.e_tag().ok_or_else(|| anyhow!("S3 answered the lease's PutObject without an ETag"))?.to_owned(),
            )),
            // 412: the condition failed; 409: a conditional write raced ours; 404: If-Match on a
            // lease deleted meanwhile.
            Err(e)
                if matches!(aws_code(&e), Some("PreconditionFailed" | "ConditionalRequestConflict" | "NoSuchKey")) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The lease's ETag and holder; `None` when there is none.
    async fn read(&self) -> anyhow::Result<Option<(String, Holder)>> {
        let got = self.s3.get_object().bucket(&self.url.bucket).key(&self.key).send().await;
        let out = match got.aws(format!("reading the lease {}", self.where_())) {
            Ok(out) => out,
            Err(e) if aws_code(&e) == Some("NoSuchKey") => return Ok(None),
            Err(e) => return Err(e),
        };
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let bytes = out.body.collect().await.map_err(|e| anyhow!("reading the lease {}: {e}", self.where_()))?;
        let holder = serde_json::from_slice(&bytes.into_bytes())
            .unwrap_or_else(|_| Holder { owner: "an unreadable lease".into(), ..self.holder.clone() });
        Ok(Some((etag, holder)))
    }
}

/// Whether the lease with `etag` has gone unrenewed for a whole `ttl` since this run first saw
/// it (a new ETag starts the count again).
fn stale(seen: &std::sync::Mutex<Option<(String, Instant)>>, etag: &str, ttl: Duration) -> bool {
    let mut seen = seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*seen {
        Some((last, since)) if last == etag => since.elapsed() >= ttl,
        _ => {
            *seen = Some((etag.to_owned(), Instant::now()));
            false
        }
    }
}

/// Who this run is, for the runs that wait: host, process and a nonce (two runs may share both).
fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let nonce =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{host}/pid {}/{nonce:08x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_urls_name_a_bucket_and_an_optional_prefix() {
        let url = LeaseUrl::parse("s3://ci-locks/ekskit/").unwrap();
        assert_eq!(url, LeaseUrl { bucket: "ci-locks".into(), prefix: "ekskit".into() });
        assert_eq!(url.key("mkvpc", "eu-west-1", "demo"), "ekskit/mkvpc-eu-west-1-demo.lease");
        assert_eq!(LeaseUrl::parse("s3://ci-locks").unwrap().key("mkeks", "r", "s"), "mkeks-r-s.lease");
        for bad in ["ci-locks", "s3://", "s3://UPPER/x", "https://ci-locks/x", "s3://a"] {
            assert!(LeaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_lease_is_stale_after_a_ttl_without_a_new_etag() {
        let seen = std::sync::Mutex::new(None);
        assert!(!stale(&seen, "\"a\"", Duration::ZERO), "the first sighting starts the count");
        assert!(stale(&seen, "\"a\"", Duration::ZERO));
        assert!(!stale(&seen, "\"b\"", Duration::ZERO), "a renewal starts it again");
        assert!(!stale(&seen, "\"b\"", Duration::from_secs(60)));
    }

    #[test]
    fn the_owner_names_the_process() {
        assert!(owner().contains(&format!("pid {}", std::process::id())));
    }
}
