//! Test files (`*.sfntest.yaml`, `*.sfntest.yml`, `*.sfntest.json`): what a file and its
//! cases say, read into types once, with every problem reported as `file: /json/pointer:
//! message` (a broken test file is exit 2, never a failed case).
//!
//! ```yaml
//! definition: ../definitions/athena.asl.json   # relative to this file
//! substitutions: { BUCKET: reports }           # ${BUCKET} in the definition
//! stateMachineName: athena                     # default: the definition's file stem
//! mockConfig: ../definitions/athena.mock.json  # a Step Functions Local MockConfigFile, unchanged
//! clock: { start: "2026-01-01T00:00:00Z" }     # the virtual clock's start
//! cases:
//!   - name: happy path
//!     input: { query: "SELECT 1" }              # or inputFile: input.json
//!     testCase: HappyPath                       # a test case of the MockConfigFile
//!     mocks:                                    # inline, MockedResponses' schema, per state
//!       Notify: { "0": { Return: { StatusCode: 200 } } }
//!     expect: { status: SUCCEEDED, path: [Start, Query, Notify] }
//! ```

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::expect::Expect;
use super::single::{self, SingleState};

/// A test file, read.
#[derive(Debug)]
pub(crate) struct TestFile {
    /// As given or found (for reports).
    pub(crate) path: PathBuf,
    /// The definition's file.
    pub(crate) definition: PathBuf,
    /// `KEY=VALUE` substitutions.
    pub(crate) substitutions: Vec<String>,
    /// Names the state machine in ARNs and in the MockConfigFile.
    pub(crate) state_machine_name: String,
    /// The MockConfigFile, read.
    pub(crate) mock_config: Option<(PathBuf, Value)>,
    /// The virtual clock's start (epoch milliseconds).
    pub(crate) clock_start: i64,
    /// Local handlers of Lambda functions for this file's cases (name → handler spec,
    /// paths relative to the file), over the config's.
    pub(crate) handlers: Vec<(String, String)>,
    /// The file's folder.
    pub(crate) dir: PathBuf,
    /// The names of the definition's states (nested ones too), read when it is prepared.
    pub(crate) state_names: std::collections::BTreeSet<String>,
    pub(crate) cases: Vec<Case>,
}

/// One case of a file.
#[derive(Debug)]
pub(crate) struct Case {
    pub(crate) name: String,
    /// Its place in the file (for the pointer in messages).
    pub(crate) index: usize,
    pub(crate) input: Value,
    /// A test case of the file's MockConfigFile.
    pub(crate) test_case: Option<String>,
    /// Inline mocks: state name → MockedResponses entries.
    pub(crate) mocks: Map<String, Value>,
    /// The execution's seed (default: derived from the file and the case's name).
    pub(crate) seed: u64,
    pub(crate) expect: Expect,
    /// A single-state case (TestState), when it names a `stateName`.
    pub(crate) single: Option<SingleState>,
    /// The execution's name (default: made of the case's name).
    pub(crate) execution_name: Option<String>,
}

/// A broken test file: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broken {
    pub(crate) file: PathBuf,
    pub(crate) message: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// Whether `path` names a test file.
pub(crate) fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    [".sfntest.yaml", ".sfntest.yml", ".sfntest.json"].iter().any(|suffix| name.ends_with(suffix))
}

/// A file's text as JSON (YAML is read as YAML, whatever else as JSON).
fn parse_text(path: &Path, text: &str) -> Result<Value, String> {
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if yaml {
        let located = |e: serde_norway::Error| match e.location() {
            Some(at) => format!("line {}, column {}: not valid YAML: {e}", at.line(), at.column()),
            None => format!("not valid YAML: {e}"),
        };
        // YAML's own value first: merge keys (`<<: *base`) apply, duplicate keys are refused.
        let mut value = serde_norway::from_str::<serde_norway::Value>(text).map_err(located)?;
        value.apply_merge().map_err(located)?;
        serde_json::to_value(&value).map_err(|e| format!("not a JSON document: {e} (keys must be strings or numbers)"))
    } else {
        serde_json::from_str::<Value>(text)
            .map_err(|e| format!("line {}, column {}: not valid JSON: {}", e.line(), e.column(), strip_position(&e)))
    }
}

