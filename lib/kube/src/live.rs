//! Reading the live state of many objects at once: one LIST per resource and namespace where
//! several objects share them, a GET for the rest. Applying and waiting both need it, and on a
//! busy API server halving the requests is what makes kapply fast. Where metadata is enough
//! (the digest, the managers, whether it is being deleted), only metadata is asked for: a LIST
//! of every CRD in a cluster is megabytes of schemas, its metadata a few kilobytes.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::trace;

use crate::errors::{idempotent, is_not_found, kube_error};
use crate::resolve::{Key, Object};
use crate::server::api;

/// From this many objects of one resource in one namespace on, one LIST beats a GET each.
const LIST_FROM: usize = 3;
const PAGE: u32 = 500;
const CONCURRENCY: usize = 16;

/// What to read of each object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Full,
    /// `{"metadata": …}` only.
    Metadata,
}

/// The live objects among `objects`, by key; absent ones (or of kinds not served yet) are missing.
pub async fn fetch(client: &Client, objects: &[&Object]) -> anyhow::Result<HashMap<Key, Value>> {
    fetch_as(client, objects, Form::Full).await
}

/// [`fetch`] in the given form.
pub async fn fetch_as(client: &Client, objects: &[&Object], form: Form) -> anyhow::Result<HashMap<Key, Value>> {
    let mut groups: HashMap<(String, String, Option<String>), Vec<&Object>> = HashMap::new();
    for o in objects {
        let group = (o.resource.api_version.clone(), o.resource.plural.clone(), o.namespace.clone());
        groups.entry(group).or_default().push(o);
    }
    let found: Vec<Vec<(Key, Value)>> = stream::iter(groups.into_values())
        .map(|members| async move {
            let started = Instant::now();
            let found = if members.len() >= LIST_FROM {
                list(client, &members, form).await
            } else {
                get_each(client, &members, form).await
            };
            let (first, n) = (members[0], members.len());
            let ns = first.namespace.as_deref().unwrap_or("(cluster)");
            trace!("read {n} {} in {ns} ({form:?}) in {}ms", first.resource.plural, started.elapsed().as_millis());
            found
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

async fn list(client: &Client, members: &[&Object], form: Form) -> anyhow::Result<Vec<(Key, Value)>> {
    let first = members[0];
    let api = api(client, &first.resource, first.namespace.as_deref());
    let wanted: HashMap<&str, &Object> = members.iter().map(|o| (o.name.as_str(), *o)).collect();
    let mut found = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let listing = format!("listing {}", first.resource.plural);
        let page = match idempotent(&listing, || list_page(&api, &params, form)).await {
            Ok(page) => page,
            Err(e) if is_not_found(&e) => return Ok(found),
            Err(e) => {
                let scope = first.namespace.as_deref().map(|ns| format!(" in namespace {ns}")).unwrap_or_default();
                return Err(kube_error(e, format!("listing {}{scope}", first.resource.plural)));
            }
        };
        for (name, value) in page.items {
            if let Some(o) = wanted.get(name.as_str()) {
                found.push((o.key(), value?));
            }
        }
        match page.next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(found),
        }
    }
}

/// One page of a LIST: each item's name and form, and the token of the next page.
struct Page {
    items: Vec<(String, serde_json::Result<Value>)>,
    next: Option<String>,
}

async fn list_page(api: &Api<DynamicObject>, params: &ListParams, form: Form) -> kube::Result<Page> {
    let name = |meta: &ObjectMeta| meta.name.clone().unwrap_or_default();
    let (items, next) = match form {
        Form::Full => {
            let list = api.list(params).await?;
            (
                list.items.into_iter().map(|i| (name(&i.metadata), serde_json::to_value(i))).collect(),
                list.metadata.continue_,
            )
        }
        Form::Metadata => {
            let list = api.list_metadata(params).await?;
            let items = list.items.into_iter().map(|i| (name(&i.metadata), metadata_only(&i.metadata))).collect();
            (items, list.metadata.continue_)
        }
    };
    Ok(Page { items, next: next.filter(|c| !c.is_empty()) })
}

async fn get_each(client: &Client, members: &[&Object], form: Form) -> anyhow::Result<Vec<(Key, Value)>> {
    let mut found = Vec::new();
    for o in members {
        let api = api(client, &o.resource, o.namespace.as_deref());
        let got = idempotent(&format!("reading {}", o.key()), || async {
            match form {
                Form::Full => api.get_opt(&o.name).await.map(|g| g.map(serde_json::to_value)),
                Form::Metadata => api.get_metadata_opt(&o.name).await.map(|g| g.map(|m| metadata_only(&m.metadata))),
            }
        })
        .await;
        match got {
            Ok(Some(live)) => found.push((o.key(), live?)),
            Ok(None) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(kube_error(e, format!("reading {}", o.key()))),
        }
    }
    Ok(found)
}

fn metadata_only(metadata: &ObjectMeta) -> serde_json::Result<Value> {
    Ok(json!({ "metadata": serde_json::to_value(metadata)? }))
}
