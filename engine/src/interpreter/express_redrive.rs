//! What a failed Map Run of EXPRESS children keeps for its redrive. EXPRESS children are
//! not kept (as on AWS), yet a redrive runs again only the children that did not succeed
//! (AWS restarts failed EXPRESS children with StartExecution). So when such a Map Run
//! fails, the Map Run's items document records which children succeeded (as index
//! ranges), their outputs when the Map's output is made of them, and the SUCCEEDED files
//! its ResultWriter wrote; a redrive takes those children as succeeded, and its SUCCEEDED
//! files come after the kept ones (SUCCEEDED covers every attempt, as on AWS).

use std::collections::HashMap;

use serde_json::{Value, json};
use sfnlite_states::eval::result_writer::ResultFile;

/// The children an earlier attempt of a Map Run saw succeed.
#[derive(Debug, Default)]
pub(super) struct Earlier {
    succeeded: Vec<bool>,
    outputs: HashMap<usize, Value>,
    /// The SUCCEEDED files it wrote.
    pub(super) files: Vec<ResultFile>,
}

impl Earlier {
    /// What the items document records (nothing when it records no failed attempt).
    pub(super) fn read(document: Option<&Value>, total: usize) -> Earlier {
        let Some(document) = document else { return Earlier::default() };
        let mut succeeded = vec![false; total];
        for range in document["succeeded"].as_array().into_iter().flatten() {
            let (start, end) = (range[0].as_u64().unwrap_or(0) as usize, range[1].as_u64().unwrap_or(0) as usize);
            for flag in succeeded.iter_mut().take(end.min(total)).skip(start) {
                *flag = true;
            }
        }
        let outputs = document["outputs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|pair| Some((pair[0].as_u64()? as usize, pair[1].clone())))
            .collect();
        let files = document["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| {
                Some(ResultFile { status: "SUCCEEDED", key: f["Key"].as_str()?.to_owned(), size: f["Size"].as_u64()? })
            })
            .collect();
        Earlier { succeeded, outputs, files }
    }

    /// The output of child `index` when it succeeded earlier (null when not kept).
    pub(super) fn output(&self, index: usize) -> Option<Value> {
        self.succeeded
            .get(index)
            .copied()
            .unwrap_or(false)
            .then(|| self.outputs.get(&index).cloned().unwrap_or_default())
    }
}

/// The items document of a Map Run that failed: `base` (`{items, digest}`) with the
/// children that succeeded, their outputs (`output(i)`, when kept) and SUCCEEDED files.
pub(super) fn failed_attempt(
    mut base: Value,
    succeeded: &[bool],
    output: impl Fn(usize) -> Option<Value>,
    files: &[ResultFile],
) -> Value {
    let mut ranges = Vec::new();
    let mut start = None;
    for (index, ok) in succeeded.iter().chain([&false]).enumerate() {
        match (ok, start) {
            (true, None) => start = Some(index),
            (false, Some(from)) => {
                ranges.push(json!([from, index]));
                start = None;
            }
            _ => {}
        }
    }
    let outputs: Vec<Value> = (0..succeeded.len())
        .filter(|i| succeeded[*i])
        .filter_map(|i| output(i).map(|value| json!([i, value])))
        .collect();
    base["succeeded"] = Value::Array(ranges);
    base["outputs"] = Value::Array(outputs);
    base["files"] = files.iter().map(|f| json!({"Key": f.key, "Size": f.size})).collect();
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_attempt_is_read_back() {
        let succeeded = [true, true, false, true, false];
        let files = [ResultFile { status: "SUCCEEDED", key: "p/SUCCEEDED_0.json".into(), size: 9 }];
        let document = failed_attempt(json!({"items": 5}), &succeeded, |i| (i != 1).then(|| json!(i * 10)), &files);
        assert_eq!(document["succeeded"], json!([[0, 2], [3, 4]]));
        let earlier = Earlier::read(Some(&document), 5);
        assert_eq!(
            (0..5).map(|i| earlier.output(i)).collect::<Vec<_>>(),
            [Some(json!(0)), Some(Value::Null), None, Some(json!(30)), None]
        );
        assert_eq!(earlier.files, files);
        assert_eq!(Earlier::read(None, 5).output(0), None);
        assert_eq!(Earlier::read(Some(&json!({"items": 5})), 5).output(0), None, "no failed attempt recorded");
    }
}
