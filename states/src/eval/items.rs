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

/// The deepest JSON the parser reads back.
const MAX_DEPTH: usize = 127;

/// The largest child input AWS accepts, and a batch's size when no byte limit is given.
pub const MAX_BATCH_BYTES: u64 = 256 * 1024;

/// `States.ItemReaderFailed` with `cause`.
pub fn reader_failed(cause: impl Into<String>) -> StatesError {
    StatesError::new(ErrorName::ItemReaderFailed, cause)
}

/// Items as compact JSON texts in one buffer: a million CSV rows take about their text's
/// size, not a million trees. An item is parsed when it is used (a child's input).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemList {
    text: String,
    /// Where each item's text ends in `text`.
    ends: Vec<usize>,
}

impl ItemList {
    /// No items.
    pub fn new() -> ItemList {
        ItemList::default()
    }

    /// Appends a value (as compact JSON).
    pub fn push(&mut self, value: &Value) {
        use std::fmt::Write;
        let _ = write!(self.text, "{value}");
        self.ends.push(self.text.len());
    }

    /// Appends a value's compact JSON text as it is.
    fn push_text(&mut self, text: &str) {
        self.text.push_str(text);
        self.ends.push(self.text.len());
    }

    /// How many items.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `index`-th item's JSON text.
    pub fn text(&self, index: usize) -> &str {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.text[start..self.ends[index]]
    }

    /// The `index`-th item (an item nested deeper than the JSON parser reads fails).
    pub fn get(&self, index: usize) -> Result<Value, StatesError> {
        serde_json::from_str(self.text(index))
            .map_err(|e| StatesError::new(ErrorName::Runtime, format!("item {index} cannot be read back: {e}")))
    }

