//! The console: HTML pages that show executions and state machines in a browser, served
//! by `sfnlite serve` and written to a file by `sfnlite history EXEC --format html`.
//!
//! A page is one self-contained document: the style and script (`assets/console/`,
//! embedded in the binary), the page's data as JSON in `<script id="sfnlite-data">`, and
//! the definition's graph as SVG (drawn by `sfnlite_states::graph`, the same drawing as
//! `sfnlite graph --format svg`). The script builds everything else; in a served page
//! (`"mode": "live"`) it also polls the Step Functions API and can stop or redrive.
//! Nothing is fetched from anywhere else, so a page works offline and from disk.

mod routes;

use serde_json::{Value, json};
use sfnlite_states::graph::{graph, to_svg, xml_escape};

pub(crate) use routes::{answer, is_console_request};

const SCRIPT: &str = include_str!("../../assets/console/console.js");
const STYLE: &str = include_str!("../../assets/console/console.css");

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// One execution: graph, timeline, events.
    Execution,
    /// Every execution and state machine.
    Executions,
    /// The same, state machines first.
    StateMachines,
    /// One state machine: graph, definition, executions.
    StateMachine,
}

impl Page {
    fn as_str(self) -> &'static str {
        match self {
            Page::Execution => "execution",
            Page::Executions => "executions",
            Page::StateMachines => "state-machines",
            Page::StateMachine => "state-machine",
        }
    }
}

/// Whether a page is a file or served (and live: its script polls and acts through the
/// API at `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A file: the data is all there is.
    File,
    /// Served by `sfnlite serve`.
    Live,
}

/// The data of an execution page (see ARCHITECTURE.md, "Console"): DescribeExecution's
/// output, the definition, the events in GetExecutionHistory's shape, and the clock.
pub fn execution_data(
    mode: Mode,
    execution: Value,
    definition: Value,
    events: Vec<Value>,
    virtual_clock: bool,
) -> Value {
    let mut data = json!({
        "mode": mode_name(mode),
        "execution": execution,
        "clock": if virtual_clock { "virtual" } else { "real" },
        "definition": definition,
        "events": events,
    });
    if mode == Mode::Live {
        data["api"] = json!("/");
    }
    data
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::File => "file",
        Mode::Live => "live",
    }
}

/// A whole page. `data["definition"]`, when it is an object, is drawn as the graph.
pub fn page(page: Page, title: &str, mut data: Value) -> String {
    data["page"] = json!(page.as_str());
    let svg = data.get("definition").filter(|d| d.is_object()).map(|d| to_svg(&graph(d))).unwrap_or_default();
    let json = script_safe(&data.to_string());
    let mut out = String::with_capacity(SCRIPT.len() + STYLE.len() + json.len() + svg.len() + 1024);
    out.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<link rel=\"icon\" href=\"data:,\">");
    // A saved page holds its own policy (a served one also gets the header): inline code
    // only, and no network but the server that served it.
    let connect = if data.get("mode").and_then(Value::as_str) == Some("live") { "'self'" } else { "'none'" };
    out.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src {connect}; base-uri 'none'; form-action 'none'\">"
    ));
    out.push_str("<title>");
    out.push_str(&xml_escape(title));
    out.push_str(" · sfnlite</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body data-page=\"");
    out.push_str(page.as_str());
    out.push_str("\"><script id=\"sfnlite-data\" type=\"application/json\">");
    out.push_str(&json);
    out.push_str("</script><div id=\"graph-source\" hidden>");
    out.push_str(&svg);
    out.push_str(
        "</div><noscript><p>This page needs JavaScript; its data is in the <code>sfnlite-data</code> element.</p></noscript><script>",
    );
    out.push_str(SCRIPT);
    out.push_str("</script></body></html>\n");
    out
}

/// JSON that can sit inside a `<script>` element: no `</` (which could end it) and no
/// `<!--`; the escapes read back as the same JSON.
fn script_safe(json: &str) -> String {
    json.replace("</", "<\\/").replace("<!--", "<\\u0021--")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_its_data_its_graph_and_its_assets() {
        let definition =
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "</script><!--<script>", "End": true}}});
        let data =
            execution_data(Mode::File, json!({"name": "run-1", "status": "SUCCEEDED"}), definition, vec![], true);
        let html = page(Page::Execution, "run-1 <x>", data);
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("<title>run-1 &lt;x&gt; · sfnlite</title>"));
        assert!(html.contains(r#"<body data-page="execution">"#));
        assert!(html.contains(r#"class="sfn-state""#) && html.contains(r#"data-pointer="/States/A""#));
        let start = html.find(r#"type="application/json">"#).unwrap() + r#"type="application/json">"#.len();
        let end = start + html[start..].find("</script>").unwrap();
        // The data cannot end its element early, and reads back unchanged.
        let back: Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(back["definition"]["States"]["A"]["Result"], "</script><!--<script>");
        assert_eq!(back["page"], "execution");
        assert_eq!(back["clock"], "virtual");
        assert_eq!(back["mode"], "file");
        assert!(back.get("api").is_none());
        assert!(html.contains(STYLE) && html.contains(SCRIPT));
    }
}
