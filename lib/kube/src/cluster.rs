//! Which cluster to talk to: `--kubeconfig`/`--context` when given, else the `cluster` key of
//! the stdin document (an EKS cluster, authenticated with a token kapply signs itself), else
//! the usual kubeconfig (`KUBECONFIG`, `~/.kube/config`, in-cluster).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ekskit_core::{Document, InputError};
use kube::config::{AuthInfo, ExecConfig, ExecInteractiveMode, KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::model::ClusterInput;
use crate::options::ClusterOptions;

/// The hidden flag that turns kapply into a kubeconfig `exec` plugin printing an EKS token.
pub const EKS_TOKEN_FLAG: &str = "--eks-token";

/// A client and a description of the server for messages and the output.
pub struct Cluster {
    pub client: Client,
    pub server: String,
    pub default_namespace: String,
}

pub async fn connect(options: &ClusterOptions, doc: &Document) -> anyhow::Result<Cluster> {
    let from_doc: Option<ClusterInput> = doc.get("cluster")?;
    let config = if options.kubeconfig.is_some() || options.context.is_some() {
        from_kubeconfig(options).await?
    } else if let Some(cluster) = from_doc.filter(|c| c.endpoint.is_some()) {
        from_cluster_doc(&cluster)?
    } else {
        Config::infer().await.map_err(|e| {
            InputError::new(format!("no cluster to talk to: {e}"))
                .hint("pass --kubeconfig FILE (or set KUBECONFIG), or pipe a document with a `cluster` key from mkeks")
        })?
    };
    let server = config.cluster_url.to_string();
    let default_namespace = config.default_namespace.clone();
    let client = Client::try_from(config)
        .map_err(|e| InputError::new(format!("cannot use the cluster configuration for {server}: {e}")))?;
    Ok(Cluster { client, server, default_namespace })
}

async fn from_kubeconfig(options: &ClusterOptions) -> anyhow::Result<Config> {
    let kube_options = KubeConfigOptions { context: options.context.clone(), ..KubeConfigOptions::default() };
    let result = match &options.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| InputError::new(format!("reading kubeconfig {}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(file, &kube_options).await
        }
        None => Config::from_kubeconfig(&kube_options).await,
    };
    result.map_err(|e| {
        InputError::new(format!("kubeconfig: {e}"))
            .hint("check --kubeconfig and --context (`kubectl config get-contexts` lists them)")
            .into()
    })
}

/// A config for an EKS cluster from mkeks' `cluster` key: its endpoint and CA, and an `exec`
/// credential that runs this very binary to sign tokens, so they are renewed before they expire.
pub fn from_cluster_doc(cluster: &ClusterInput) -> anyhow::Result<Config> {
    let bad = |what: &str| InputError::new(format!("key `cluster` of the stdin document: {what}"));
    let endpoint = cluster.endpoint.as_deref().unwrap_or_default();
    let url: http::Uri = endpoint.parse().map_err(|e| bad(&format!("endpoint `{endpoint}` is not a URL: {e}")))?;
    // The client sends this endpoint a signed EKS token (valid for any cluster of that name for
    // 15 minutes): only over TLS, to a server proven by the cluster's own CA.
    if url.scheme_str() != Some("https") {
        return Err(bad(&format!("endpoint `{endpoint}` is not https://; an EKS token is never sent over plain HTTP"))
            .hint("pipe the document mkeks printed, or pass --kubeconfig FILE for another cluster")
            .into());
    }
    let Some(ca) = &cluster.certificate_authority else {
        return Err(bad("has an endpoint but no certificate_authority to verify it with")
            .hint("pipe the document mkeks printed (it carries the cluster's CA), or pass --kubeconfig FILE")
            .into());
    };
    let name = cluster.name.as_deref().ok_or_else(|| bad("has an endpoint but no name (needed to sign the token)"))?;
    let region = cluster
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok())
        .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
        .ok_or_else(|| bad("has no region, and neither AWS_REGION nor AWS_DEFAULT_REGION is set"))?;
    let mut config = Config::new(url);
    let pem = STANDARD.decode(ca.trim()).map_err(|e| bad(&format!("certificate_authority is not base64: {e}")))?;
    config.root_cert = Some(pem_certificates(&pem).map_err(|e| bad(&format!("certificate_authority: {e}")))?);
    config.connect_timeout = Some(Duration::from_secs(15));
    config.read_timeout = Some(Duration::from_secs(120));
    config.reset_reader_on_write = true;
    let me = std::env::current_exe()?.display().to_string();
    config.auth_info = AuthInfo {
        exec: Some(ExecConfig {
            api_version: Some("client.authentication.k8s.io/v1beta1".into()),
            command: Some(me),
            args: Some(vec![EKS_TOKEN_FLAG.into(), name.into(), "--region".into(), region]),
            interactive_mode: Some(ExecInteractiveMode::Never),
            ..ExecConfig::default()
        }),
        ..AuthInfo::default()
    };
    Ok(config)
}

