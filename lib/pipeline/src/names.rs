//! The names of a stack's pipeline resources, all derived from the stack name, each cut to its
//! service's length limit with a hash of the stack name so long names stay unique.

/// FNV-1a of the stack name, 32 bits, as hex: what keeps cut names apart.
fn hash(text: &str) -> String {
    let h = text.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    format!("{:08x}", h as u32)
}

/// `ekskit-<stack>-<suffix>`, or `ekskit-<stack cut>-<hash>-<suffix>` when longer than `max`.
fn cut(stack: &str, suffix: &str, max: usize) -> String {
    let full = format!("ekskit-{stack}-{suffix}");
    if full.len() <= max {
        return full;
    }
    // "ekskit-" + stem + "-" + 8 hex + "-" + suffix
    let room = max.saturating_sub("ekskit-".len() + 1 + 8 + 1 + suffix.len());
    let stem = stack[..room.min(stack.len())].trim_end_matches('-');
    format!("ekskit-{stem}-{}-{suffix}", hash(stack))
}

/// The CodePipeline pipeline (100 characters at most).
pub fn pipeline(stack: &str) -> String {
    cut(stack, "release", 100)
}

/// The CodeBuild project (255 characters at most).
pub fn project(stack: &str) -> String {
    cut(stack, "build", 255)
}

/// The CodeBuild project's CloudWatch Logs group.
pub fn log_group(stack: &str) -> String {
    format!("/aws/codebuild/{}", project(stack))
}

/// The CodeBuild project of the promotion (255 characters at most).
pub fn promote_project(stack: &str) -> String {
    cut(stack, "promote", 255)
}

/// The promotion project's CloudWatch Logs group.
pub fn promote_log_group(stack: &str) -> String {
    format!("/aws/codebuild/{}", promote_project(stack))
}

/// The IAM role the promotion's CodeBuild project assumes (64 characters at most).
pub fn promote_role(stack: &str) -> String {
    cut(stack, "promote-codebuild", 64)
}

/// The IAM role CodeBuild assumes (64 characters at most).
pub fn codebuild_role(stack: &str) -> String {
    cut(stack, "codebuild", 64)
}

/// The IAM role CodePipeline assumes (64 characters at most).
pub fn codepipeline_role(stack: &str) -> String {
    cut(stack, "codepipeline", 64)
}

/// The name of the inline policy on every role.
pub const INLINE_POLICY: &str = "ekskit-pipeline";

/// The CodeConnections connection (32 characters at most).
pub fn connection(stack: &str) -> String {
    let full = format!("ekskit-{stack}");
    if full.len() <= 32 {
        return full;
    }
    let stem = stack[..(32 - "ekskit-".len() - 1 - 8)].trim_end_matches('-');
    format!("ekskit-{stem}-{}", hash(stack))
}

/// The artifact bucket: bucket names are global, so the account and region are part of it;
/// lower case, 63 characters at most.
pub fn bucket(stack: &str, account: &str, region: &str) -> String {
    let stack = stack.to_ascii_lowercase();
    let full = format!("ekskit-{stack}-artifacts-{account}-{region}");
    if full.len() <= 63 {
        return full;
    }
    let tail = format!("-{}-artifacts-{account}-{region}", hash(&stack));
    let room = 63usize.saturating_sub("ekskit-".len() + tail.len());
    let stem = stack[..room.min(stack.len())].trim_end_matches('-');
    format!("ekskit-{stem}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_stacks_keep_readable_names() {
        assert_eq!(pipeline("demo"), "ekskit-demo-release");
        assert_eq!(project("demo"), "ekskit-demo-build");
        assert_eq!(log_group("demo"), "/aws/codebuild/ekskit-demo-build");
        assert_eq!(codebuild_role("demo"), "ekskit-demo-codebuild");
        assert_eq!(codepipeline_role("demo"), "ekskit-demo-codepipeline");
        assert_eq!(promote_project("demo"), "ekskit-demo-promote");
        assert_eq!(promote_log_group("demo"), "/aws/codebuild/ekskit-demo-promote");
        assert_eq!(promote_role("demo"), "ekskit-demo-promote-codebuild");
        assert_eq!(connection("demo"), "ekskit-demo");
        assert_eq!(bucket("Demo", "123456789012", "us-east-1"), "ekskit-demo-artifacts-123456789012-us-east-1");
    }

    #[test]
    fn long_stacks_fit_the_limits_and_stay_unique() {
        let a = "a".repeat(64);
        let b = format!("{}b", "a".repeat(63));
        for (f, max) in
            [(codebuild_role as fn(&str) -> String, 64), (codepipeline_role, 64), (promote_role, 64), (connection, 32)]
        {
            let (na, nb) = (f(&a), f(&b));
            assert!(na.len() <= max && nb.len() <= max, "{na} {nb}");
            assert_ne!(na, nb);
        }
        let (ba, bb) = (bucket(&a, "123456789012", "ap-southeast-5"), bucket(&b, "123456789012", "ap-southeast-5"));
        assert!(ba.len() <= 63 && bb.len() <= 63, "{ba}");
        assert_ne!(ba, bb);
        assert!(ba.ends_with("-artifacts-123456789012-ap-southeast-5"));
        assert!(!ba.contains("--"));
        let c = connection("a-b-c-d-e-f-g-h-i-j-k-l-m-n-o-p-q");
        assert!(c.len() <= 32 && !c.contains("--"), "{c}");
    }
}
