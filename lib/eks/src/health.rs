//! The AWS root cause of an EKS resource that failed, from its health issues, as the waits'
//! errors give it (cluster, node group, add-on, capability, update).

/// `STATUS: issue; issue`, the AWS root cause of a failed resource.
pub fn failure(status: &str, issues: impl Iterator<Item = String>) -> String {
    let issues: Vec<String> = issues.collect();
    let detail = if issues.is_empty() { "EKS gave no health issue".to_owned() } else { issues.join("; ") };
    format!("{status}: {detail}")
}

/// `Code: message (resource, …)` of one EKS health issue.
pub fn issue_text(code: Option<&str>, message: Option<&str>, resources: &[String]) -> String {
    let mut text = format!("{}: {}", code.unwrap_or("Unknown"), message.unwrap_or("no message"));
    if !resources.is_empty() {
        text.push_str(&format!(" ({})", resources.join(", ")));
    }
    text
}