/// The DER certificates in a PEM bundle.
fn pem_certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let text = std::str::from_utf8(pem).map_err(|_| "not PEM text".to_owned())?;
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let body = &rest[start + 27..];
        let end = body.find("-----END CERTIFICATE-----").ok_or("a certificate has no END line")?;
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        certs.push(STANDARD.decode(b64).map_err(|e| format!("bad certificate body: {e}"))?);
        rest = &body[end..];
    }
    if certs.is_empty() {
        return Err("no PEM certificate in it".into());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_bundles_decode_to_der() {
        let pem = "-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n\
                   -----BEGIN CERTIFICATE-----\nBQY=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_certificates(pem.as_bytes()).unwrap(), vec![vec![1, 2, 3, 4], vec![5, 6]]);
        assert!(pem_certificates(b"hello").is_err());
    }

    #[test]
    fn cluster_documents_need_a_name_region_and_valid_ca() {
        let mut c = ClusterInput {
            name: Some("demo".into()),
            endpoint: Some("https://127.0.0.1:6443".into()),
            certificate_authority: Some("not base64!".into()),
            region: Some("us-east-1".into()),
        };
        assert!(from_cluster_doc(&c).unwrap_err().to_string().contains("not base64"));
        c.certificate_authority = Some(STANDARD.encode(PEM));
        let config = from_cluster_doc(&c).unwrap();
        assert_eq!(config.root_cert.unwrap(), [vec![1, 2, 3, 4]]);
        let exec = config.auth_info.exec.unwrap();
        assert_eq!(exec.args.unwrap(), ["--eks-token", "demo", "--region", "us-east-1"]);
        c.name = None;
        assert!(from_cluster_doc(&c).unwrap_err().to_string().contains("no name"));
    }

    const PEM: &str = "-----BEGIN CERTIFICATE-----\nAQID\nBA==\n-----END CERTIFICATE-----\n";

    #[test]
    fn a_token_goes_only_to_an_https_endpoint_with_the_clusters_ca() {
        let c = |endpoint: &str, ca: Option<&str>| ClusterInput {
            name: Some("demo".into()),
            endpoint: Some(endpoint.into()),
            certificate_authority: ca.map(|pem| STANDARD.encode(pem)),
            region: Some("us-east-1".into()),
        };
        for plain in
            ["http://ABC.gr7.us-east-1.eks.amazonaws.com", "http://127.0.0.1:6443", "ABC.gr7.eks.amazonaws.com"]
        {
            let error = from_cluster_doc(&c(plain, Some(PEM))).unwrap_err();
            assert!(error.downcast_ref::<InputError>().is_some(), "{plain}: bad input, exit 2");
            assert!(error.to_string().contains("is not https://"), "{plain}: {error}");
        }
        let error = from_cluster_doc(&c("https://ABC.gr7.us-east-1.eks.amazonaws.com", None)).unwrap_err();
        assert!(error.to_string().contains("no certificate_authority"), "{error}");
        assert!(from_cluster_doc(&c("https://ABC.gr7.us-east-1.eks.amazonaws.com", Some(PEM))).is_ok());
    }
}
