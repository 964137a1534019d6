//! Reading the live state of many objects at once: one LIST per resource and namespace where
//! several objects share them, a GET for the rest. Applying and waiting both need it, and on a
//! busy API server halving the requests is what makes kapply fast.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt, stream};
use kube::Client;
use kube::api::ListParams;
use serde_json::Value;

use crate::apply::api;
use crate::errors::{is_not_found, kube_error};
use crate::resolve::{Key, Object};

/// From this many objects of one resource in one namespace on, one LIST beats a GET each.
const LIST_FROM: usize = 3;
const PAGE: u32 = 500;
const CONCURRENCY: usize = 16;

/// The live objects among `objects`, by key; absent ones (or of kinds not served yet) are missing.
pub async fn fetch(client: &Client, objects: &[&Object]) -> anyhow::Result<HashMap<Key, Value>> {
    let mut groups: HashMap<(String, String, Option<String>), Vec<&Object>> = HashMap::new();
    for o in objects {
        let group = (o.resource.api_version.clone(), o.resource.plural.clone(), o.namespace.clone());
        groups.entry(group).or_default().push(o);
    }
    let found: Vec<Vec<(Key, Value)>> = stream::iter(groups.into_values())
        .map(|members| async move {
            if members.len() >= LIST_FROM { list(client, &members).await } else { get_each(client, &members).await }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    Ok(found.into_iter().flatten().collect())
}

async fn list(client: &Client, members: &[&Object]) -> anyhow::Result<Vec<(Key, Value)>> {
    let first = members[0];
    let api = api(client, &first.resource, first.namespace.as_deref());
    let wanted: HashMap<&str, &Object> = members.iter().map(|o| (o.name.as_str(), *o)).collect();
    let mut found = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = match api.list(&params).await {
            Ok(page) => page,
            Err(e) if is_not_found(&e) => return Ok(found),
            Err(e) => {
                let scope = first.namespace.as_deref().map(|ns| format!(" in namespace {ns}")).unwrap_or_default();
                return Err(kube_error(e, format!("listing {}{scope}", first.resource.plural)));
            }
        };
        for item in page.items {
            let name = item.metadata.name.clone().unwrap_or_default();
            if let Some(o) = wanted.get(name.as_str()) {
                found.push((o.key(), serde_json::to_value(item)?));
            }
        }
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(found),
        }
    }
}

async fn get_each(client: &Client, members: &[&Object]) -> anyhow::Result<Vec<(Key, Value)>> {
    let mut found = Vec::new();
    for o in members {
        match api(client, &o.resource, o.namespace.as_deref()).get_opt(&o.name).await {
            Ok(Some(live)) => found.push((o.key(), serde_json::to_value(live)?)),
            Ok(None) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(kube_error(e, format!("reading {}", o.key()))),
        }
    }
    Ok(found)
}
