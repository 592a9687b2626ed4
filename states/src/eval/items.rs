//! A distributed Map's items from what its ItemReader read (pure: the engine does the S3
//! reads): CSV with AWS's quoting rules, JSON (an array, or an object's entries, at
//! `ItemsPointer`), JSON Lines, an S3 listing, an S3 inventory manifest; then `MaxItems`,
//! and the ItemBatcher's batches.
//!
//! AWS's rules (Developer Guide, "ItemReader", "ItemBatcher"): every CSV value is a
//! string; a quoted field may hold the delimiter and newlines, `""` is a quote; a
//! backslash escapes a backslash, a quote or the delimiter and is dropped before any
//! other character; a short row gets `""` for its missing fields and a long row's extra
//! fields are dropped; duplicate headers fail the reader. Choices where AWS says nothing
//! (documented in the README): an empty line is no item; an object read as JSON gives one
//! item per entry, `{"<key>": <value>}`; a batch's bytes are its whole input as JSON text
//! (`{"BatchInput": …, "Items": […]}`).

use serde_json::{Map, Value, json};

use crate::definition::CsvHeaders;
use crate::error::{ErrorName, StatesError};
use crate::timestamp::parse_iso8601;

/// The largest child input AWS accepts, and a batch's size when no byte limit is given.
pub const MAX_BATCH_BYTES: u64 = 256 * 1024;

/// `States.ItemReaderFailed` with `cause`.
pub fn reader_failed(cause: impl Into<String>) -> StatesError {
    StatesError::new(ErrorName::ItemReaderFailed, cause)
}

/// The records of a CSV text, as rows of fields.
fn csv_rows(text: &str, delimiter: char) -> Result<Vec<Vec<String>>, StatesError> {
    let mut rows = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut field_started = false;
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek().copied() {
                Some(next) if next == '\\' || next == '"' || next == delimiter => {
                    chars.next();
                    field.push(next);
                    field_started = true;
                }
                // Dropped before any other character, which is read as it is (a line break
                // still ends the record).
                _ => {}
            },
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            }
            '"' if !field_started => {
                quoted = true;
                field_started = true;
            }
            '\r' if !quoted && chars.peek() == Some(&'\n') => {}
            // `\n` ends a record, and so does a lone carriage return (old Mac line ends).
            '\n' | '\r' if !quoted => {
                line += 1;
                row.push(std::mem::take(&mut field));
                let done = std::mem::take(&mut row);
                // An empty line is no record.
                if !(done.len() == 1 && done[0].is_empty() && !field_started) {
                    rows.push(done);
                }
                field_started = false;
            }
            c if c == delimiter && !quoted => {
                row.push(std::mem::take(&mut field));
                field_started = false;
            }
            c => {
                if c == '\n' {
                    line += 1;
                }
                field.push(c);
                field_started = true;
            }
        }
    }
    if quoted {
        return Err(reader_failed(format!("CSV: a quoted field is not closed (at line {line})")));
    }
    if field_started || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    Ok(rows)
}

/// A CSV text's items: one object per row, keyed by the headers (the first row, or given).
/// A byte-order mark is dropped; `\r\n`, `\n` and a lone `\r` end a record.
pub fn csv_items(text: &str, delimiter: char, headers: &CsvHeaders) -> Result<Vec<Value>, StatesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = csv_rows(text, delimiter)?.into_iter();
    let headers = match headers {
        CsvHeaders::Given(given) => given.clone(),
        CsvHeaders::FirstRow => rows.next().unwrap_or_default(),
    };
    let mut seen = std::collections::HashSet::new();
    if !headers.iter().all(|h| seen.insert(h.as_str())) {
        return Err(reader_failed("CSV headers cannot contain duplicates."));
    }
    Ok(rows
        .map(|row| {
            let mut item = Map::new();
            for (i, header) in headers.iter().enumerate() {
                item.insert(header.clone(), Value::String(row.get(i).cloned().unwrap_or_default()));
            }
            Value::Object(item)
        })
        .collect())
}

/// A JSON text's items: the array (or the object's entries) at `pointer`.
pub fn json_items(text: &str, pointer: Option<&str>) -> Result<Vec<Value>, StatesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value =
        serde_json::from_str(text).map_err(|e| reader_failed(format!("the object is not valid JSON: {e}")))?;
    let value = match pointer {
        None => value,
        Some(pointer) => value
            .pointer(pointer)
            .cloned()
            .ok_or_else(|| reader_failed(format!("ItemsPointer '{pointer}' selects nothing in the object")))?,
    };
    match value {
        Value::Array(items) => Ok(items),
        Value::Object(entries) => Ok(entries.into_iter().map(|(k, v)| json!({ k: v })).collect()),
        _ => Err(reader_failed("Attempting to map over non-iterable node.")),
    }
}

