//! Reading JSON text that sfnlite wrote, however deeply it nests.
//!
//! A state can build a value deeper than serde_json's default limit of 128 levels (a loop
//! wrapping its input); what was recorded or answered must read back as it was written.
//! The limit is lifted and the stack grows on the heap as needed (serde_stacker). Input
//! from outside (definitions, execution inputs, API requests) keeps serde_json's limit.

use serde::de::DeserializeOwned;

/// Parses `bytes` as one JSON document of any depth.
pub fn from_slice_any_depth<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    json.disable_recursion_limit();
    let value = T::deserialize(serde_stacker::Deserializer::new(&mut json))?;
    json.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn reads_past_the_default_depth_and_refuses_trailing_text() {
        let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        let mut value: Value = super::from_slice_any_depth(deep.as_bytes()).unwrap();
        for _ in 0..5000 {
            value = value.as_array_mut().unwrap().pop().unwrap();
        }
        assert_eq!(value, 1);
        assert!(super::from_slice_any_depth::<Value>(b"[1] x").is_err());
    }
}