    /// The items' texts, in order.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.text(i))
    }

    /// Keeps the first `max` items (`MaxItems`; 0 or absent: all of them).
    pub fn limit(&mut self, max: Option<u64>) {
        let max = max.filter(|m| *m > 0).map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
        if max < self.len() {
            self.ends.truncate(max);
            self.text.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    /// Whether `max` items (0 or absent: no limit) are read already.
    pub fn full(&self, max: Option<u64>) -> bool {
        max.is_some_and(|m| m > 0 && self.len() as u64 >= m)
    }

    /// The deepest nesting of arrays and objects among the items.
    pub fn depth(&self) -> usize {
        let (mut deepest, mut depth, mut in_string, mut escaped) = (0, 0usize, false, false);
        for byte in self.text.bytes() {
            if in_string {
                match byte {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match byte {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }

    /// Fails when an item is nested deeper than it can be read back (an item at the JSON
    /// parser's limit, then wrapped by an ItemSelector or a batch).
    pub fn readable(&self) -> Result<(), StatesError> {
        match self.depth() {
            depth if depth > MAX_DEPTH => Err(StatesError::new(
                ErrorName::Runtime,
                format!(
                    "an item is nested {depth} levels deep once selected or batched; at most {MAX_DEPTH} can be read"
                ),
            )),
            _ => Ok(()),
        }
    }

    /// A digest of the items (FNV-1a over each text and a separator), to tell whether a
    /// reader read the same items again.
    pub fn digest(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for text in self.texts() {
            // A NUL never occurs in JSON text: it ends each item.
            for byte in text.bytes().chain([0]) {
                h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    }

    /// The items as values (for tests and small lists).
    pub fn values(&self) -> Vec<Value> {
        (0..self.len()).filter_map(|i| self.get(i).ok()).collect()
    }
}

impl<'a> FromIterator<&'a Value> for ItemList {
    fn from_iter<I: IntoIterator<Item = &'a Value>>(values: I) -> ItemList {
        let mut list = ItemList::new();
        values.into_iter().for_each(|v| list.push(v));
        list
    }
}

/// The records of a CSV text, as rows of fields, one at a time to `each` (which answers
/// whether to go on).
fn csv_rows(text: &str, delimiter: char, mut each: impl FnMut(Vec<String>) -> bool) -> Result<(), StatesError> {
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
                let empty = done.len() == 1 && done[0].is_empty() && !field_started;
                if !empty && !each(done) {
                    return Ok(());
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
        each(row);
    }
    Ok(())
}

/// A CSV text's items, appended to `items` until it holds `max`: one object per row, keyed
/// by the headers (the first row, or given). A byte-order mark is dropped; `\r\n`, `\n` and
/// a lone `\r` end a record.
pub fn csv_items(
    text: &str,
    delimiter: char,
    headers: &CsvHeaders,
    items: &mut ItemList,
    max: Option<u64>,
) -> Result<(), StatesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut names: Option<Vec<String>> = match headers {
        CsvHeaders::Given(given) => Some(given.clone()),
        CsvHeaders::FirstRow => None,
    };
    let mut duplicate = false;
    let check = |names: &[String]| {
        let mut seen = std::collections::HashSet::new();
        names.iter().all(|h| seen.insert(h.as_str()))
    };
    if let Some(given) = &names {
        duplicate = !check(given);
    }
    if duplicate {
        return Err(reader_failed("CSV headers cannot contain duplicates."));
    }
    let mut item = Map::new();
    csv_rows(text, delimiter, |row| {
        let Some(headers) = &names else {
            duplicate = !check(&row);
            names = Some(row);
            return !duplicate;
        };
        if items.full(max) {
            return false;
        }
        let mut row = row.into_iter();
        for header in headers {
            item.insert(header.clone(), Value::String(row.next().unwrap_or_default()));
        }
        let value = Value::Object(std::mem::take(&mut item));
        items.push(&value);
        // The map's allocation is used again for the next row.
        if let Value::Object(mut emptied) = value {
            emptied.clear();
            item = emptied;
        }
        true
    })?;
    if duplicate {
        return Err(reader_failed("CSV headers cannot contain duplicates."));
    }
    Ok(())
}

/// A JSON text's items: the array (or the object's entries) at `pointer`.
pub fn json_items(text: &str, pointer: Option<&str>) -> Result<ItemList, StatesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value =
        serde_json::from_str(text).map_err(|e| reader_failed(format!("the object is not valid JSON: {e}")))?;
    let value = match pointer {
        None => &value,
        Some(pointer) => value
            .pointer(pointer)
            .ok_or_else(|| reader_failed(format!("ItemsPointer '{pointer}' selects nothing in the object")))?,
    };
    match value {
        Value::Array(items) => Ok(items.iter().collect()),
        Value::Object(entries) => {
            let mut items = ItemList::new();
            entries.iter().for_each(|(k, v)| items.push(&json!({ k: v })));
            Ok(items)
        }
        _ => Err(reader_failed("Attempting to map over non-iterable node.")),
    }
}

/// A JSON Lines text's items: one per non-empty line, until `max`.
pub fn jsonl_items(text: &str, max: Option<u64>) -> Result<ItemList, StatesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut items = ItemList::new();
    for (i, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        if items.full(max) {
            break;
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| reader_failed(format!("line {} is not valid JSON: {e}", i + 1)))?;
        items.push(&value);
    }
    Ok(items)
}

/// The items of a listObjectsV2 page's `Contents`: `{Etag, Key, LastModified (epoch
/// seconds), Size, StorageClass}`, as AWS gives them.
pub fn listing_items(contents: &[Value], items: &mut ItemList) {
    for object in contents {
        let modified =
            object["LastModified"].as_str().and_then(parse_iso8601).map_or(0, |n| (n / 1_000_000_000) as i64);
        items.push(&json!({
            "Etag": object["ETag"],
            "Key": object["Key"],
            "LastModified": modified,
            "Size": object["Size"],
            "StorageClass": object.get("StorageClass").cloned().unwrap_or_else(|| json!("STANDARD")),
        }));
    }
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

/// The ItemBatcher's batches: `{"BatchInput"?, "Items": […]}`, each with at most
/// `max_items` items and at most `max_bytes` bytes of JSON (256 KiB when no byte limit is
/// given), and how many items each holds. An item that cannot fit in a batch on its own
/// fails the Map. Batches are made from the items' texts, never parsed.
pub fn batches(
    items: &ItemList,
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    batch_input: Option<&Value>,
) -> Result<(ItemList, Vec<usize>), StatesError> {
    let max_items = max_items.filter(|m| *m > 0).map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
    let max_bytes = max_bytes.filter(|m| *m > 0).unwrap_or(MAX_BATCH_BYTES).min(MAX_BATCH_BYTES) as usize;
    // `{"Items":[` or `{"BatchInput":…,"Items":[`, then the items with commas, then `]}`
    // (as serde_json writes a batch object).
    let head = match batch_input {
        Some(input) => format!("{{\"BatchInput\":{input},\"Items\":["),
        None => "{\"Items\":[".to_owned(),
    };
    let envelope = head.len() + 2;
    let mut out = ItemList::new();
    let mut sizes = Vec::new();
    let mut current = String::new();
    let mut count = 0;
    let mut close = |current: &mut String, count: &mut usize| {
        current.push_str("]}");
        out.push_text(current);
        sizes.push(std::mem::take(count));
        current.clear();
    };
    for (index, item) in items.texts().enumerate() {
        if envelope + item.len() > max_bytes {
            return Err(StatesError::new(
                ErrorName::Runtime,
                format!(
                    "item {index} alone is larger than the batch limit of {max_bytes} bytes (MaxInputBytesPerBatch)"
                ),
            ));
        }
        if count > 0 && (count >= max_items || current.len() + 1 + item.len() + 2 > max_bytes) {
            close(&mut current, &mut count);
        }
        if count == 0 {
            current.push_str(&head);
        } else {
            current.push(',');
        }
        current.push_str(item);
        count += 1;
    }
    if count > 0 {
        close(&mut current, &mut count);
    }
    Ok((out, sizes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(text: &str, delimiter: char, headers: &CsvHeaders) -> Result<Vec<Value>, StatesError> {
        let mut items = ItemList::new();
        csv_items(text, delimiter, headers, &mut items, None)?;
        Ok(items.values())
    }

    #[test]
    fn csv_follows_aws_quoting_rules() {
        let text = "a,b,c\n1,\"x, \"\"y\"\"\nz\",3\n4,5\n\n6,7,8,9\n\\q\\,r,\\\\,s\n";
        let items = csv(text, ',', &CsvHeaders::FirstRow).unwrap();
        assert_eq!(items[0], json!({"a": "1", "b": "x, \"y\"\nz", "c": "3"}));
        assert_eq!(items[1], json!({"a": "4", "b": "5", "c": ""}), "a short row gets empty strings");
        assert_eq!(items[2], json!({"a": "6", "b": "7", "c": "8"}), "extra fields are dropped");
        assert_eq!(items[3], json!({"a": "q,r", "b": "\\", "c": "s"}), "backslash escapes");
        assert_eq!(items.len(), 4, "the empty line is no item");
        let given = csv("1|2\n", '|', &CsvHeaders::Given(vec!["x".into(), "y".into()])).unwrap();
        assert_eq!(given, vec![json!({"x": "1", "y": "2"})]);
        let duplicate = csv("a,a\n1,2\n", ',', &CsvHeaders::FirstRow).unwrap_err();
        assert_eq!(
            duplicate.to_value(),
            json!({"Error": "States.ItemReaderFailed", "Cause": "CSV headers cannot contain duplicates."})
        );
        assert!(csv("a\n\"open\n", ',', &CsvHeaders::FirstRow).is_err());
        let odd = csv("\u{feff}a,b\r1,2\r3,x\\\n4,y\n", ',', &CsvHeaders::FirstRow).unwrap();
        assert_eq!(
            odd,
            vec![json!({"a": "1", "b": "2"}), json!({"a": "3", "b": "x"}), json!({"a": "4", "b": "y"})],
            "a BOM is dropped, a lone CR ends a record, and so does a newline after a backslash"
        );
    }

    #[test]
    fn json_and_json_lines() {
        assert_eq!(json_items("[1, {\"a\": 2}]", None).unwrap().values(), vec![json!(1), json!({"a": 2})]);
        assert_eq!(json_items(r#"{"x": {"y": [3, 4]}}"#, Some("/x/y")).unwrap().values(), vec![json!(3), json!(4)]);
        assert_eq!(json_items(r#"{"a": 1, "b": 2}"#, None).unwrap().values(), vec![json!({"a": 1}), json!({"b": 2})]);
        assert_eq!(
            json_items("3", None).unwrap_err().cause.as_deref(),
            Some("Attempting to map over non-iterable node.")
        );
        assert_eq!(jsonl_items("{\"a\":1}\n\n[2]\n", None).unwrap().values(), vec![json!({"a": 1}), json!([2])]);
        assert!(jsonl_items("{}\nnope\n", None).unwrap_err().cause.unwrap().starts_with("line 2"));
    }

    #[test]
    fn listings_and_limits() {
        let contents = [json!({"ETag": "\"e\"", "Key": "k", "LastModified": "2022-11-17T15:44:41.000Z", "Size": 3})];
        let mut listed = ItemList::new();
        listing_items(&contents, &mut listed);
        assert_eq!(
            listed.values(),
            vec![
                json!({"Etag": "\"e\"", "Key": "k", "LastModified": 1668699881, "Size": 3, "StorageClass": "STANDARD"})
            ]
        );
        let mut three: ItemList = [json!(1), json!({"a": [2]}), json!("3")].iter().collect();
        assert_eq!((three.text(1), three.get(2).unwrap()), ("{\"a\":[2]}", json!("3")));
        let deep = |n: usize| format!("{}\"[{{\"{}", "[".repeat(n), "]".repeat(n));
        for n in [127, 128, 129] {
            let text = deep(n);
            let value: Result<Value, _> = serde_json::from_str(&text);
            let mut list = ItemList::new();
            list.push_text(&text);
            assert_eq!(list.depth(), n, "brackets in strings do not count");
            assert_eq!(list.readable().is_ok(), value.is_ok(), "at depth {n}");
        }
        let digest = three.digest();
        assert_ne!(digest, [json!(12)].iter().collect::<ItemList>().digest());
        assert_ne!(digest, [json!(1), json!({"a": [2]})].iter().collect::<ItemList>().digest());
        three.limit(Some(2));
        assert_eq!(three.digest(), [json!(1), json!({"a": [2]})].iter().collect::<ItemList>().digest());
        assert_eq!(three.values(), vec![json!(1), json!({"a": [2]})]);
        let mut rows = ItemList::new();
        csv_items("a\n1\n2\n3\n", ',', &CsvHeaders::FirstRow, &mut rows, Some(2)).unwrap();
        assert_eq!(rows.values(), vec![json!({"a": "1"}), json!({"a": "2"})], "reading stops at MaxItems");
        assert_eq!(jsonl_items("1\n2\n3\n", Some(1)).unwrap().values(), vec![json!(1)]);
    }

    fn batch_values(made: &ItemList) -> Vec<Value> {
        made.values()
    }

    #[test]
    fn batches_by_count_and_by_bytes() {
        let items: ItemList = (0..1130).map(|i| json!(i)).collect::<Vec<_>>().iter().collect();
        let (made, sizes) = batches(&items, Some(100), None, None).unwrap();
        assert_eq!(made.len(), 12, "11 × 100 + 30");
        assert_eq!((sizes[0], sizes[11]), (100, 30));
        assert_eq!(batch_values(&made)[11]["Items"].as_array().unwrap().len(), 30);
        let ab: ItemList = [json!("a"), json!({"b": [1]})].iter().collect();
        let (with_input, _) = batches(&ab, Some(10), None, Some(&json!({"k": 1}))).unwrap();
        assert_eq!(batch_values(&with_input), vec![json!({"BatchInput": {"k": 1}, "Items": ["a", {"b": [1]}]})]);
        assert_eq!(
            with_input.text(0),
            json!({"BatchInput": {"k": 1}, "Items": ["a", {"b": [1]}]}).to_string(),
            "a batch's text is what serializing it gives"
        );
        // 10-byte strings ("xxxxxxxx" with quotes): {"Items":[…]} is 12 bytes, each item 10 (+1 comma).
        let small: ItemList = (0..5).map(|_| json!("xxxxxxxx")).collect::<Vec<_>>().iter().collect();
        let (by_bytes, sizes) = batches(&small, None, Some(12 + 10 + 11), None).unwrap();
        assert_eq!(sizes, [2, 2, 1]);
        for batch in by_bytes.texts() {
            assert!(batch.len() <= 33, "{batch}");
        }
        let big: ItemList = [json!("x".repeat(100))].iter().collect();
        assert!(batches(&big, None, Some(50), None).is_err());
    }

    #[test]
    fn inventory_manifests() {
        let manifest = r#"{"sourceBucket":"src","destinationBucket":"arn:aws:s3:::inv","fileFormat":"CSV",
            "fileSchema":"Bucket, Key, Size, LastModifiedDate","files":[{"key":"data/a.csv.gz","size":1}]}"#;
        let (bucket, keys, schema) = inventory_files(manifest).unwrap();
        assert_eq!((bucket.as_str(), keys, schema.len()), ("inv", vec!["data/a.csv.gz".to_owned()], 4));
    }
}
