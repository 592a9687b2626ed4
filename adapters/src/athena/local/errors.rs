//! Why a query failed, in Athena's words: [`QueryFailure`] (the `StateChangeReason` and
//! the `AthenaError` type and category) and DataFusion's errors translated into it
//! (`TABLE_NOT_FOUND: …`, `SYNTAX_ERROR: …`).

use datafusion::error::DataFusionError;

use super::CATALOG_NAME;

/// An error that ends a query FAILED: Athena's message (`TABLE_NOT_FOUND: …`) and error type.
#[derive(Debug)]
pub(super) struct QueryFailure {
    pub(super) message: String,
    pub(super) error_type: u32,
    pub(super) category: u32,
}

impl QueryFailure {
    /// A user error (category 2): `"{code}: {message}"`.
    pub(super) fn user(code: &str, error_type: u32, message: impl std::fmt::Display) -> QueryFailure {
        QueryFailure { message: format!("{code}: {message}"), error_type, category: 2 }
    }

    /// A system error (category 1, type 100), the message as it is.
    pub(super) fn internal(message: impl Into<String>) -> QueryFailure {
        QueryFailure { message: message.into(), error_type: 100, category: 1 }
    }

    /// The query ran past its workgroup's time limit (Athena's error type 206, "Query timed out").
    pub(super) fn time_limit(limit: std::time::Duration) -> QueryFailure {
        let minutes = limit.as_secs_f64() / 60.0;
        QueryFailure {
            message: format!("EXCEEDED_TIME_LIMIT: Query exceeded the maximum execution time limit of {minutes:.2}m"),
            error_type: 206,
            category: 1,
        }
    }

    /// A memory pool refusal as Athena reports running out of memory (error type 1, "Query
    /// exhausted resources at this scale factor"); any other failure unchanged.
    pub(super) fn or_memory_limit(self, memory_bytes: u64) -> QueryFailure {
        if !self.message.contains("Resources exhausted") {
            return self;
        }
        QueryFailure {
            message: format!(
                "EXCEEDED_MEMORY_LIMIT: Query exhausted resources at this scale factor (the workgroup's memory limit is {} MiB)",
                memory_bytes >> 20
            ),
            error_type: 1,
            category: 2,
        }
    }

    fn with_prefix(mut self, prefix: &str) -> QueryFailure {
        // "HIVE: BAD_DATA: …" → "HIVE_BAD_DATA: …"
        self.message = format!("{prefix}{}", self.message.trim_start_matches("HIVE: "));
        self
    }
}

/// DataFusion's errors in Athena's words (`database` is the query's current database).
pub(super) fn translate(error: DataFusionError, database: &str) -> QueryFailure {
    let error = error.find_root().to_string();
    let text = error
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("Schema error: ")
        .trim_start_matches("Execution error: ")
        .trim_start_matches("SQL error: ")
        .to_owned();
    if let Some(rest) = text.strip_prefix("HIVE_") {
        return QueryFailure::user("HIVE", 1002, rest).with_prefix("HIVE_");
    }
    let lower = text.to_lowercase();
    if lower.contains("parsererror")
        || lower.starts_with("parser")
        || lower.contains("expected:")
        || lower.contains("expected ") && lower.contains("found")
    {
        return QueryFailure::user("SYNTAX_ERROR", 1006, text);
    }
    if lower.starts_with("table '") && lower.contains("not found") {
        return table_not_found(&text, database);
    }
    if lower.contains("no field named") || lower.contains("column") && lower.contains("not found") {
        return QueryFailure::user("COLUMN_NOT_FOUND", 1006, format!("{text} (Column cannot be resolved)"));
    }
    if lower.contains("invalid function") || lower.contains("function") && lower.contains("not found") {
        return QueryFailure::user("FUNCTION_NOT_FOUND", 1006, text);
    }
    if lower.contains("not supported") || lower.contains("unsupported") {
        return QueryFailure::user("NOT_SUPPORTED", 1200, text);
    }
    QueryFailure::user("GENERIC_USER_ERROR", 1000, text)
}

/// `Table 'x' not found` as Athena says it, with the name fully qualified.
fn table_not_found(text: &str, database: &str) -> QueryFailure {
    let name = text.split('\'').nth(1).unwrap_or_default();
    let qualified = if name.matches('.').count() >= 2 {
        name.to_owned()
    } else if name.contains('.') {
        format!("{CATALOG_NAME}.{name}")
    } else {
        format!("{CATALOG_NAME}.{database}.{name}")
    };
    QueryFailure::user("TABLE_NOT_FOUND", 1110, format!("Table '{qualified}' does not exist"))
}
