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

/// Replaces each `?` outside quotes with the next execution parameter (SQL literal text).
pub(super) fn bind_parameters(sql: &str, parameters: &[String]) -> Result<String, QueryFailure> {
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
        assert_eq!(statement_type("  -- c\n SHOW TABLES"), StatementType::Utility);
        assert_eq!(statement_type("(SELECT 1)"), StatementType::Dml);
        assert_eq!(statement_type("CREATE EXTERNAL TABLE x"), StatementType::Ddl);
        assert_eq!(serde_json::to_value(StatementType::Utility).unwrap(), "UTILITY");
        let statements = split_statements("CREATE DATABASE a; -- x; y\nCREATE TABLE ';' ;\n\n");
        assert_eq!(statements.len(), 2, "{statements:?}");
        assert!(statements[1].contains("';'"));
    }
}
