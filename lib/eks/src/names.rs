//! The names mkeks gives what it owns, from the stack name alone. Their own module because the
//! add-ons name the node group and Karpenter's queue and rules, and those modules must not
//! depend on the ones that create the resources (which depend on the add-ons' settings).

/// The managed node group's.
pub fn node_group_name(stack: &str) -> String {
    format!("{stack}-nodes")
}

/// `ekskit-<stack>-<suffix>` within `max` characters: a long stack name is cut and keeps a hash,
/// so two long names stay apart. IAM roles and EventBridge rules allow 64, SQS queues 80.
pub fn bounded_name(stack: &str, suffix: &str, max: usize) -> String {
    let full = format!("ekskit-{stack}-{suffix}");
    if full.len() <= max {
        return full;
    }
    let hash = stack.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    // At most 40 characters of the stack, as role names had before there were longer suffixes.
    let keep = max.saturating_sub("ekskit---".len() + 8 + suffix.len()).min(40).min(stack.len());
    format!("ekskit-{}-{:08x}-{suffix}", &stack[..keep], hash as u32)
}
