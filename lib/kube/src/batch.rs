//! Applying the whole input: the reads every decision needs (made once per run), the namespace
//! check before the first write, the ApplySet parent before any member, the phases (sending only
//! what would change something), pruning, then the wait for what is not ready yet.
//!
//! Order matters for what a failure leaves behind: with `--app`, the parent records the members'
//! kinds and namespaces (the previous run's and this one's) before the first member is written,
//! so a run that fails or is killed at any later point leaves nothing `--delete --app` or
//! `--prune` cannot find.

use std::collections::{HashMap, HashSet};

use ekskit_core::output::to_stderr;
use ekskit_core::wait::Check;
use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use serde_json::Value;
use tracing::{debug, info, trace};

use crate::apply::{self, Applied, PatchOptions};
use crate::applyset::{AppSet, Inventory, inventory_of};
use crate::model::{Action, ObjectResult};
use crate::namespaces::{Namespaces, is_namespace};
use crate::options::ApplyOptions;
use crate::ordering::{self, Phase};
use crate::resolve::{Key, Kinds, Object};
use crate::timing::Stages;
use crate::{live, readiness, result_of, result_of_key, unchanged, waiting};

/// What is read before discovery is done (it needs none): the namespaces and the app's parent.
pub struct Early {
    pub namespaces: Namespaces,
    pub previous: Option<Inventory>,
}

/// The reads that need no discovery, made while discovery runs.
pub async fn early_reads(
    client: &Client,
    manifests: &[crate::manifests::Manifest],
    default_ns: &str,
    set: Option<&AppSet>,
) -> anyhow::Result<Early> {
    let parent = async {
        match set {
            Some(s) => s.read(client).await,
            None => Ok(None),
        }
    };
    let (namespaces, previous) =
        tokio::try_join!(Namespaces::read(client, manifests, default_ns, set.map(|s| s.namespace.as_str())), parent)?;
    Ok(Early { namespaces, previous })
}

/// What to do with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Live already holds it, as kapply last applied it: an apply would change nothing.
    Skip,
    /// Dry run of an object whose namespace or CRD this batch creates: the server cannot check
    /// it before they exist, so it is reported created without asking.
    CreatedByBatch,
    Send,
}

/// Everything one run decides with: live state, plans and readiness by object.
struct Run<'a> {
    client: &'a Client,
    options: &'a ApplyOptions,
    namespaces: Namespaces,
    /// The live form of objects that may be sent (Namespaces from the early reads).
    live: HashMap<Key, Value>,
    plans: HashMap<Key, Plan>,
    /// Objects that were ready when read before applying.
    ready_before: HashSet<Key>,
    opts: PatchOptions,
}

/// Applies `objects` (stamped with their digests), phase by phase.
pub async fn apply(
    client: &Client,
    objects: &[Object],
    set: Option<&AppSet>,
    kinds: &Kinds,
    options: &ApplyOptions,
    early: Early,
    stages: &mut Stages,
) -> anyhow::Result<Vec<ObjectResult>> {
    let Early { namespaces, previous } = early;
    namespaces.check(objects, set)?;
    let run = Run::prepare(client, objects, kinds, namespaces, options).await?;
    stages.lap("reads");
    let current = inventory_of(objects);
    let recorded = previous.clone().unwrap_or_default().union(&current);
    let mut applied = Vec::with_capacity(objects.len());
    if let Some(set) = set {
        applied.extend(run.parent_first(set, objects, previous.as_ref(), &recorded).await?);
        stages.lap("parent");
    }
    run.phases(objects, &mut applied, stages).await?;
    let mut results: Vec<ObjectResult> = applied.iter().map(|(o, a)| result_of(o, a.action, a.diff.clone())).collect();
    if options.prune
        && let Some(set) = set
    {
        let keep: HashSet<_> = objects.iter().map(Object::key).collect();
        for (key, api_version) in set.prune(client, kinds, &recorded, &keep, run.opts.dry_run).await? {
            results.push(result_of_key(key, api_version, Action::Pruned));
        }
        run.write_parent(set, Some(&recorded), &current).await?;
        stages.lap("prune");
    }
    stages.log(&run.counts(&applied));
    if run.opts.dry_run || !options.wait {
        return Ok(results);
    }
    let waiting: Vec<&Object> = applied.iter().filter(|(o, a)| run.must_wait(o, a.action)).map(|(o, _)| *o).collect();
    waiting::wait_ready(client, &waiting, options.timeout).await?;
    stages.lap("waits");
    for r in results.iter_mut().filter(|r| r.action != Action::Pruned) {
        r.ready = Some(true);
    }
    Ok(results)
}

