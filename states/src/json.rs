//! A persistent JSON value: arrays and objects are shared (`Arc`), so selecting a part of a
//! document, placing a value into a copy of it, or keeping it in a history event costs the
//! length of the path, not the size of the document.
//!
//! [`Json`] is the form the hot path of the interpreter works on (InputPath, `.$` fields,
//! ResultPath, OutputPath, the payload quota); [`serde_json::Value`] stays the form of
//! everything else, and [`crate::history::Payload`] converts between the two when asked.
//! Each array and object remembers the length of its JSON text once computed, so the
//! payload quota of a document that shares most of its parts with the last one is checked
//! in the time it takes to walk what is new.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Number, Value};

/// An object's entries, in insertion order (serde_json's `preserve_order`).
pub type Entries = indexmap::IndexMap<String, Json>;

/// A JSON value whose arrays and objects are shared.
#[derive(Clone, Default)]
pub enum Json {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as serde_json keeps it.
    Number(Number),
    /// A string.
    String(Arc<str>),
    /// An array.
    Array(Arc<Node<Vec<Json>>>),
    /// An object.
    Object(Arc<Node<Entries>>),
}

/// An array's items or an object's entries, with the length of its JSON text once known.
pub struct Node<T> {
    items: T,
    text_len: OnceLock<usize>,
}

impl<T> Node<T> {
    fn new(items: T) -> Node<T> {
        Node { items, text_len: OnceLock::new() }
    }

    /// The items (an array's values, an object's entries).
    pub fn items(&self) -> &T {
        &self.items
    }
}

impl Json {
    /// An array of `items`.
    pub fn array(items: Vec<Json>) -> Json {
        Json::Array(Arc::new(Node::new(items)))
    }

    /// An object of `entries`.
    pub fn object(entries: Entries) -> Json {
        Json::Object(Arc::new(Node::new(entries)))
    }

    /// The object's entries, if this is an object.
    pub fn as_object(&self) -> Option<&Entries> {
        match self {
            Json::Object(node) => Some(&node.items),
            _ => None,
        }
    }

    /// The array's items, if this is an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(node) => Some(&node.items),
            _ => None,
        }
    }

    /// The `serde_json` form (a deep copy).
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(node) => Value::Array(node.items.iter().map(Json::to_value).collect()),
            Json::Object(node) => {
                let mut map = Map::with_capacity(node.items.len());
                for (key, item) in &node.items {
                    map.insert(key.clone(), item.to_value());
                }
                Value::Object(map)
            }
        }
    }

    /// The length of the compact JSON text of this value, as serde_json writes it (UTF-8
    /// bytes). Computed once per array and object, then remembered.
    pub fn text_len(&self) -> usize {
        match self {
            Json::Null => 4,
            Json::Bool(b) => 4 + usize::from(!*b),
            Json::Number(n) => number_text_len(n),
            Json::String(s) => string_text_len(s),
            Json::Array(node) => *node
                .text_len
                .get_or_init(|| node.items.iter().map(Json::text_len).sum::<usize>() + node.items.len().max(1) + 1),
            Json::Object(node) => *node.text_len.get_or_init(|| {
                node.items.iter().map(|(key, item)| string_text_len(key) + 1 + item.text_len()).sum::<usize>()
                    + node.items.len().max(1)
                    + 1
            }),
        }
    }

    /// True when both are the same shared array or object (so equal without a walk).
    pub fn same_node(&self, other: &Json) -> bool {
        match (self, other) {
            (Json::Array(a), Json::Array(b)) => Arc::ptr_eq(a, b),
            (Json::Object(a), Json::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// The length of a string's JSON text: its quotes, and its escapes (`\"`, `\\`, `\n`…,
/// `\u001f`), as serde_json writes them.
pub fn string_text_len(s: &str) -> usize {
    let escapes: usize = s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    s.len() + 2 + escapes
}

/// The length of a number's JSON text, written nowhere.
pub fn number_text_len(n: &Number) -> usize {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = fmt::Write::write_fmt(&mut count, format_args!("{n}"));
    count.0
}

impl From<&Value> for Json {
    fn from(value: &Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Arc::from(s.as_str())),
            Value::Array(items) => Json::array(items.iter().map(Json::from).collect()),
            Value::Object(map) => Json::object(map.iter().map(|(k, v)| (k.clone(), Json::from(v))).collect()),
        }
    }
}

impl From<Value> for Json {
    fn from(value: Value) -> Json {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(n),
            Value::String(s) => Json::String(Arc::from(s)),
            Value::Array(items) => Json::array(items.into_iter().map(Json::from).collect()),
            Value::Object(map) => Json::object(map.into_iter().map(|(k, v)| (k, Json::from(v))).collect()),
        }
    }
}