/// serde_json's message without the position it appends (given apart).
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Keys a level accepts (others are refused, so a typo never passes silently).
fn only(object: &Map<String, Value>, at: &str, known: &[&str]) -> Result<(), String> {
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(unknown) => Err(format!("{at}/{unknown}: unknown field (expected one of: {})", known.join(", "))),
        None => Ok(()),
    }
}

fn text_field(object: &Map<String, Value>, at: &str, name: &str) -> Result<Option<String>, String> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(format!("{at}/{name}: expected a string, found {}", kind(other))),
    }
}

/// A JSON value's kind, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a test file.
pub(crate) fn read(path: &Path) -> Result<TestFile, Broken> {
    let broken = |message: String| Broken { file: path.to_owned(), message };
    let text = std::fs::read_to_string(path).map_err(|e| broken(format!("cannot read it: {e}")))?;
    let value = parse_text(path, &text).map_err(broken)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let root =
        value.as_object().ok_or_else(|| broken(format!("expected an object at the top, found {}", kind(&value))))?;
    // Top-level `x-…` keys hold YAML anchors for the cases (`x-mocks: &approved …`).
    let fields: serde_json::Map<String, Value> =
        root.iter().filter(|(k, _)| !k.starts_with("x-")).map(|(k, v)| (k.clone(), v.clone())).collect();
    only(&fields, "", &["definition", "substitutions", "stateMachineName", "mockConfig", "clock", "handlers", "cases"])
        .map_err(broken)?;
    let handlers = match root.get("handlers") {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, spec)| match spec {
                Value::String(spec) => Ok((name.clone(), spec.clone())),
                other => Err(broken(format!(
                    "/handlers/{name}: expected a handler such as \"python:lambdas/f.py:handler\", found {}",
                    kind(other)
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(broken(format!(
                "/handlers: expected an object of function name → handler, found {}",
                kind(other)
            )));
        }
    };
    let definition = text_field(root, "", "definition").map_err(broken)?.ok_or_else(|| {
        broken("/definition: missing (the state machine definition's file, relative to this file)".into())
    })?;
    let definition = dir.join(definition);
    if !definition.is_file() {
        return Err(broken(format!("/definition: {} is not a file", definition.display())));
    }
    let substitutions = match root.get("substitutions") {
        None => Vec::new(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(text) => Ok(format!("{k}={text}")),
                Value::Number(_) | Value::Bool(_) => Ok(format!("{k}={v}")),
                other => Err(broken(format!("/substitutions/{k}: expected a string, found {}", kind(other)))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(broken(format!("/substitutions: expected an object, found {}", kind(other)))),
    };
    let state_machine_name = match text_field(root, "", "stateMachineName").map_err(broken)? {
        Some(name) => name,
        None => {
            let file = definition.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            file.strip_suffix(".asl.json").or_else(|| file.strip_suffix(".json")).unwrap_or(&file).to_owned()
        }
    };
    let mock_config = match text_field(root, "", "mockConfig").map_err(broken)? {
        None => None,
        Some(file) => {
            let file = dir.join(file);
            let text = std::fs::read_to_string(&file)
                .map_err(|e| broken(format!("/mockConfig: cannot read {}: {e}", file.display())))?;
            let config: Value = serde_json::from_str(&text).map_err(|e| {
                broken(format!(
                    "/mockConfig: {}: line {}, column {}: not valid JSON",
                    file.display(),
                    e.line(),
                    e.column()
                ))
            })?;
            Some((file, config))
        }
    };
    let clock_start = match root.get("clock") {
        None => DEFAULT_START,
        Some(Value::Object(clock)) => {
            only(clock, "/clock", &["start"]).map_err(broken)?;
            match text_field(clock, "/clock", "start").map_err(broken)? {
                None => DEFAULT_START,
                Some(text) => {
                    sfnlite_states::timestamp::parse_iso8601(&text).map(|nanos| (nanos / 1_000_000) as i64).ok_or_else(
                        || broken(format!("/clock/start: '{text}' is not an ISO 8601 time (2026-01-01T00:00:00Z)")),
                    )?
                }
            }
        }
        Some(other) => return Err(broken(format!("/clock: expected an object, found {}", kind(other)))),
    };
    let cases = match root.get("cases") {
        Some(Value::Array(cases)) if !cases.is_empty() => cases,
        Some(Value::Array(_)) => return Err(broken("/cases: no case".into())),
        Some(other) => return Err(broken(format!("/cases: expected an array, found {}", kind(other)))),
        None => return Err(broken("/cases: missing (the list of cases)".into())),
    };
    let mut read_cases = Vec::with_capacity(cases.len());
    for (index, case) in cases.iter().enumerate() {
        let case = read_case(path, &dir, index, case, mock_config.as_ref()).map_err(broken)?;
        if read_cases.iter().any(|c: &Case| c.name == case.name) {
            return Err(broken(format!("/cases/{index}/name: '{}' names another case too", case.name)));
        }
        read_cases.push(case);
    }
    Ok(TestFile {
        path: path.to_owned(),
        definition,
        substitutions,
        state_machine_name,
        mock_config,
        clock_start,
        handlers,
        dir,
        state_names: Default::default(),
        cases: read_cases,
    })
}

/// The virtual clock's default start: 2026-01-01T00:00:00Z (fixed, so reports repeat).
const DEFAULT_START: i64 = 1_767_225_600_000;

fn read_case(
    file: &Path,
    dir: &Path,
    index: usize,
    case: &Value,
    mock_config: Option<&(PathBuf, Value)>,
) -> Result<Case, String> {
    let at = format!("/cases/{index}");
    let object = case.as_object().ok_or_else(|| format!("{at}: expected an object, found {}", kind(case)))?;
    let single = if object.contains_key("stateName") { Some(single::read(object, &at)?) } else { None };
    if single.is_none() {
        only(
            object,
            &at,
            &["name", "input", "inputFile", "testCase", "mocks", "seed", "executionName", "expect", "stateName"],
        )?;
    }
    let name = text_field(object, &at, "name")?.ok_or_else(|| format!("{at}/name: missing"))?;
    let input = match (object.get("input"), text_field(object, &at, "inputFile")?) {
        (Some(_), Some(_)) => return Err(format!("{at}: give input or inputFile, not both")),
        (Some(input), None) => input.clone(),
        (None, Some(path)) => {
            let path = dir.join(path);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("{at}/inputFile: cannot read {}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| {
                format!("{at}/inputFile: {}: line {}, column {}: not valid JSON", path.display(), e.line(), e.column())
            })?
        }
        (None, None) => Value::Object(Map::new()),
    };
    let test_case = text_field(object, &at, "testCase")?;
    if test_case.is_some() && mock_config.is_none() {
        return Err(format!("{at}/testCase: the file names no mockConfig to take it from"));
    }
    let mocks = match object.get("mocks") {
        None => Map::new(),
        Some(Value::Object(mocks)) => mocks.clone(),
        Some(other) => {
            return Err(format!("{at}/mocks: expected an object of state name → responses, found {}", kind(other)));
        }
    };
    let seed = match object.get("seed") {
        None => derived_seed(&format!("{}#{name}", file.display())),
        Some(value) => value.as_u64().ok_or_else(|| format!("{at}/seed: expected a non-negative integer"))?,
    };
    let expect = match (object.get("expect"), &single) {
        (_, Some(_)) => Expect::default(),
        (Some(expect), None) => Expect::read(expect, &format!("{at}/expect"))?,
        (None, None) => return Err(format!("{at}/expect: missing (what the case checks)")),
    };
    let execution_name = text_field(object, &at, "executionName")?;
    Ok(Case { name, index, input, test_case, mocks, seed, expect, single, execution_name })
}

/// A seed from a name (FNV-1a): the same case runs the same way every time.
fn derived_seed(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The test files under `paths` (files as given; folders searched), sorted; the default
/// folders are `tests/` and `definitions/`.
pub(crate) fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let defaults = [PathBuf::from("tests"), PathBuf::from("definitions")];
    let given = !paths.is_empty();
    let roots: Vec<&PathBuf> =
        if given { paths.iter().collect() } else { defaults.iter().filter(|p| p.is_dir()).collect() };
    let mut found = Vec::new();
    for root in roots {
        if root.is_file() {
            found.push(root.clone());
        } else if root.is_dir() {
            walk(root, &mut found);
        } else {
            return Err(format!("{}: no such file or folder", root.display()));
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.is_dir() && !name.starts_with('.') && name != "target" && name != "node_modules" {
            walk(&path, found);
        } else if is_test_file(&path) {
            found.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn files_are_read_with_their_problems_located() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "m.asl.json", r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#);
        let good = write(
            dir.path(),
            "good.sfntest.yaml",
            "definition: m.asl.json\ncases:\n  - name: one\n    input: {a: 1}\n    expect: {status: SUCCEEDED}\n",
        );
        let file = read(&good).unwrap();
        assert_eq!((file.state_machine_name.as_str(), file.cases[0].input.clone()), ("m", serde_json::json!({"a": 1})));
        assert_eq!(file.clock_start, DEFAULT_START);
        let problem = |text: &str| read(&write(dir.path(), "bad.sfntest.yaml", text)).unwrap_err().message;
        assert_eq!(
            problem("definition: m.asl.json\ncases:\n  - name: one\n    expect: {stauts: SUCCEEDED}\n"),
            "/cases/0/expect/stauts: unknown field (expected one of: status, output, outputContains, outputPaths, error, cause, causeContains, path, states, events, elapsed, snapshot)"
        );
        assert!(problem("definition: m.asl.json\ncases: [\n").starts_with("line "), "YAML errors have a line");
        assert_eq!(
            problem("definition: nope.json\ncases: []\n"),
            format!("/definition: {} is not a file", dir.path().join("nope.json").display())
        );
        assert_eq!(
            problem(
                "definition: m.asl.json\ncases:\n  - {name: a, expect: {status: FAILED}}\n  - {name: a, expect: {status: FAILED}}\n"
            ),
            "/cases/1/name: 'a' names another case too"
        );
        assert_eq!(
            problem("definition: m.asl.json\ncases:\n  - {name: a, expect: {}}\n"),
            "/cases/0/expect: checks nothing (give a status, an output, a path…)"
        );
        assert!(
            problem("definition: m.asl.json\ncases:\n  - {name: a, name: b, expect: {status: FAILED}}\n")
                .contains("duplicate entry with key \"name\""),
            "duplicate keys are refused"
        );
        let merged = write(
            dir.path(),
            "merged.sfntest.yaml",
            "definition: m.asl.json\nx-base: &base {a: 1}\ncases:\n  - {name: one, input: {<<: *base, b: 2}, expect: {status: SUCCEEDED}}\n",
        );
        assert_eq!(
            read(&merged).unwrap().cases[0].input,
            serde_json::json!({"a": 1, "b": 2}),
            "merge keys and x- anchors"
        );
        assert_eq!(
            problem("definition: m.asl.json\ncases:\n  - {name: a, testCase: T, expect: {status: FAILED}}\n"),
            "/cases/0/testCase: the file names no mockConfig to take it from"
        );
    }

    #[test]
    fn test_files_are_found_under_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/.hidden")).unwrap();
        write(&dir.path().join("a"), "x.sfntest.json", "{}");
        write(&dir.path().join("a/.hidden"), "y.sfntest.yaml", "");
        write(&dir.path().join("a"), "z.json", "");
        let found = discover(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(found, [dir.path().join("a/x.sfntest.json")]);
        assert!(discover(&[dir.path().join("missing")]).is_err());
    }
}