/// The objects that can exist yet: not those of kinds whose CRD this batch brings, nor those in
/// namespaces that do not exist; Namespaces themselves come from the early reads.
fn readable<'o>(objects: &'o [Object], kinds: &Kinds, namespaces: &Namespaces) -> Vec<&'o Object> {
    objects
        .iter()
        .filter(|o| !is_namespace(&o.resource.api_version, &o.resource.kind))
        .filter(|o| kinds.is_served(&o.resource) && o.namespace.as_deref().is_none_or(|ns| namespaces.exists(ns)))
        .collect()
}

/// Objects whose metadata says enough before an apply: their readiness needs no status, or, for
/// CRDs, is known from discovery (a CRD's kind is served once it is Established).
fn metadata_is_enough(o: &Object) -> bool {
    is_crd(o) || readiness::needs_no_status(&o.resource.group, &o.resource.kind)
}

fn is_crd(o: &Object) -> bool {
    (o.resource.group.as_str(), o.resource.kind.as_str()) == ("apiextensions.k8s.io", "CustomResourceDefinition")
}

/// The live state of the objects, in one round of reads: in full, or as metadata where that is
/// enough to know an object unchanged (those come back apart, with whether they are ready); what
/// metadata cannot decide (written by others too) is read in full in a second round.
async fn read(
    client: &Client,
    objects: &[Object],
    kinds: &Kinds,
    namespaces: &Namespaces,
) -> anyhow::Result<(HashMap<Key, Value>, HashMap<Key, bool>)> {
    let (by_metadata, in_full): (Vec<&Object>, Vec<&Object>) =
        readable(objects, kinds, namespaces).into_iter().partition(|o| metadata_is_enough(o));
    let (metadata, mut live) =
        tokio::try_join!(live::fetch_as(client, &by_metadata, live::Form::Metadata), live::fetch(client, &in_full))?;
    let mut known_unchanged = HashMap::new();
    let mut unsure = Vec::new();
    for o in by_metadata {
        match metadata.get(&o.key()) {
            Some(meta) if unchanged::unchanged_by_metadata(&o.body, meta) => {
                let ready = if is_crd(o) { kinds.serves_crd(&o.body) } else { is_ready(o, meta) };
                known_unchanged.insert(o.key(), ready);
            }
            Some(_) => unsure.push(o),
            None => {}
        }
    }
    live.extend(live::fetch(client, &unsure).await?);
    for o in objects.iter().filter(|o| is_namespace(&o.resource.api_version, &o.resource.kind)) {
        live.extend(namespaces.live(&o.name).map(|ns| (o.key(), ns.clone())));
    }
    Ok((live, known_unchanged))
}

fn plan(o: &Object, live: Option<&Value>, kinds: &Kinds, namespaces: &Namespaces, opts: PatchOptions) -> Plan {
    let new_namespace = o.namespace.as_deref().is_some_and(|ns| namespaces.created_by_batch(ns));
    if opts.dry_run && (new_namespace || !kinds.is_served(&o.resource)) {
        return Plan::CreatedByBatch;
    }
    match unchanged::reason_to_send(&o.body, live) {
        None => Plan::Skip,
        Some(why) => {
            trace!("{}: sent ({why})", o.key());
            Plan::Send
        }
    }
}

/// Whether `crd` defines the kind of another object of the input (which must wait for it).
fn defines_a_kind_of(crd: &Object, objects: &[Object]) -> bool {
    let spec = &crd.body["spec"];
    objects
        .iter()
        .any(|o| spec["group"] == o.resource.group.as_str() && spec["names"]["kind"] == o.resource.kind.as_str())
}

impl<'a> Run<'a> {
    /// Reads the live state of the objects once and decides what to do with each.
    async fn prepare(
        client: &'a Client,
        objects: &[Object],
        kinds: &Kinds,
        namespaces: Namespaces,
        options: &'a ApplyOptions,
    ) -> anyhow::Result<Self> {
        let opts = options.patch();
        let (live, known_unchanged) = read(client, objects, kinds, &namespaces).await?;
        let mut plans = HashMap::new();
        let mut ready_before = HashSet::new();
        for o in objects {
            let key = o.key();
            let (plan, ready) = match known_unchanged.get(&key) {
                Some(ready) => (Plan::Skip, *ready),
                None => {
                    (plan(o, live.get(&key), kinds, &namespaces, opts), live.get(&key).is_some_and(|l| is_ready(o, l)))
                }
            };
            if ready {
                ready_before.insert(key.clone());
            }
            plans.insert(key, plan);
        }
        Ok(Self { client, options, namespaces, live, plans, ready_before, opts })
    }

