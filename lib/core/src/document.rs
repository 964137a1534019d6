//! The JSON document tools pass along a pipe: `mkvpc | mkeks | kapply`.
//!
//! A tool reads the document from stdin (only when stdin is piped, or `-` was given, so it
//! never hangs on a terminal), keeps every key it got, sets its own key, and writes the
//! whole document to stdout.

use std::io::{IsTerminal, Read};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::errors::InputError;

/// Where the document comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdin {
    /// Read stdin when it is not a terminal.
    WhenPiped,
    /// `-` was given: read stdin even from a terminal.
    Always,
    /// Do not read stdin.
    Never,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    keys: Map<String, Value>,
}

impl Document {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads the document from stdin according to `mode`. An empty stdin is an empty document.
    pub fn from_stdin(mode: Stdin) -> Result<Self, InputError> {
        let read = match mode {
            Stdin::Never => false,
            Stdin::Always => true,
            Stdin::WhenPiped => !std::io::stdin().is_terminal(),
        };
        if !read {
            return Ok(Self::new());
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| InputError::new(format!("reading the JSON document from stdin: {e}")))?;
        Self::parse(&text)
    }

    /// Parses a document: a JSON object, or nothing at all.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        if text.trim().is_empty() {
            return Ok(Self::new());
        }
        let value: Value = serde_json::from_str(text).map_err(|e| {
            InputError::new(format!("stdin is not valid JSON: {e}"))
                .hint("pipe the output of another ekskit tool, or a JSON object such as {}")
        })?;
        match value {
            Value::Object(keys) => Ok(Self { keys }),
            other => Err(InputError::new(format!("stdin must hold a JSON object, got {}", kind_of(&other)))
                .hint("pipe the output of another ekskit tool, or a JSON object such as {}")),
        }
    }

    /// The value of `key` as `T`; `None` when absent or null. A value of the wrong shape is
    /// an input error naming the key, so bad documents stop before anything is changed.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, InputError> {
        match self.keys.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => T::deserialize(value).map(Some).map_err(|e| {
                InputError::new(format!("key `{key}` of the stdin document is invalid: {e}"))
                    .hint(format!("fix or remove `{key}`; it must match schemas/{key}.schema.json"))
            }),
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    /// Sets a tool's own key, replacing what an earlier run of the same tool wrote.
    pub fn set<T: Serialize>(&mut self, key: &str, value: &T) -> anyhow::Result<()> {
        self.keys.insert(key.to_owned(), serde_json::to_value(value)?);
        Ok(())
    }

    /// Sets `outer.inner`, keeping the other entries of `outer` (e.g. `plan.vpc`, `deleted.vpc`).
    pub fn set_nested<T: Serialize>(&mut self, outer: &str, inner: &str, value: &T) -> anyhow::Result<()> {
        let slot = self.keys.entry(outer.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        if let Value::Object(map) = slot {
            map.insert(inner.to_owned(), serde_json::to_value(value)?);
        }
        Ok(())
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.keys.shift_remove(key)
    }

    pub fn as_value(&self) -> Value {
        Value::Object(self.keys.clone())
    }

    pub fn to_pretty_json(&self) -> String {
        // A map of JSON values always serializes.
        serde_json::to_string_pretty(&self.keys).unwrap_or_default()
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Vpc {
        id: String,
    }

    #[test]
    fn empty_input_is_an_empty_document() {
        assert_eq!(Document::parse("").unwrap(), Document::new());
        assert_eq!(Document::parse(" \n").unwrap(), Document::new());
    }

    #[test]
    fn malformed_json_is_an_input_error() {
        let err = Document::parse("{\"vpc\": ").unwrap_err();
        assert!(err.to_string().starts_with("stdin is not valid JSON"), "{err}");
    }

    #[test]
    fn a_non_object_is_an_input_error() {
        let err = Document::parse("[1]").unwrap_err();
        assert_eq!(err.to_string(), "stdin must hold a JSON object, got an array");
    }

    #[test]
    fn keys_of_other_tools_are_kept_in_order() {
        let mut doc = Document::parse(r#"{"z": 1, "image": {"x": [1, 2]}, "a": null}"#).unwrap();
        doc.set("vpc", &serde_json::json!({"id": "vpc-1"})).unwrap();
        assert_eq!(
            doc.to_pretty_json().replace([' ', '\n'], ""),
            r#"{"z":1,"image":{"x":[1,2]},"a":null,"vpc":{"id":"vpc-1"}}"#
        );
    }

    #[test]
    fn a_key_of_the_wrong_shape_names_the_key() {
        let doc = Document::parse(r#"{"vpc": 5}"#).unwrap();
        let err = doc.get::<Vpc>("vpc").unwrap_err();
        assert!(err.to_string().starts_with("key `vpc` of the stdin document is invalid"), "{err}");
        assert_eq!(doc.get::<Vpc>("cluster").unwrap(), None);
    }

    #[test]
    fn set_nested_keeps_siblings() {
        let mut doc = Document::parse(r#"{"plan": {"cluster": 1}}"#).unwrap();
        doc.set_nested("plan", "vpc", &2).unwrap();
        assert_eq!(doc.as_value(), serde_json::json!({"plan": {"cluster": 1, "vpc": 2}}));
    }
}
