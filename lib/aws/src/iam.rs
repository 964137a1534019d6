//! IAM roles owned by an ekskit stack, shared by mkeks and mkpipeline: found by name and refused
//! when they lack the stack's tag, created with the ownership tags (a concurrent or killed run
//! that created it first is fine), and deleted with their inline and attached policies.

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{Role, Tag};
use ekskit_core::Hinted;
use ekskit_core::stack::{STACK_TAG, ownership_tags};
use tracing::{info, warn};

use crate::{AwsResultExt, aws_code};

/// The role named `name` when it exists and carries `ekskit.io/stack=<stack>`; an error naming
/// it when it exists and does not.
pub async fn find_owned_role(iam: &Client, name: &str, stack: &str) -> anyhow::Result<Option<Role>> {
    let role = match iam.get_role().role_name(name).send().await.aws(format!("reading IAM role {name}")) {
        Ok(out) => out.role,
        Err(e) if aws_code(&e) == Some("NoSuchEntity") => return Ok(None),
        Err(e) => return Err(e),
    };
    let Some(role) = role else { return Ok(None) };
    if !role.tags().iter().any(|t| t.key() == STACK_TAG && t.value() == stack) {
        return Err(Hinted::new(
            format!("IAM role {name} exists but does not carry {STACK_TAG}={stack}"),
            "it belongs to something else: pick another --name, or delete or tag that role",
        )
        .into());
    }
    Ok(Some(role))
}

/// What a new role is made with.
pub struct NewRole<'a> {
    pub name: &'a str,
    pub stack: &'a str,
    /// The tool written into `ekskit.io/managed-by`.
    pub tool: &'a str,
    pub trust_policy: &'a str,
    pub description: &'a str,
    /// The IAM path (`/` for most); a path names a group of roles in one policy ARN.
    pub path: &'a str,
    /// Tags besides the ownership tags.
    pub tags: &'a [(&'a str, &'a str)],
}

/// Creates the role; returns it and whether this call made it (false: someone made it first).
pub async fn create_owned_role(iam: &Client, new: &NewRole<'_>) -> anyhow::Result<(Role, bool)> {
    let name = new.name;
    info!("creating IAM role {name}");
    let extra = new.tags.iter().map(|&(k, v)| (k.to_owned(), v.to_owned()));
    let tags: Vec<Tag> = ownership_tags(new.stack, new.tool)
        .into_iter()
        .chain(extra)
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect::<Result<_, _>>()?;
    let created = iam
        .create_role()
        .role_name(name)
        .path(new.path)
        .assume_role_policy_document(new.trust_policy)
        .description(new.description)
        .set_tags(Some(tags))
        .send()
        .await
        .aws(format!("creating IAM role {name}"));
    match created {
        Ok(out) => Ok((out.role.ok_or_else(|| anyhow::anyhow!("CreateRole returned no role for {name}"))?, true)),
        // A concurrent or killed run created it between our look and now.
        Err(e) if aws_code(&e) == Some("EntityAlreadyExists") => {
            Ok((find_owned_role(iam, name, new.stack).await?.ok_or(e)?, false))
        }
        Err(e) => Err(e),
    }
}

