//! Definition problems, reported all at once with AWS's diagnostic codes and a location
//! (a JSON-pointer-like path into the definition, such as `/States/Poll/Choices/0`).

use std::fmt;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The definition cannot run.
    Error,
    /// The definition runs, but probably not as intended.
    Warning,
}

/// The AWS `ValidateStateMachineDefinition` diagnostic codes sfnlite reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiagnosticCode {
    /// The text is not JSON.
    InvalidJsonDescription,
    /// A field is missing, unknown, of the wrong type or out of range.
    SchemaValidationFailed,
    /// No state can end the execution.
    MissingEndState,
    /// A `Next`, `Default`, `StartAt` or Catcher names a state that does not exist.
    MissingTransitionTarget,
    /// Two states have the same name.
    DuplicateStateName,
    /// A `Resource` is not a valid ARN.
    InvalidResource,
    /// A JSONPath is malformed.
    InvalidJsonPath,
    /// An intrinsic function call is malformed.
    InvalidIntrinsicFunction,
    /// A state can never be reached from `StartAt`.
    UnreachableState,
    /// A state has no path to a terminal state.
    NoPathToTerminalState,
    /// A string value that looks like a path is in a field whose name lacks `.$`.
    NoDollar,
    /// A field name ends in `.$` but its value is not a path or intrinsic.
    NoPath,
    /// `Result` in a Pass state without `Parameters` is static.
    PassResultIsStatic,
}

impl DiagnosticCode {
    /// The code as AWS spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticCode::InvalidJsonDescription => "INVALID_JSON_DESCRIPTION",
            DiagnosticCode::SchemaValidationFailed => "SCHEMA_VALIDATION_FAILED",
            DiagnosticCode::MissingEndState => "MISSING_END_STATE",
            DiagnosticCode::MissingTransitionTarget => "MISSING_TRANSITION_TARGET",
            DiagnosticCode::DuplicateStateName => "DUPLICATE_STATE_NAME",
            DiagnosticCode::InvalidResource => "INVALID_RESOURCE",
            DiagnosticCode::InvalidJsonPath => "INVALID_JSON_PATH",
            DiagnosticCode::InvalidIntrinsicFunction => "INVALID_INTRINSIC_FUNCTION",
            DiagnosticCode::UnreachableState => "UNREACHABLE_STATE",
            DiagnosticCode::NoPathToTerminalState => "NO_PATH_TO_TERMINAL_STATE",
            DiagnosticCode::NoDollar => "NO_DOLLAR",
            DiagnosticCode::NoPath => "NO_PATH",
            DiagnosticCode::PassResultIsStatic => "PASS_RESULT_IS_STATIC",
        }
    }
}

impl fmt::Display for DiagnosticCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding about a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The AWS code.
    pub code: DiagnosticCode,
    /// What is wrong, in a sentence.
    pub message: String,
    /// Where: `/States/Name/Field`, or `/` for the whole definition.
    pub location: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{severity}[{}] at {}: {}", self.code, self.location, self.message)
    }
}

/// Collects findings while a definition is read.
#[derive(Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
    /// Reading context: the top-level `QueryLanguage` is JSONata, so no state may say
    /// JSONPath (AWS's rule is about the top level only, not the enclosing Map or Parallel).
    pub(crate) root_jsonata: bool,
}

impl Diagnostics {
    /// Records an error.
    pub fn error(&mut self, code: DiagnosticCode, location: impl Into<String>, message: impl Into<String>) {
        self.items.push(Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            location: location.into(),
        });
    }

    /// Records a warning.
    pub fn warning(&mut self, code: DiagnosticCode, location: impl Into<String>, message: impl Into<String>) {
        self.items.push(Diagnostic {
            severity: Severity::Warning,
            code,
            message: message.into(),
            location: location.into(),
        });
    }

    /// True when at least one error was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// The findings, errors first, then by location.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by(|a, b| (a.severity, &a.location).cmp(&(b.severity, &b.location)));
        self.items.dedup();
        self.items
    }
}

/// Appends a child to a location: `child("/States", "A")` is `/States/A`.
pub fn child(location: &str, key: impl fmt::Display) -> String {
    format!("{location}/{key}")
}

/// A string as Python's `repr` shows it: AWS's Python-side validators quote values this
/// way in their messages (`'>'`, `'\\x01'`, `"it's"`).
pub fn python_repr(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') { '"' } else { '\'' };
    let mut out = String::from(quote);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod repr_tests {
    use super::python_repr;

    #[test]
    fn quotes_like_python() {
        assert_eq!(python_repr(">"), "'>'");
        assert_eq!(python_repr("\\"), "'\\\\'");
        assert_eq!(python_repr("\u{1}"), "'\\x01'");
        assert_eq!(python_repr("\n"), "'\\n'");
        assert_eq!(python_repr("it's"), "\"it's\"");
        assert_eq!(python_repr("'\""), "'\\'\"'");
    }
}
