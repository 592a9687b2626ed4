//! [`Payload`]: a state's input or output, and what history events carry.
//!
//! A payload is shared, never copied: cloning one costs a reference count. It holds the
//! document in the form it was made in:
//! - [`Json`], the persistent form, in which InputPath, `.$` fields, ResultPath and
//!   OutputPath select and place parts without copying them (what the Pass chain of a
//!   large document needs to stay linear in its states, not in its bytes);
//! - [`serde_json::Value`], which the rest reads (JSONata, Map and Fail fields, the
//!   adapters): `Payload` dereferences to it.
//!
//! The other form is made on demand. [`Payload::value`] and `Deref` keep the `Value` they
//! make in the payload, which history events may hold for the whole run;
//! [`Payload::to_json`], [`Payload::to_value`] and [`Payload::with_value`] make a form for
//! the caller only (a `Json` is never kept beside a `Value`), and the interpreter's per-state paths (Pass, Choice, Wait, ResultPath,
//! paths and templates over a [`crate::path::PayloadScope`]) use those, or read the form
//! that exists. Serializing writes the form it was made in, so recording or rendering an
//! event never builds the other.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::json::Json;

/// A shared JSON document in the form it was made in, with the other made on demand.
#[derive(Clone)]
pub struct Payload(Arc<Forms>);

enum Forms {
    /// Made as a persistent value (by the interpreter's path and template steps).
    Json { json: Json, value: OnceLock<Value> },
    /// Made as a `serde_json` value (parsed input, a task's result, JSONata's output). Its
    /// persistent form is never kept: what is made from it is a new document that holds
    /// what it needs.
    Value(Value),
}

impl Payload {
    /// A payload of a `serde_json` value.
    pub fn new(value: Value) -> Payload {
        Payload(Arc::new(Forms::Value(value)))
    }

    /// A payload of a persistent value.
    pub fn from_json(json: Json) -> Payload {
        Payload(Arc::new(Forms::Json { json, value: OnceLock::new() }))
    }

    /// The persistent form, if the payload was made in it.
    pub fn json_if_made(&self) -> Option<&Json> {
        match &*self.0 {
            Forms::Json { json, .. } => Some(json),
            Forms::Value(_) => None,
        }
    }

    /// The `serde_json` form if it exists (it was made in it, or has been asked for it).
    pub fn value_if_made(&self) -> Option<&Value> {
        match &*self.0 {
            Forms::Json { value, .. } => value.get(),
            Forms::Value(value) => Some(value),
        }
    }

    /// The persistent form, shared when the payload was made in it, else made for the
    /// caller without keeping it in the payload (a write into a copy of a task's result
    /// must not leave a second copy of that result in the history).
    pub fn to_json(&self) -> Json {
        match &*self.0 {
            Forms::Json { json, .. } => json.clone(),
            Forms::Value(value) => Json::from(value),
        }
    }

    /// The persistent form, moved out when no one else holds the payload.
    pub fn into_json(self) -> Json {
        match Arc::try_unwrap(self.0) {
            Ok(Forms::Json { json, .. }) => json,
            Ok(Forms::Value(value)) => Json::from(value),
            Err(shared) => Payload(shared).to_json(),
        }
    }

    /// The `serde_json` form (made from the persistent form on first use, then kept).
    pub fn value(&self) -> &Value {
        match &*self.0 {
            Forms::Json { json, value } => value.get_or_init(|| json.to_value()),
            Forms::Value(value) => value,
        }
    }

    /// Calls `f` with the `serde_json` form: the one kept, or else one made for the call
    /// and dropped after it (for reads that should not leave a copy in the payload).
    pub fn with_value<R>(&self, f: impl FnOnce(&Value) -> R) -> R {
        match &*self.0 {
            Forms::Value(value) => f(value),
            Forms::Json { json, value } => match value.get() {
                Some(value) => f(value),
                None => f(&json.to_value()),
            },
        }
    }

    /// A copy of the `serde_json` form, made without keeping one in the payload.
    pub fn to_value(&self) -> Value {
        match &*self.0 {
            Forms::Value(value) => value.clone(),
            Forms::Json { json, value } => value.get().cloned().unwrap_or_else(|| json.to_value()),
        }
    }

