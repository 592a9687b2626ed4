//! Duplicate keys in JSON text. `serde_json` keeps the last of two equal keys silently;
//! ASL needs to know, because two states with one name are a definition error
//! (`DUPLICATE_STATE_NAME`).

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The locations (`/States/A`, …) of keys that appear twice in the same object.
/// Text that is not JSON yields nothing; the JSON parser reports that.
pub fn duplicate_keys(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let _ = Walker { location: String::new(), found: &mut found }.deserialize(&mut de);
    found
}

struct Walker<'f> {
    location: String,
    found: &'f mut Vec<String>,
}

impl<'de> DeserializeSeed<'de> for Walker<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walker<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Ordered, not hashed: O(n log n) for an object of n keys (a Vec was O(n²): 100,000
        // states took 7 s), and no hasher seeded from the OS.
        let mut seen: BTreeSet<String> = BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let location = format!("{}/{key}", self.location);
            if seen.contains(&key) {
                self.found.push(location.clone());
            } else {
                seen.insert(key);
            }
            map.next_value_seed(Walker { location, found: self.found })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while seq
            .next_element_seed(Walker { location: format!("{}/{index}", self.location), found: self.found })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_duplicates_at_any_depth() {
        let text = r#"{"States": {"A": {"Type": "Pass"}, "B": [{"x": 1, "x": 2}], "A": {}}, "States": {}}"#;
        assert_eq!(duplicate_keys(text), vec!["/States/B/0/x", "/States/A", "/States"]);
        assert!(duplicate_keys(r#"{"a": {"a": 1}}"#).is_empty());
    }
}
