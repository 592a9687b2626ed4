//! SQL text, before any engine sees it: splitting scripts into statements, Athena's
//! statement types, statements sfnlite does not run, and binding `ExecutionParameters`.

use serde::{Deserialize, Serialize};

use super::errors::QueryFailure;

/// Athena's `StatementType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(super) enum StatementType {
    /// CREATE, DROP, ALTER, MSCK.
    Ddl,
    /// Queries (and anything not DDL or utility).
    Dml,
    /// SHOW, DESCRIBE, EXPLAIN.
    Utility,
}

/// The statements of a script: split at `;` outside quotes and comments, blank ones dropped.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '-') if chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
                current.push('\n');
                continue;
            }
            (None, ';') => {
                statements.push(std::mem::take(&mut current));
                continue;
            }
            (None, _) => {}
        }
        current.push(c);
    }
    statements.push(current);
    statements.into_iter().filter(|s| !s.trim().is_empty()).collect()
}

/// Whether the statement's first keyword is `word` (case-insensitively).
pub(super) fn sql_starts_with(sql: &str, word: &str) -> bool {
    first_word(sql).eq_ignore_ascii_case(word)
}

/// The first keyword of a statement, past comments and parentheses.
fn first_word(sql: &str) -> &str {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix('(') {
            rest = after.trim_start();
        } else {
            break;
        }
    }
    let end = rest.find(|c: char| !c.is_alphanumeric() && c != '_').unwrap_or(rest.len());
    &rest[..end]
}

/// Athena's StatementType: DDL, DML or UTILITY.
pub(super) fn statement_type(sql: &str) -> StatementType {
    match first_word(sql).to_ascii_lowercase().as_str() {
        "create" | "drop" | "alter" | "msck" => StatementType::Ddl,
        "show" | "describe" | "desc" | "explain" => StatementType::Utility,
        _ => StatementType::Dml,
    }
}

/// Athena's SubstatementType, for the kinds sfnlite tells apart.
pub(super) fn substatement_type(sql: &str) -> Option<&'static str> {
    Some(match first_word(sql).to_ascii_lowercase().as_str() {
        "select" | "with" | "values" | "table" => "SELECT",
        "insert" => "INSERT",
        "create"
            if sql.to_ascii_lowercase().contains(" as select") || sql.to_ascii_lowercase().contains(" as with") =>
        {
            "CREATE_TABLE_AS_SELECT"
        }
        _ => return None,
    })
}

/// The kind of a statement Athena runs but sfnlite's local Athena does not, if it is one.
pub(super) fn unsupported_statement(sql: &str) -> Option<&'static str> {
    match first_word(sql).to_ascii_lowercase().as_str() {
        "insert" => Some("INSERT INTO"),
        "update" => Some("UPDATE"),
        "delete" => Some("DELETE"),
        "merge" => Some("MERGE"),
        "unload" => Some("UNLOAD"),
        "vacuum" | "optimize" => Some("Iceberg maintenance"),
        "prepare" | "execute" | "deallocate" => Some("Prepared statements (use ExecutionParameters)"),
        _ => None,
    }
}

/// Whether `text` is one SQL literal: a number, a string (`'it''s'`), `TRUE`, `FALSE`,
/// `NULL`, or a typed literal (`DATE '2024-01-01'`, `TIMESTAMP '…'`, `INTERVAL '1' DAY`).
/// Anything else (`1 --`, `1 OR 1=1`, `'a' || x`) is refused: a parameter is a value,
/// never SQL text that changes the query.
fn is_literal(text: &str) -> bool {
    let text = text.trim();
    let string = |t: &str| -> Option<usize> {
        // The length of a leading quoted string (with '' escapes).
        let mut chars = t.char_indices();
        if chars.next()?.1 != '\'' {
            return None;
        }
        let bytes = t.as_bytes();
        let mut i = 1;
        while i < bytes.len() {
            if bytes[i] == b'\'' {
                if bytes.get(i + 1) == Some(&b'\'') {
                    i += 2;
                    continue;
                }
                return Some(i + 1);
            }
            i += 1;
        }
        None
    };
    let number = |t: &str| {
        let t = t.strip_prefix(['-', '+']).unwrap_or(t);
        !t.is_empty()
            && t.parse::<f64>().is_ok()
            && t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    };
    let upper = text.to_ascii_uppercase();
    if matches!(upper.as_str(), "TRUE" | "FALSE" | "NULL") || number(text) {
        return true;
    }
    if string(text) == Some(text.len()) {
        return true;
    }
    for prefix in ["DATE", "TIMESTAMP", "TIME", "DECIMAL", "X", "INTERVAL", "CHAR", "VARCHAR", "JSON"] {
        let Some(rest) = upper.strip_prefix(prefix) else { continue };
        if !rest.starts_with(char::is_whitespace) && !rest.starts_with('\'') {
            continue;
        }
        let rest_text = text[prefix.len()..].trim_start();
        let Some(end) = string(rest_text) else { continue };
        let tail = rest_text[end..].trim();
        let units = ["YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND"];
        if tail.is_empty() || (prefix == "INTERVAL" && units.contains(&tail.to_ascii_uppercase().as_str())) {
            return true;
        }
    }
    false
}