/// A JSON Lines text's items: one per non-empty line.
pub fn jsonl_items(text: &str) -> Result<Vec<Value>, StatesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| reader_failed(format!("line {} is not valid JSON: {e}", i + 1)))
        })
        .collect()
}

/// The items of a listObjectsV2 page's `Contents`: `{Etag, Key, LastModified (epoch
/// seconds), Size, StorageClass}`, as AWS gives them.
pub fn listing_items(contents: &[Value]) -> Vec<Value> {
    contents
        .iter()
        .map(|object| {
            let modified =
                object["LastModified"].as_str().and_then(parse_iso8601).map_or(0, |n| (n / 1_000_000_000) as i64);
            json!({
                "Etag": object["ETag"],
                "Key": object["Key"],
                "LastModified": modified,
                "Size": object["Size"],
                "StorageClass": object.get("StorageClass").cloned().unwrap_or_else(|| json!("STANDARD")),
            })
        })
        .collect()
}

/// An S3 inventory's `manifest.json`: the bucket and keys of its data files, and the
/// columns of their CSV rows (`fileSchema`).
pub fn inventory_files(manifest: &str) -> Result<(String, Vec<String>, Vec<String>), StatesError> {
    let value: Value =
        serde_json::from_str(manifest).map_err(|e| reader_failed(format!("the manifest is not valid JSON: {e}")))?;
    if value["fileFormat"].as_str().is_some_and(|f| !f.eq_ignore_ascii_case("CSV")) {
        return Err(reader_failed(format!("S3 inventory files in {} are not read; CSV only", value["fileFormat"])));
    }
    let bucket = value["destinationBucket"]
        .as_str()
        .map(|b| b.trim_start_matches("arn:aws:s3:::").to_owned())
        .ok_or_else(|| reader_failed("the manifest has no destinationBucket"))?;
    let schema: Vec<String> = value["fileSchema"]
        .as_str()
        .ok_or_else(|| reader_failed("the manifest has no fileSchema"))?
        .split(',')
        .map(|c| c.trim().to_owned())
        .collect();
    let keys = value["files"]
        .as_array()
        .ok_or_else(|| reader_failed("the manifest has no files"))?
        .iter()
        .filter_map(|f| f["key"].as_str().map(str::to_owned))
        .collect();
    Ok((bucket, keys, schema))
}

/// The first `max` items (`MaxItems`; 0 or absent: all of them).
pub fn limit(mut items: Vec<Value>, max: Option<u64>) -> Vec<Value> {
    if let Some(max) = max.filter(|m| *m > 0) {
        items.truncate(usize::try_from(max).unwrap_or(usize::MAX));
    }
    items
}

