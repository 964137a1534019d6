//! The CodeConnections connection to the git provider. A new one is PENDING until a person
//! completes the handshake with the provider in the AWS console; mkpipeline says so. One given by
//! --connection-arn is only read, never changed or deleted.

use aws_sdk_codeconnections::Client;
use aws_sdk_codeconnections::types::{Connection, ProviderType, Tag};
use ekskit_aws::once::{create_once, no_retries};
use ekskit_aws::{AwsResultExt, aws_code};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use tracing::{info, warn};

use crate::TOOL;
use crate::model::ConnectionDoc;
use crate::spec::{ConnectionSpec, Provider};

/// The console page where a pending connection is completed.
pub fn console_url(region: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/codesuite/settings/connections?region={region}")
}

/// The hint for a connection that is not AVAILABLE yet, or None when it is.
pub fn next_step(doc: &ConnectionDoc, region: &str) -> Option<String> {
    match doc.status.as_str() {
        "AVAILABLE" => None,
        "PENDING" => Some(format!(
            "connection {} is PENDING: open {} , choose it, click \"Update pending connection\" and authorize \
             the {} app; until then the pipeline's Source stage fails",
            doc.name,
            console_url(region),
            doc.provider
        )),
        other => {
            Some(format!("connection {} is {other}: open {} and fix or re-authorize it", doc.name, console_url(region)))
        }
    }
}

fn doc_of(c: &Connection, managed: bool) -> ConnectionDoc {
    ConnectionDoc {
        arn: c.connection_arn().unwrap_or_default().to_owned(),
        name: c.connection_name().unwrap_or_default().to_owned(),
        status: c.connection_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        provider: c.provider_type().map(|p| p.as_str().to_owned()).unwrap_or_default(),
        managed,
    }
}

/// Our connection of that name, if any; an error when only someone else's has that name.
pub async fn find(cc: &Client, name: &str, stack: &str) -> anyhow::Result<Option<ConnectionDoc>> {
    let mut token = None;
    let mut foreign = false;
    loop {
        let page =
            cc.list_connections().set_next_token(token).send().await.aws("listing CodeConnections connections")?;
        for c in page.connections().iter().filter(|c| c.connection_name() == Some(name)) {
            let arn = c.connection_arn().unwrap_or_default();
            let tags = cc
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .aws(format!("reading the tags of connection {arn}"))?;
            if tags.tags().iter().any(|t| t.key() == STACK_TAG && t.value() == stack) {
                return Ok(Some(doc_of(c, true)));
            }
            foreign = true;
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    if foreign {
        return Err(Hinted::new(
            format!("CodeConnections connection {name} exists but does not carry {STACK_TAG}={stack}"),
            "it belongs to something else: pick another --name, or pass it with --connection-arn to use it",
        )
        .into());
    }
    Ok(None)
}

/// Reads a connection given by ARN.
pub async fn get(cc: &Client, arn: &str) -> anyhow::Result<ConnectionDoc> {
    let out = cc.get_connection().connection_arn(arn).send().await;
    match out.aws(format!("reading connection {arn}")) {
        Ok(out) => {
            Ok(doc_of(out.connection().ok_or_else(|| anyhow::anyhow!("GetConnection returned nothing"))?, false))
        }
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => Err(Hinted::new(
            format!("connection {arn} (--connection-arn) does not exist"),
            "check the ARN and region, or leave out --connection-arn and mkpipeline creates one",
        )
        .into()),
        Err(e) => Err(e),
    }
}

/// The connection to use: the given one, ours, or a new one. Returns it and whether it was created.
pub async fn ensure(
    cc: &Client,
    spec: &ConnectionSpec,
    name: &str,
    stack: &str,
) -> anyhow::Result<(ConnectionDoc, bool)> {
    let (provider, host_arn) = match spec {
        ConnectionSpec::Existing { arn } => return Ok((get(cc, arn).await?, false)),
        ConnectionSpec::Create { provider, host_arn } => (*provider, host_arn),
    };
    if let Some(found) = find(cc, name, stack).await? {
        if found.provider != provider.aws_name() {
            warn!(
                "connection {name} is a {} connection; --provider {} is ignored (delete it to change provider)",
                found.provider,
                provider.aws_name()
            );
        }
        return Ok((found, false));
    }
    info!("creating CodeConnections connection {name} ({})", provider.aws_name());
    let tags: Vec<Tag> = ownership_tags(stack, TOOL)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()?;
    // Names are not unique and CreateConnection takes no token: an SDK retry after a lost
    // answer would make a second connection, so the call is made once and looked up after.
    let what = format!("creating CodeConnections connection {name}");
    let create = || async {
        let call = cc.create_connection().connection_name(name).set_tags(Some(tags.clone()));
        let call = match host_arn {
            Some(host) => call.host_arn(host),
            None => call.provider_type(ProviderType::from(provider.aws_name())),
        };
        let once = aws_sdk_codeconnections::config::Builder::default().retry_config(no_retries());
        let out = call.customize().config_override(once).send().await.aws(&what)?;
        Ok(out.connection_arn().to_owned())
    };
    let lookup = || async { Ok(find(cc, name, stack).await?.map(|found| found.arn)) };
    let arn = create_once(&what, create, lookup).await?;
    let mut doc = get(cc, &arn).await?;
    doc.managed = true;
    Ok((doc, true))
}

/// Deletes our connection of that name; returns whether there was one. Someone else's is left.
pub async fn delete(cc: &Client, name: &str, stack: &str) -> anyhow::Result<bool> {
    let found = match find(cc, name, stack).await {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(false),
        Err(e) if e.is::<Hinted>() => {
            warn!("leaving connection {name} alone: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    info!("deleting CodeConnections connection {name}");
    match cc.delete_connection().connection_arn(&found.arn).send().await.aws(format!("deleting connection {name}")) {
        Ok(_) => Ok(true),
        Err(e) if aws_code(&e) == Some("ResourceNotFoundException") => Ok(true),
        Err(e) => Err(e),
    }
}

/// `Provider` as AWS names it, for the plan.
pub fn provider_name(spec: &ConnectionSpec) -> String {
    match spec {
        ConnectionSpec::Create { provider: Provider::GitHubEnterpriseServer, host_arn } => {
            format!("GitHubEnterpriseServer via {}", host_arn.as_deref().unwrap_or_default())
        }
        ConnectionSpec::Create { provider, .. } => provider.aws_name().to_owned(),
        ConnectionSpec::Existing { arn } => format!("existing {arn}"),
    }
}
