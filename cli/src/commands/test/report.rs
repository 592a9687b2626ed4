//! The reports of a test run: for people (one line per failure, then a summary), as JSON,
//! and as JUnit XML (one `<testsuite>` per file, one `<testcase>` per case, the
//! mismatches in the failure's message and text).

use std::fmt::Write;

use serde_json::{Value, json};

use super::file::Broken;
use super::run::{CaseResult, Verdict};

/// Counts of a run.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) errors: usize,
}

pub(crate) fn totals(results: &[CaseResult]) -> Totals {
    let mut totals = Totals::default();
    for result in results {
        match result.verdict {
            Verdict::Passed => totals.passed += 1,
            Verdict::Failed(_) => totals.failed += 1,
            Verdict::Error(_) => totals.errors += 1,
        }
    }
    totals
}

/// The people's report: a line per broken file and per mismatch, then the summary.
pub(crate) fn text(results: &[CaseResult], broken: &[Broken], files: usize, verbose: bool) -> String {
    let mut out = String::new();
    for problem in broken {
        let _ = writeln!(out, "BROKEN {problem}");
    }
    for result in results {
        let title = format!("{} › {}", result.file.display(), result.name);
        match &result.verdict {
            Verdict::Passed if verbose => {
                let _ = writeln!(out, "ok     {title} ({:.0} ms)", result.millis);
            }
            Verdict::Passed => {}
            Verdict::Failed(mismatches) => {
                for mismatch in mismatches {
                    let _ = writeln!(out, "FAIL   {title}: {mismatch}");
                }
            }
            Verdict::Error(error) => {
                let _ = writeln!(out, "ERROR  {title}: {error}");
            }
        }
    }
    let t = totals(results);
    let _ = write!(out, "{} passed, {} failed", t.passed, t.failed);
    if t.errors > 0 {
        let _ = write!(out, ", {} error(s)", t.errors);
    }
    if !broken.is_empty() {
        let _ = write!(out, ", {} broken file(s)", broken.len());
    }
    let _ = writeln!(out, " ({files} file(s))");
    out
}