/// The ItemBatcher's batches: `{"BatchInput"?, "Items": […]}`, each with at most
/// `max_items` items and at most `max_bytes` bytes of JSON (256 KiB when no byte limit is
/// given). An item that cannot fit in a batch on its own fails the Map.
pub fn batches(
    items: Vec<Value>,
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    batch_input: Option<&Value>,
) -> Result<Vec<Value>, StatesError> {
    let max_items = max_items.filter(|m| *m > 0).map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let max_bytes = max_bytes.filter(|m| *m > 0).unwrap_or(MAX_BATCH_BYTES).min(MAX_BATCH_BYTES) as usize;
    // `{"Items":[]}` or `{"BatchInput":…,"Items":[]}`, then each item and a comma.
    let envelope = match batch_input {
        Some(input) => r#"{"BatchInput":,"Items":[]}"#.len() + input.to_string().len(),
        None => r#"{"Items":[]}"#.len(),
    };
    let make = |items: Vec<Value>| {
        let mut batch = Map::new();
        if let Some(input) = batch_input {
            batch.insert("BatchInput".into(), input.clone());
        }
        batch.insert("Items".into(), Value::Array(items));
        Value::Object(batch)
    };
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = envelope;
    for (index, item) in items.into_iter().enumerate() {
        let size = item.to_string().len() + usize::from(!current.is_empty());
        if envelope + item.to_string().len() > max_bytes {
            return Err(StatesError::new(
                ErrorName::Runtime,
                format!(
                    "item {index} alone is larger than the batch limit of {max_bytes} bytes (MaxInputBytesPerBatch)"
                ),
            ));
        }
        if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
            out.push(make(std::mem::take(&mut current)));
            bytes = envelope;
        }
        bytes += item.to_string().len() + usize::from(!current.is_empty());
        current.push(item);
    }
    if !current.is_empty() {
        out.push(make(current));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_follows_aws_quoting_rules() {
        let text = "a,b,c\n1,\"x, \"\"y\"\"\nz\",3\n4,5\n\n6,7,8,9\n\\q\\,r,\\\\,s\n";
        let items = csv_items(text, ',', &CsvHeaders::FirstRow).unwrap();
        assert_eq!(items[0], json!({"a": "1", "b": "x, \"y\"\nz", "c": "3"}));
        assert_eq!(items[1], json!({"a": "4", "b": "5", "c": ""}), "a short row gets empty strings");
        assert_eq!(items[2], json!({"a": "6", "b": "7", "c": "8"}), "extra fields are dropped");
        assert_eq!(items[3], json!({"a": "q,r", "b": "\\", "c": "s"}), "backslash escapes");
        assert_eq!(items.len(), 4, "the empty line is no item");
        let given = csv_items("1|2\n", '|', &CsvHeaders::Given(vec!["x".into(), "y".into()])).unwrap();
        assert_eq!(given, vec![json!({"x": "1", "y": "2"})]);
        let duplicate = csv_items("a,a\n1,2\n", ',', &CsvHeaders::FirstRow).unwrap_err();
        assert_eq!(
            duplicate.to_value(),
            json!({"Error": "States.ItemReaderFailed", "Cause": "CSV headers cannot contain duplicates."})
        );
        assert!(csv_items("a\n\"open\n", ',', &CsvHeaders::FirstRow).is_err());
        let odd = csv_items("\u{feff}a,b\r1,2\r3,x\\\n4,y\n", ',', &CsvHeaders::FirstRow).unwrap();
        assert_eq!(
            odd,
            vec![json!({"a": "1", "b": "2"}), json!({"a": "3", "b": "x"}), json!({"a": "4", "b": "y"})],
            "a BOM is dropped, a lone CR ends a record, and so does a newline after a backslash"
        );
    }

    #[test]
    fn json_and_json_lines() {
        assert_eq!(json_items("[1, {\"a\": 2}]", None).unwrap(), vec![json!(1), json!({"a": 2})]);
        assert_eq!(json_items(r#"{"x": {"y": [3, 4]}}"#, Some("/x/y")).unwrap(), vec![json!(3), json!(4)]);
        assert_eq!(json_items(r#"{"a": 1, "b": 2}"#, None).unwrap(), vec![json!({"a": 1}), json!({"b": 2})]);
        assert_eq!(
            json_items("3", None).unwrap_err().cause.as_deref(),
            Some("Attempting to map over non-iterable node.")
        );
        assert_eq!(jsonl_items("{\"a\":1}\n\n[2]\n").unwrap(), vec![json!({"a": 1}), json!([2])]);
        assert!(jsonl_items("{}\nnope\n").unwrap_err().cause.unwrap().starts_with("line 2"));
    }

    #[test]
    fn listings_and_limits() {
        let contents = [json!({"ETag": "\"e\"", "Key": "k", "LastModified": "2022-11-17T15:44:41.000Z", "Size": 3})];
        assert_eq!(
            listing_items(&contents),
            vec![
                json!({"Etag": "\"e\"", "Key": "k", "LastModified": 1668699881, "Size": 3, "StorageClass": "STANDARD"})
            ]
        );
        assert_eq!(limit(vec![json!(1), json!(2), json!(3)], Some(2)).len(), 2);
    }

    #[test]
    fn batches_by_count_and_by_bytes() {
        let items: Vec<Value> = (0..1130).map(|i| json!(i)).collect();
        let made = batches(items, Some(100), None, None).unwrap();
        assert_eq!(made.len(), 12, "11 × 100 + 30");
        assert_eq!(made[11]["Items"].as_array().unwrap().len(), 30);
        let with_input = batches(vec![json!("a"), json!("b")], Some(10), None, Some(&json!({"k": 1}))).unwrap();
        assert_eq!(with_input, vec![json!({"BatchInput": {"k": 1}, "Items": ["a", "b"]})]);
        // 10-byte strings ("xxxxxxxx" with quotes): {"Items":[…]} is 12 bytes, each item 10 (+1 comma).
        let small: Vec<Value> = (0..5).map(|_| json!("xxxxxxxx")).collect();
        let by_bytes = batches(small, None, Some(12 + 10 + 11), None).unwrap();
        assert_eq!(by_bytes.iter().map(|b| b["Items"].as_array().unwrap().len()).collect::<Vec<_>>(), [2, 2, 1]);
        for batch in &by_bytes {
            assert!(batch.to_string().len() <= 33, "{batch}");
        }
        assert!(batches(vec![json!("x".repeat(100))], None, Some(50), None).is_err());
    }

    #[test]
    fn inventory_manifests() {
        let manifest = r#"{"sourceBucket":"src","destinationBucket":"arn:aws:s3:::inv","fileFormat":"CSV",
            "fileSchema":"Bucket, Key, Size, LastModifiedDate","files":[{"key":"data/a.csv.gz","size":1}]}"#;
        let (bucket, keys, schema) = inventory_files(manifest).unwrap();
        assert_eq!((bucket.as_str(), keys, schema.len()), ("inv", vec!["data/a.csv.gz".to_owned()], 4));
    }
}
