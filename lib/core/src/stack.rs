//! Stack names and the ownership tags every resource we create carries.
//!
//! Tools find their own resources again by these tags, which is what makes re-runs converge
//! and `--delete` complete.

use crate::errors::InputError;

/// The tag that says which ekskit stack owns a resource.
pub const STACK_TAG: &str = "ekskit.io/stack";
/// The tag naming the tool that created a resource.
pub const MANAGED_BY_TAG: &str = "ekskit.io/managed-by";
/// The tag naming a resource's part in its stack (`vpc`, `subnet-private`, …).
pub const ROLE_TAG: &str = "ekskit.io/role";
/// The tag naming the availability zone of a per-AZ resource.
pub const AZ_TAG: &str = "ekskit.io/az";

/// The ownership tags of a stack's resource created by `tool`.
pub fn ownership_tags(stack: &str, tool: &str) -> Vec<(String, String)> {
    vec![(STACK_TAG.to_owned(), stack.to_owned()), (MANAGED_BY_TAG.to_owned(), tool.to_owned())]
}

/// Stack names become EKS cluster names, IAM role name parts and tag values, so they follow
/// the strictest of those rules: 1-64 letters, digits and hyphens, starting with a letter.
pub fn validate_stack_name(name: &str) -> Result<(), InputError> {
    let hint = "use 1-64 letters, digits and hyphens, starting with a letter, e.g. --name demo";
    if name.is_empty() || name.len() > 64 {
        return Err(InputError::new(format!("stack name `{name}` must be 1 to 64 characters long")).hint(hint));
    }
    let first_ok = name.starts_with(|c: char| c.is_ascii_alphabetic());
    let rest_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !first_ok || !rest_ok || name.ends_with('-') {
        return Err(InputError::new(format!("stack name `{name}` is not valid")).hint(hint));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_names() {
        for ok in ["demo", "a", "prod-eu-1", &"a".repeat(64)] {
            assert!(validate_stack_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1demo", "-demo", "demo-", "de mo", "dé", "de_mo", &"a".repeat(65)] {
            assert!(validate_stack_name(bad).is_err(), "{bad}");
        }
    }
}
