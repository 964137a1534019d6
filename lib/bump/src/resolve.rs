//! Whether a tag written as a plain scalar reads back as the same string in every YAML reader a
//! values file or kustomization meets. Readers give plain scalars a type by their text ("implicit
//! resolution"), and they disagree:
//!
//! - YAML 1.1 (yaml.org/type, as PyYAML resolves it; Python tooling, ruamel's 1.1 mode):
//!   `yes`/`on`/`y`, `0b1010`, `017`, `1_000`, `190:20:30`, `2024-01-15` are not strings;
//! - YAML 1.2's core schema (ruamel, serde_yaml, most new parsers): `1e3`, `0o17`, `.inf`;
//! - go-yaml v2 and v3 (sigs.k8s.io/yaml in Helm, kubectl, kustomize and Argo CD): drops every
//!   `_` before reading a number, takes any Go integer literal (`0B1`, `0O7`, `0X1F`, `08` as a
//!   float) and a date with one-digit fields (`2024-1-5`) as a timestamp.
//!
//! A tag that any of them reads as something else is written quoted. The patterns below are
//! the readers' own (PyYAML's resolver.py, the 1.2.2 spec's §10.3.2, go-yaml's resolve.go);
//! tests read tagbump's output back with PyYAML, ruamel.yaml, Helm and kustomize.

use std::sync::LazyLock;

use regex::Regex;

/// YAML 1.1: bool (the spec's list, with the one-letter forms go-yaml v2 also reads), null,
/// int, float, timestamp, merge and value, as PyYAML's implicit resolvers write them.
static YAML_1_1: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        r"|~|null|Null|NULL|",
        r"|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+",
        r"|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
        r"|[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?",
        r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        r"|[0-9]{4}-[0-9]{2}-[0-9]{2}",
        r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?",
        r"(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
        r"|<<|=)$"
    ))
    .expect("a valid pattern")
});

/// YAML 1.2 core schema: null, bool, int (decimal, 0o, 0x), float, .inf, .nan.
static YAML_1_2: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^(?:null|Null|NULL|~|true|True|TRUE|false|False|FALSE",
        r"|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+",
        r"|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?",
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ))
    .expect("a valid pattern")
});

/// go-yaml, for text starting with a digit or sign, once every `_` is dropped: Go's integer
/// literals (strconv.ParseInt with base 0), its `yamlStyleFloat`, and `0b`.
static GO_NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"^[-+]?(?:0[bB][01]+|0[oO][0-7]+|0[xX][0-9a-fA-F]+",
        r"|(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$"
    ))
    .expect("a valid pattern")
});

/// go-yaml's timestamps (layouts `2006-1-2`, `2006-1-2T15:4:5…`, `2006-1-2 15:4:5…`), tried on
/// unquoted text before numbers: a date alone is one.
static GO_TIMESTAMP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?$").expect("a valid pattern"));

/// Whether `value` written plain reads back as the same string in YAML 1.1, YAML 1.2 and
/// go-yaml readers, in block and flow context.
pub fn plain_is_string(value: &str) -> bool {
    !(is_special(value) || needs_quotes_to_parse(value))
}

/// Whether some reader gives `value` a type other than string.
fn is_special(value: &str) -> bool {
    YAML_1_1.is_match(value) || YAML_1_2.is_match(value) || go_yaml_special(value)
}

fn go_yaml_special(value: &str) -> bool {
    let starts_number = value.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
    starts_number && (GO_TIMESTAMP.is_match(value) || GO_NUMBER.is_match(&value.replace('_', "")))
}

/// Text a plain scalar cannot hold as is: indicators at the start, `: ` and ` #`, flow
/// punctuation (the scalar may sit in `{…}` or `[…]`), edge blanks and line breaks.
fn needs_quotes_to_parse(value: &str) -> bool {
    value.starts_with([
        '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ',
    ]) || value.ends_with([' ', ':'])
        || value.contains(": ")
        || value.contains(" #")
        || value.contains([',', '[', ']', '{', '}'])
        || value.contains(['\n', '\r', '\t'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_tags_stay_plain() {
        for s in [
            "abcdef12",
            "v1.2.3",
            "1.2.3",
            "1.2.3-rc1",
            "latest",
            "abcdef12-dirty",
            "sha-1",
            "0xyz",
            "nan",
            "_1",
            "1.0.0_beta",
            "2024-01-15-abc",
            "Yes_",
            "NuLL",
            "Inf",
            "e3",
            "0b2",
        ] {
            assert!(plain_is_string(s), "{s}");
        }
    }

    #[test]
    fn every_yaml_1_1_form_is_quoted() {
        for s in [
            "y",
            "Y",
            "yes",
            "Yes",
            "YES",
            "n",
            "N",
            "no",
            "NO",
            "on",
            "ON",
            "off",
            "Off",
            "true",
            "FALSE",
            "~",
            "null",
            "NULL",
            "",
            "0b1010",
            "0b1_0",
            "017",
            "0_7",
            "1_000",
            "0x1F",
            "0x_1f",
            "190:20:30",
            "1.5",
            "1.",
            "1_0.5",
            "1.0e+5",
            "190:20:30.15",
            ".inf",
            "-.Inf",
            ".NaN",
            "2024-01-15",
            "2001-12-14t21:59:43.10-05:00",
            "<<",
            "=",
        ] {
            assert!(!plain_is_string(s), "{s:?}");
        }
    }

    #[test]
    fn every_yaml_1_2_and_go_yaml_form_is_quoted() {
        for s in [
            "1e3",
            "1E3",
            "1.0e5",
            "0o17",
            "12345678",
            "+1",
            "08",
            "09.5",
            "0B11",
            "0O17",
            "0X1F",
            "1__0",
            "1_",
            "2024-1-5",
            "2024-01-15T10",
            "99999999999999999999",
            "20240115",
        ] {
            assert!(!plain_is_string(s), "{s:?}");
        }
    }
}