impl PartialEq for Json {
    fn eq(&self, other: &Json) -> bool {
        if self.same_node(other) {
            return true;
        }
        match (self, other) {
            (Json::Null, Json::Null) => true,
            (Json::Bool(a), Json::Bool(b)) => a == b,
            (Json::Number(a), Json::Number(b)) => a == b,
            (Json::String(a), Json::String(b)) => a == b,
            (Json::Array(a), Json::Array(b)) => a.items == b.items,
            // Key order does not matter, as for serde_json's maps.
            (Json::Object(a), Json::Object(b)) => {
                a.items.len() == b.items.len()
                    && a.items.iter().all(|(key, item)| b.items.get(key).is_some_and(|other| item == other))
            }
            _ => false,
        }
    }
}

impl Serialize for Json {
    /// The same text as the equal `serde_json::Value` gives.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Number(n) => n.serialize(serializer),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(node) => {
                let mut seq = serializer.serialize_seq(Some(node.items.len()))?;
                for item in &node.items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(node) => {
                let mut map = serializer.serialize_map(Some(node.items.len()))?;
                for (key, item) in &node.items {
                    map.serialize_entry(key, item)?;
                }
                map.end()
            }
        }
    }
}

impl fmt::Debug for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("Null"),
            Json::Bool(b) => write!(f, "Bool({b})"),
            Json::Number(n) => write!(f, "Number({n})"),
            Json::String(s) => write!(f, "String({s:?})"),
            // As serde_json's `Value` writes them.
            Json::Array(node) => {
                f.write_str("Array ")?;
                f.debug_list().entries(&node.items).finish()
            }
            Json::Object(node) => {
                f.write_str("Object ")?;
                f.debug_map().entries(&node.items).finish()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn samples() -> Vec<Value> {
        vec![
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-12),
            json!(1.5e300),
            json!(0.1),
            json!(u64::MAX),
            json!(""),
            json!("a\"b\\c\n\u{1}\u{1f}é\t"),
            json!([]),
            json!({}),
            json!([1, [2, [3, {}]], {"k": []}]),
            json!({"z": 1, "a": {"y": [null, "x"], "b": false}, "m": "\u{7f}"}),
        ]
    }

    #[test]
    fn converts_both_ways_and_writes_the_same_text_with_the_same_length() {
        for value in samples() {
            let json = Json::from(&value);
            assert_eq!(json.to_value(), value);
            assert_eq!(Json::from(value.clone()), json);
            let text = serde_json::to_string(&value).unwrap();
            assert_eq!(serde_json::to_string(&json).unwrap(), text, "{value}");
            assert_eq!(json.text_len(), text.len(), "{value}");
            // Remembered: asking again gives the same.
            assert_eq!(json.text_len(), text.len());
        }
    }

    #[test]
    fn equality_ignores_key_order_and_sharing() {
        let a = Json::from(json!({"a": 1, "b": [1, 2]}));
        let b = Json::from(json!({"b": [1, 2], "a": 1}));
        assert_eq!(a, b);
        assert_ne!(a, Json::from(json!({"a": 1, "b": [2, 1]})));
        assert_ne!(Json::from(json!({"a": 1})), Json::from(json!({"a": 1, "b": 1})));
        assert_eq!(a.clone(), a);
        assert_ne!(Json::from(json!(1)), Json::from(json!("1")));
    }

    #[test]
    fn a_changed_copy_computes_its_length_again() {
        let original = Json::from(json!({"a": [1, 2, 3]}));
        assert_eq!(original.text_len(), r#"{"a":[1,2,3]}"#.len());
        // A write (as ResultPath makes one) builds new containers along its path, which
        // measure themselves; the original keeps its remembered length.
        let path = crate::path::ReferencePath::parse("$.bb").unwrap();
        let changed = path.set_in_json(&original, Json::from(json!("xyz"))).unwrap();
        assert_eq!(changed.text_len(), serde_json::to_string(&changed).unwrap().len());
        assert_eq!(changed.text_len(), r#"{"a":[1,2,3],"bb":"xyz"}"#.len());
        assert_eq!(original.text_len(), r#"{"a":[1,2,3]}"#.len());
    }
}
