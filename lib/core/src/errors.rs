//! Error types that decide the exit code and carry a hint, and how errors are rendered:
//!
//! ```text
//! mkvpc: error: creating NAT gateway in us-east-1a
//!   caused by: AddressLimitExceeded: The maximum number of addresses has been reached.
//!   hint: release unused Elastic IPs, or pass --nat single or --nat none
//! ```

use std::fmt;

/// Bad usage or bad input, found before anything was changed: exit code 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InputError {
    pub message: String,
    pub hint: Option<String>,
}

impl InputError {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// An error reported by a remote service (AWS, Kubernetes, a registry): its own code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ServiceError {
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.code.is_empty(), self.message.is_empty()) {
            (false, false) => write!(f, "{}: {}", self.code, self.message),
            (false, true) => f.write_str(&self.code),
            (true, _) => f.write_str(&self.message),
        }
    }
}

/// Any other failure with advice on what to do next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub hint: String,
}

impl Hinted {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { message: message.into(), hint: hint.into() }
    }
}

/// The run was stopped by SIGINT or SIGTERM: exit code 130.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Not a failure: a diff-only run found changes and says so with exit code 3 (as `kubectl diff`
/// says it with 1, which ekskit keeps for failures). The document was already written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("changes found")]
pub struct ChangesFound;

pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILURE: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const CHANGES: u8 = 3;
    pub const INTERRUPTED: u8 = 130;
}

/// The exit code an error maps to: input errors anywhere in the chain are 2.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.chain().any(|e| e.is::<Interrupted>()) {
        exit::INTERRUPTED
    } else if err.is::<ChangesFound>() {
        exit::CHANGES
    } else if err.chain().any(|e| e.is::<InputError>()) {
        exit::USAGE
    } else {
        exit::FAILURE
    }
}

/// The texts of `err`'s sources joined by `: `, outermost first, each left out when an earlier
/// text already holds it (HTTP stacks repeat their causes); with `with_self`, `err`'s own text
/// leads. Empty when there is nothing to say.
pub fn chain_text(err: &(dyn std::error::Error + 'static), with_self: bool) -> String {
    let mut parts: Vec<String> = if with_self { vec![err.to_string()] } else { Vec::new() };
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// The first hint found from the outside in.
pub fn hint_of(err: &anyhow::Error) -> Option<&str> {
    err.chain().find_map(|e| {
        if let Some(i) = e.downcast_ref::<InputError>() {
            i.hint.as_deref()
        } else if let Some(s) = e.downcast_ref::<ServiceError>() {
            s.hint.as_deref()
        } else {
            e.downcast_ref::<Hinted>().map(|h| h.hint.as_str())
        }
    })
}

/// Renders `err` as the lines printed on stderr.
pub fn render(tool: &str, err: &anyhow::Error) -> String {
    let mut out = format!("{tool}: error: {err}");
    for cause in err.chain().skip(1) {
        out.push_str(&format!("\n  caused by: {cause}"));
    }
    if let Some(hint) = hint_of(err) {
        out.push_str(&format!("\n  hint: {hint}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn chains_leave_out_causes_already_said() {
        // As hyper and the SDKs nest them: the same cause said twice on the way out.
        let refused = Layer("connection refused", None);
        let connect = Layer("tcp connect error: connection refused", Some(Box::new(refused)));
        let dispatch = Layer("dispatch failure", Some(Box::new(Layer("io error", Some(Box::new(connect))))));
        assert_eq!(chain_text(&dispatch, false), "io error: tcp connect error: connection refused");
        assert_eq!(chain_text(&dispatch, true), "dispatch failure: io error: tcp connect error: connection refused");
        let plain = Layer("no cause", None);
        assert_eq!(chain_text(&plain, false), "");
        assert_eq!(chain_text(&plain, true), "no cause");
    }

    fn aws_failure() -> anyhow::Error {
        let root = ServiceError {
            code: "AddressLimitExceeded".into(),
            message: "The maximum number of addresses has been reached.".into(),
            hint: Some("release unused Elastic IPs".into()),
        };
        Err::<(), _>(root).context("creating NAT gateway in us-east-1a").unwrap_err()
    }

    #[test]
    fn renders_what_failed_the_cause_and_the_hint() {
        assert_eq!(
            render("mkvpc", &aws_failure()),
            "mkvpc: error: creating NAT gateway in us-east-1a\n  \
             caused by: AddressLimitExceeded: The maximum number of addresses has been reached.\n  \
             hint: release unused Elastic IPs"
        );
        assert_eq!(exit_code(&aws_failure()), exit::FAILURE);
    }

    #[test]
    fn input_errors_exit_2_even_under_context() {
        let err = Err::<(), _>(InputError::new("bad CIDR").hint("use a.b.c.d/n")).context("reading flags").unwrap_err();
        assert_eq!(exit_code(&err), exit::USAGE);
        assert_eq!(hint_of(&err), Some("use a.b.c.d/n"));
    }

    #[test]
    fn interrupted_exits_130() {
        assert_eq!(exit_code(&anyhow::Error::new(Interrupted)), exit::INTERRUPTED);
    }
}