/// Replaces each `?` outside quotes with the next execution parameter, which must be one
/// SQL literal ([`is_literal`]).
pub(super) fn bind_parameters(sql: &str, parameters: &[String]) -> Result<String, QueryFailure> {
    if let Some((index, bad)) = parameters.iter().enumerate().find(|(_, p)| !is_literal(p)) {
        return Err(QueryFailure::user(
            "INVALID_PARAMETER_USAGE",
            1100,
            format!(
                "Execution parameter {} ({bad:?}) is not a literal: give a number, 'text', TRUE, FALSE, NULL, or a typed literal such as DATE '2024-01-01'",
                index + 1
            ),
        ));
    }
    let mut out = String::with_capacity(sql.len());
    let mut next = 0;
    let mut quote: Option<char> = None;
    for c in sql.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"' | '`') => quote = Some(c),
            (None, '?') => {
                let value = parameters.get(next).ok_or_else(|| {
                    QueryFailure::user(
                        "INVALID_PARAMETER_USAGE",
                        1100,
                        format!(
                            "Incorrect number of parameters: expected at least {} but found {}",
                            next + 1,
                            parameters.len()
                        ),
                    )
                })?;
                out.push_str(value);
                next += 1;
                continue;
            }
            (None, _) => {}
        }
        out.push(c);
    }
    if next != parameters.len() {
        return Err(QueryFailure::user(
            "INVALID_PARAMETER_USAGE",
            1100,
            format!("Incorrect number of parameters: expected {next} but found {}", parameters.len()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_statement_types() {
        let bound = bind_parameters("SELECT '?' FROM t WHERE a = ? AND b = ?", &["1".into(), "'x'".into()]).unwrap();
        assert_eq!(bound, "SELECT '?' FROM t WHERE a = 1 AND b = 'x'");
        assert!(bind_parameters("SELECT ?", &[]).is_err());
        assert!(bind_parameters("SELECT 1", &["1".into()]).is_err());
        for literal in [
            "1",
            "-2.5",
            "1e3",
            "'it''s'",
            "TRUE",
            "null",
            "DATE '2024-01-01'",
            "TIMESTAMP '2024-01-01 00:00:00'",
            "INTERVAL '1' DAY",
        ] {
            assert!(is_literal(literal), "{literal}");
        }
        for injection in ["1 --", "1 OR 1=1", "'a' || x", "'a'; DROP TABLE t", "x", "'open", "DATE 'x' OR 1=1", "1)"] {
            assert!(bind_parameters("SELECT * FROM t WHERE a = ?", &[injection.into()]).is_err(), "{injection}");
        }
        assert_eq!(statement_type("  -- c\n SHOW TABLES"), StatementType::Utility);
        assert_eq!(statement_type("(SELECT 1)"), StatementType::Dml);
        assert_eq!(statement_type("CREATE EXTERNAL TABLE x"), StatementType::Ddl);
        assert_eq!(serde_json::to_value(StatementType::Utility).unwrap(), "UTILITY");
        let statements = split_statements("CREATE DATABASE a; -- x; y\nCREATE TABLE ';' ;\n\n");
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[1].contains("';'"));
    }
}