    /// The `serde_json` form, moved out when no one else holds the payload.
    pub fn into_value(self) -> Value {
        match Arc::try_unwrap(self.0) {
            Ok(Forms::Value(value)) => value,
            Ok(Forms::Json { json, value }) => value.into_inner().unwrap_or_else(|| json.to_value()),
            Err(shared) => Payload(shared).to_value(),
        }
    }

    /// True when both are the same shared payload.
    pub fn ptr_eq(a: &Payload, b: &Payload) -> bool {
        Arc::ptr_eq(&a.0, &b.0)
    }

    /// The length of the payload's compact JSON text, in bytes, compared with `limit`:
    /// true when longer. A persistent form answers from the lengths its parts remember; a
    /// `serde_json` form is walked until the limit is passed.
    pub fn longer_than(&self, limit: usize) -> bool {
        match &*self.0 {
            Forms::Json { json, .. } => json.text_len() > limit,
            Forms::Value(value) => crate::io::text_longer_than(value, limit),
        }
    }
}

impl Default for Payload {
    /// `null`.
    fn default() -> Payload {
        Payload::new(Value::Null)
    }
}

impl Deref for Payload {
    type Target = Value;

    fn deref(&self) -> &Value {
        self.value()
    }
}

impl From<Value> for Payload {
    fn from(value: Value) -> Payload {
        Payload::new(value)
    }
}

impl From<Json> for Payload {
    fn from(json: Json) -> Payload {
        Payload::from_json(json)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        if Payload::ptr_eq(self, other) {
            return true;
        }
        match (&*self.0, &*other.0) {
            (Forms::Value(a), Forms::Value(b)) => a == b,
            _ => self.to_json() == other.to_json(),
        }
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Forms::Json { json, .. } => json.fmt(f),
            Forms::Value(value) => value.fmt(f),
        }
    }
}

impl Serialize for Payload {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &*self.0 {
            Forms::Json { json, .. } => json.serialize(serializer),
            Forms::Value(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Payload, D::Error> {
        Value::deserialize(deserializer).map(Payload::new)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn either_form_gives_the_other_the_same_text_and_equality() {
        let value = json!({"b": [1, {"c": "x"}], "a": null});
        let made_as_value = Payload::new(value.clone());
        let made_as_json = Payload::from_json(Json::from(&value));
        assert_eq!(made_as_value, made_as_json);
        assert_eq!(*made_as_json, value);
        assert_eq!(made_as_value.to_json(), made_as_json.to_json());
        let text = serde_json::to_string(&value).unwrap();
        assert_eq!(serde_json::to_string(&made_as_value).unwrap(), text);
        assert_eq!(serde_json::to_string(&made_as_json).unwrap(), text);
        let back: Payload = serde_json::from_str(&text).unwrap();
        assert_eq!(back, made_as_json);
        assert_ne!(Payload::new(json!([1])), Payload::from_json(Json::from(json!([2]))));
    }

    #[test]
    fn the_length_check_agrees_in_both_forms() {
        let value = json!({"s": "q\"".repeat(10)});
        let len = serde_json::to_string(&value).unwrap().len();
        for payload in [Payload::new(value.clone()), Payload::from_json(Json::from(&value))] {
            assert!(payload.longer_than(len - 1));
            assert!(!payload.longer_than(len));
        }
    }

    #[test]
    fn into_value_moves_an_unshared_payload_and_copies_a_shared_one() {
        let payload = Payload::from_json(Json::from(json!({"a": 1})));
        let kept = payload.clone();
        assert_eq!(payload.into_value(), json!({"a": 1}));
        assert!(kept.value_if_made().is_none(), "a copy taken from a shared payload is not kept in it");
        assert_eq!(kept.into_value(), json!({"a": 1}));
        // The same for the persistent form of a payload made as a `serde_json` value.
        let payload = Payload::new(json!([1, {"b": 2}]));
        let kept = payload.clone();
        assert_eq!(payload.into_json(), Json::from(json!([1, {"b": 2}])));
        assert!(kept.json_if_made().is_none());
        assert_eq!(kept.to_json(), Json::from(json!([1, {"b": 2}])));
        assert!(kept.json_if_made().is_none());
        let one = Payload::default();
        assert!(Payload::ptr_eq(&one, &one.clone()));
        assert!(!Payload::ptr_eq(&one, &Payload::default()));
    }
}
