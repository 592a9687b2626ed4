//! GetQueryResults: a page of a succeeded query's result file (the header row first, on
//! the first page of a query's results), and the `NextToken` that resumes after it (the
//! next row's offset, checked against the query's id).

use serde_json::{Value, json};

use super::requests::GetQueryResults;
use super::{Inner, sorted};
use crate::athena::{AthenaError, QueryState};

fn invalid_token() -> AthenaError {
    AthenaError::invalid_request("The NextToken is not valid for this query execution")
}

impl Inner {
    /// GetQueryResults.
    pub(super) fn results(&self, request: &Value) -> Result<Value, AthenaError> {
        let request = GetQueryResults::parse(request);
        let id = request.query_execution_id();
        let record = self.load(id)?;
        let status = &record.execution.status;
        match status.state {
            QueryState::Succeeded => {}
            state @ (QueryState::Failed | QueryState::Cancelled) => {
                let reason = status.state_change_reason.as_deref().unwrap_or_default();
                return Err(AthenaError::invalid_request(format!(
                    "Query did not finish successfully. Final query state: {state}{}",
                    if reason.is_empty() { String::new() } else { format!("\n{reason}") }
                )));
            }
            state @ (QueryState::Queued | QueryState::Running) => {
                return Err(AthenaError::invalid_request(format!(
                    "Query has not yet finished. Current state: {state}"
                )));
            }
        }
        let max = request.max_results()?;
        let offset = match request.next_token().map_err(|()| invalid_token())? {
            None => 0,
            Some(token) => decode_token(token, id).ok_or_else(invalid_token)?,
        };
        let location = &record.execution.result_configuration.output_location;
        let (metadata, all) = self.read_results(id, location, record.metadata.as_deref().unwrap_or_default())?;
        if offset > all.len() {
            return Err(invalid_token());
        }
        let end = offset.saturating_add(max).min(all.len());
        let rows: Vec<Value> = all.get(offset..end).unwrap_or_default().iter().map(|row| row_json(row)).collect();
        let mut response = json!({
            "ResultSet": {"ResultSetMetadata": {"ColumnInfo": metadata.columns}, "Rows": rows},
            "UpdateCount": metadata.update_count,
        });
        if end < all.len() {
            response["NextToken"] = json!(encode_token(end, id));
        }
        Ok(sorted(response))
    }
}

/// A row: `{"Data": [{"VarCharValue": …}, …]}`, NULL a Datum without a value.
fn row_json(row: &[Option<String>]) -> Value {
    let data: Vec<Value> =
        row.iter().map(|v| v.as_ref().map_or_else(|| json!({}), |s| json!({"VarCharValue": s}))).collect();
    json!({"Data": data})
}

/// `<offset in hex>.<the first 8 characters of the id (a query's, or an operation's name)>`.
pub(super) fn encode_token(offset: usize, id: &str) -> String {
    format!("{offset:x}.{}", &id.replace('-', "")[..8.min(id.len())])
}

/// The offset of a token made for `id`.
pub(super) fn decode_token(token: &str, id: &str) -> Option<usize> {
    let (offset, check) = token.split_once('.')?;
    (encode_token(0, id).split_once('.')?.1 == check).then(|| usize::from_str_radix(offset, 16).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_belong_to_their_query() {
        assert_eq!(decode_token(&encode_token(1000, "ab-cd-ef-12-34"), "ab-cd-ef-12-34"), Some(1000));
        assert_eq!(decode_token(&encode_token(1000, "ab-cd-ef-12-34"), "ff-cd-ef-12-34"), None);
    }
}