    /// The parent before any member: its namespace first when the batch creates it, then the
    /// parent with `recorded` (unless it already holds that).
    async fn parent_first<'o>(
        &self,
        set: &AppSet,
        objects: &'o [Object],
        previous: Option<&Inventory>,
        recorded: &Inventory,
    ) -> anyhow::Result<Vec<(&'o Object, Applied)>> {
        let namespace: Vec<&Object> = objects.iter().filter(|o| self.is_parent_namespace(set, o)).collect();
        let applied = self.apply_batch(&namespace).await?;
        self.write_parent(set, previous, recorded).await?;
        Ok(applied)
    }

    fn is_parent_namespace(&self, set: &AppSet, o: &Object) -> bool {
        is_namespace(&o.resource.api_version, &o.resource.kind)
            && o.name == set.namespace
            && self.namespaces.created_by_batch(&o.name)
    }

    /// Records `inventory` on the parent unless it already holds it. In a dry run whose parent
    /// namespace comes with the batch, there is nothing the server could check yet.
    async fn write_parent(&self, set: &AppSet, holds: Option<&Inventory>, inventory: &Inventory) -> anyhow::Result<()> {
        if holds == Some(inventory) {
            debug!("the parent Secret {}/{} already records every member", set.namespace, set.parent);
            return Ok(());
        }
        if self.opts.dry_run && !self.namespaces.exists(&set.namespace) {
            return Ok(());
        }
        set.write(self.client, inventory, self.opts.dry_run).await
    }

    /// Every phase in order (but what `applied` already holds); after the definitions, a wait
    /// for the CRDs whose kinds the input uses.
    async fn phases<'o>(
        &self,
        objects: &'o [Object],
        applied: &mut Vec<(&'o Object, Applied)>,
        stages: &mut Stages,
    ) -> anyhow::Result<()> {
        let done: HashSet<Key> = applied.iter().map(|(o, _)| o.key()).collect();
        for phase in Phase::ALL {
            let first = applied.len();
            let batch: Vec<&Object> = objects.iter().filter(|o| o.phase == phase && !done.contains(&o.key())).collect();
            applied.extend(self.apply_batch(&batch).await?);
            stages.lap(phase.name());
            if phase == Phase::Definitions && !self.opts.dry_run {
                let crds: Vec<&Object> = applied[first..]
                    .iter()
                    .filter(|(o, a)| is_crd(o) && self.must_wait(o, a.action) && defines_a_kind_of(o, objects))
                    .map(|(o, _)| *o)
                    .collect();
                if !crds.is_empty() {
                    info!("waiting for {} CRDs to be Established", crds.len());
                    waiting::wait_ready(self.client, &crds, self.options.timeout).await?;
                }
                stages.lap("crds");
            }
        }
        Ok(())
    }

    /// How many objects were sent, left unsent as unchanged, or left to the batch.
    fn counts(&self, applied: &[(&Object, Applied)]) -> String {
        let count = |plan: Plan| applied.iter().filter(|(o, _)| self.plans[&o.key()] == plan).count();
        format!(
            "{} objects sent, {} unchanged without a request, {} left to the batch that creates their namespace or CRD",
            count(Plan::Send),
            count(Plan::Skip),
            count(Plan::CreatedByBatch)
        )
    }

    /// Applies one phase concurrently, objects that start a rollout first (their controllers get
    /// to work while the rest is applied); results in that order.
    async fn apply_batch<'o>(&self, batch: &[&'o Object]) -> anyhow::Result<Vec<(&'o Object, Applied)>> {
        let mut batch = batch.to_vec();
        batch.sort_by_key(|o| !ordering::starts_rollout(&o.resource.group, &o.resource.kind));
        let applied: Vec<(&Object, Applied)> = stream::iter(batch)
            .map(|o| async move {
                let key = o.key();
                let applied = match self.plans[&key] {
                    Plan::Skip => Applied { action: Action::Unchanged, diff: None },
                    Plan::CreatedByBatch => apply::created_by_batch(o, self.opts),
                    Plan::Send => apply::apply(self.client, o, self.live.get(&key), self.opts).await?,
                };
                anyhow::Ok((o, applied))
            })
            .buffered(self.options.concurrency.into())
            .try_collect()
            .await?;
        for (o, a) in &applied {
            if let Some(diff) = &a.diff {
                to_stderr(diff);
            }
            info!("{} {}{}", o.key(), crate::verb(a.action), if self.opts.dry_run { " (dry run)" } else { "" });
        }
        Ok(applied)
    }

    /// Whether to wait for an object after applying it: not when the apply changed nothing and
    /// it was ready when read before (its readiness cannot have changed by an apply of nothing).
    fn must_wait(&self, o: &Object, action: Action) -> bool {
        !(action == Action::Unchanged && self.ready_before.contains(&o.key()))
    }
}

fn is_ready(o: &Object, live: &Value) -> bool {
    readiness::check(&o.resource.group, &o.resource.kind, live) == Check::Ready(())
}