/// The JSON report.
pub(crate) fn json(results: &[CaseResult], broken: &[Broken]) -> Value {
    let t = totals(results);
    let cases: Vec<Value> = results
        .iter()
        .map(|r| {
            let (status, mismatches, error) = match &r.verdict {
                Verdict::Passed => ("passed", Vec::new(), None),
                Verdict::Failed(m) => (
                    "failed",
                    m.iter().map(|m| json!({"what": m.what, "expected": m.expected, "actual": m.actual})).collect(),
                    None,
                ),
                Verdict::Error(e) => ("error", Vec::new(), Some(e.clone())),
            };
            let mut case = json!({"file": r.file.display().to_string(), "name": r.name, "status": status,
                "millis": (r.millis * 10.0).round() / 10.0});
            if !mismatches.is_empty() {
                case["mismatches"] = Value::Array(mismatches);
            }
            if let Some(error) = error {
                case["error"] = json!(error);
            }
            case
        })
        .collect();
    json!({
        "passed": t.passed, "failed": t.failed, "errors": t.errors,
        "broken": broken.iter().map(|b| json!({"file": b.file.display().to_string(), "message": b.message})).collect::<Vec<_>>(),
        "cases": cases,
    })
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no place for other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML report: a suite per test file (a broken file is a suite with one error).
pub(crate) fn junit(results: &[CaseResult], broken: &[Broken]) -> String {
    let t = totals(results);
    let total_seconds: f64 = results.iter().map(|r| r.millis).sum::<f64>() / 1000.0;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"sfnlite test\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{total_seconds:.3}\">",
        results.len() + broken.len(),
        t.failed,
        t.errors + broken.len()
    );
    let mut files: Vec<&std::path::Path> = results.iter().map(|r| r.file.as_path()).collect();
    files.dedup();
    for file in files {
        let cases: Vec<&CaseResult> = results.iter().filter(|r| r.file == file).collect();
        let failed = cases.iter().filter(|c| matches!(c.verdict, Verdict::Failed(_))).count();
        let errors = cases.iter().filter(|c| matches!(c.verdict, Verdict::Error(_))).count();
        let seconds: f64 = cases.iter().map(|c| c.millis).sum::<f64>() / 1000.0;
        let name = xml_escape(&file.display().to_string());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failed}\" errors=\"{errors}\" time=\"{seconds:.3}\">",
            cases.len()
        );
        for case in cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{name}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&case.name),
                case.millis / 1000.0
            );
            match &case.verdict {
                Verdict::Passed => out.push_str("/>\n"),
                Verdict::Failed(mismatches) => {
                    let first = mismatches.first().map(ToString::to_string).unwrap_or_default();
                    let all: Vec<String> = mismatches.iter().map(ToString::to_string).collect();
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{}\" type=\"mismatch\">{}</failure>\n    </testcase>",
                        xml_escape(&first),
                        xml_escape(&all.join("\n"))
                    );
                }
                Verdict::Error(error) => {
                    let _ = writeln!(
                        out,
                        ">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
                        xml_escape(error),
                        xml_escape(error)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    for problem in broken {
        let name = xml_escape(&problem.file.display().to_string());
        let _ = writeln!(
            out,
            "  <testsuite name=\"{name}\" tests=\"1\" failures=\"0\" errors=\"1\" time=\"0\">\n    <testcase classname=\"{name}\" name=\"(the file)\" time=\"0\">\n      <error message=\"{}\" type=\"broken\">{}</error>\n    </testcase>\n  </testsuite>",
            xml_escape(&problem.message),
            xml_escape(&problem.message)
        );
    }
    out.push_str("</testsuites>\n");
    out
}

/// `--html DIR`: one page per failing case that ran (its execution's graph, timeline and
/// events, as `history --format html` draws them), named after its file and case. Returns
/// how many were written.
pub(crate) fn html_pages(
    dir: &std::path::Path,
    results: &[CaseResult],
    prepared: &[super::run::Prepared],
    store: &dyn sfnlite_engine::HistoryStore,
) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut used = std::collections::HashSet::new();
    let mut written = 0;
    for result in results.iter().filter(|r| !matches!(r.verdict, Verdict::Passed)) {
        let Some(record) = result.arn.as_deref().and_then(|arn| store.execution(arn).ok().flatten()) else { continue };
        let definition = prepared.iter().find(|p| p.file.path == result.file).map(|p| p.text.as_str());
        let stem = result.file.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = stem.split(".sfntest.").next().unwrap_or(&stem).to_owned();
        let safe: String = format!("{stem}--{}", result.name)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
            .take(150)
            .collect();
        let mut name = format!("{safe}.html");
        let mut n = 1;
        while !used.insert(name.clone()) {
            n += 1;
            name = format!("{safe}-{n}.html");
        }
        std::fs::write(dir.join(&name), crate::commands::inspect::execution_page(&record, &result.events, definition))?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::commands::test::expect::Mismatch;

    fn results() -> Vec<CaseResult> {
        vec![
            CaseResult {
                file: PathBuf::from("a.sfntest.yaml"),
                name: "ok".into(),
                verdict: Verdict::Passed,
                millis: 1.0,
                events: Vec::new(),
                arn: None,
            },
            CaseResult {
                file: PathBuf::from("a.sfntest.yaml"),
                name: "bad <one>".into(),
                verdict: Verdict::Failed(vec![Mismatch {
                    what: "status".into(),
                    expected: "FAILED".into(),
                    actual: "SUCCEEDED".into(),
                }]),
                millis: 2.0,
                events: Vec::new(),
                arn: None,
            },
        ]
    }

    #[test]
    fn reports_say_what_failed() {
        let text = text(&results(), &[], 1, false);
        assert_eq!(
            text,
            "FAIL   a.sfntest.yaml › bad <one>: status: expected FAILED, got SUCCEEDED\n1 passed, 1 failed (1 file(s))\n"
        );
        let xml =
            junit(&results(), &[Broken { file: PathBuf::from("b.sfntest.yaml"), message: "/cases: missing".into() }]);
        assert!(
            xml.contains("<testcase classname=\"a.sfntest.yaml\" name=\"bad &lt;one&gt;\" time=\"0.002\">"),
            "{xml}"
        );
        assert!(xml.contains("<failure message=\"status: expected FAILED, got SUCCEEDED\""), "{xml}");
        assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{xml}");
        let report = json(&results(), &[]);
        assert_eq!(report["cases"][1]["mismatches"][0]["actual"], "SUCCEEDED");
    }
}