/// Deletes the role's inline and attached policies, then the role; returns whether there was
/// one. A role of that name that is not the stack's is left alone, with a warning.
pub async fn delete_owned_role(iam: &Client, name: &str, stack: &str) -> anyhow::Result<bool> {
    match find_owned_role(iam, name, stack).await {
        Ok(Some(_)) => {}
        Ok(None) => return Ok(false),
        Err(e) if e.is::<Hinted>() => {
            warn!("leaving IAM role {name} alone: {e}");
            return Ok(false);
        }
        Err(e) => return Err(e),
    }
    let inline = iam.list_role_policies().role_name(name).send().await.aws(format!("listing policies of {name}"))?;
    for policy in inline.policy_names() {
        let deleted = iam.delete_role_policy().role_name(name).policy_name(policy).send().await;
        match deleted.aws(format!("deleting policy {policy} of {name}")) {
            // Gone already: an SDK retry after an attempt whose answer was lost.
            Err(e) if aws_code(&e) == Some("NoSuchEntity") => {}
            other => drop(other?),
        }
    }
    let attached =
        iam.list_attached_role_policies().role_name(name).send().await.aws(format!("listing policies of {name}"))?;
    for arn in attached.attached_policies().iter().filter_map(|p| p.policy_arn()) {
        let detached = iam.detach_role_policy().role_name(name).policy_arn(arn).send().await;
        match detached.aws(format!("detaching {arn} from {name}")) {
            Err(e) if aws_code(&e) == Some("NoSuchEntity") => {}
            other => drop(other?),
        }
    }
    info!("deleting IAM role {name}");
    match iam.delete_role().role_name(name).send().await.aws(format!("deleting IAM role {name}")) {
        Ok(_) => Ok(true),
        Err(e) if aws_code(&e) == Some("NoSuchEntity") => Ok(true),
        Err(e) => Err(e),
    }
}

/// IAM is eventually consistent: for a few seconds after CreateRole, a service may not be able to
/// assume the new role yet, and each says so in its own words. True for those errors, which a
/// retry fixes; each service's words are matched only with its own error code, so a lasting error
/// of one service is never taken for another's passing one.
pub fn role_not_ready(err: &anyhow::Error) -> bool {
    let text = || format!("{err:#}");
    match aws_code(err) {
        // EKS: CreateCluster, CreateNodegroup.
        Some("InvalidParameterException") => {
            let text = text().to_lowercase();
            text.contains("role")
                && (text.contains("assume") || text.contains("not authorized") || text.contains("does not exist"))
        }
        // CodeBuild: CreateProject, UpdateProject.
        Some("InvalidInputException") => text().contains("not authorized to perform: sts:AssumeRole"),
        // CodePipeline: CreatePipeline, UpdatePipeline.
        Some("InvalidStructureException") => text().contains("not authorized to perform AssumeRole"),
        _ => false,
    }
}

/// Replaces the trust policy of role `name` with `trust`.
pub async fn set_trust_policy(iam: &Client, name: &str, trust: &serde_json::Value) -> anyhow::Result<()> {
    iam.update_assume_role_policy()
        .role_name(name)
        .policy_document(trust.to_string())
        .send()
        .await
        .aws(format!("setting the trust policy of IAM role {name}"))?;
    Ok(())
}

/// An IAM policy document as read back: IAM returns them URL-encoded; moto does not.
pub fn parse_document(text: &str) -> Option<serde_json::Value> {
    serde_json::from_str(text).ok().or_else(|| serde_json::from_str(&percent_decode(text)).ok())
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, message: &str) -> anyhow::Error {
        anyhow::Error::new(ekskit_core::ServiceError { code: code.into(), message: message.into(), hint: None })
    }

    #[test]
    fn a_role_eks_cannot_assume_yet_is_retried_other_errors_are_not() {
        // As CreateCluster answers right after CreateRole.
        assert!(role_not_ready(&err(
            "InvalidParameterException",
            "Role with arn: arn:aws:iam::123456789012:role/ekskit-demo-cluster, could not be assumed because it does not exist or the trusted entity is not correct"
        )));
        assert!(!role_not_ready(&err(
            "InvalidParameterException",
            "Subnets specified must be in at least two different AZs"
        )));
        assert!(!role_not_ready(&err("AccessDeniedException", "role cannot be assumed")));
    }

    #[test]
    fn codebuild_and_codepipeline_say_it_their_own_way() {
        let codebuild = "CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::123456789012:role/x";
        assert!(role_not_ready(&err("InvalidInputException", codebuild)));
        let codepipeline =
            "CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::123456789012:role/x";
        assert!(role_not_ready(&err("InvalidStructureException", codepipeline)));
        assert!(!role_not_ready(&err("InvalidInputException", "Invalid buildspec")));
        assert!(!role_not_ready(&err("InvalidStructureException", codebuild)), "only CodePipeline's words");
        assert!(!role_not_ready(&anyhow::anyhow!("{codebuild}")), "no AWS code: not an AWS answer");
    }
}
