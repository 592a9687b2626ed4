//! `sfnlite athena query SQL`: one statement, run to its end the way the console runs it;
//! progress on stderr, results on stdout.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::anyhow;
use serde_json::{Value, json};
use sfnlite_adapters::athena::{QueryState, state_of};
use sfnlite_adapters::s3::S3Url;

use super::Failure;
use super::services::Services;
use crate::args::{AthenaQueryArgs, QueryFormat};

fn text_of(datum: &Value) -> Option<&str> {
    datum.get("VarCharValue").and_then(Value::as_str)
}

pub(crate) fn query(args: AthenaQueryArgs, services: Services) -> Result<ExitCode, Failure> {
    let Services { athena, s3, .. } = services;
    sfnlite_adapters::service::handle().block_on(async move {
        let mut request = json!({"QueryString": args.sql, "WorkGroup": args.workgroup});
        if let Some(database) = &args.database {
            request["QueryExecutionContext"] = json!({"Database": database});
        }
        if let Some(location) = &args.output_location {
            request["ResultConfiguration"] = json!({"OutputLocation": location});
        }
        let started = Instant::now();
        let done =
            athena.run_statement(request).await.map_err(|e| Failure::usage(anyhow!("{}: {}", e.code, e.message)))?;
        let execution = &done["QueryExecution"];
        let id = execution["QueryExecutionId"].as_str().unwrap_or_default().to_owned();
        let state = state_of(&done);
        let scanned = execution.pointer("/Statistics/DataScannedInBytes").and_then(Value::as_u64).unwrap_or(0);
        let shown = state.map_or("(no state)", QueryState::as_str);
        eprintln!("sfnlite: query {id} {shown} in {:.3} s, {scanned} bytes scanned", started.elapsed().as_secs_f64());
        if state != Some(QueryState::Succeeded) {
            let reason =
                execution.pointer("/Status/StateChangeReason").and_then(Value::as_str).unwrap_or("(no reason given)");
            return Err(Failure { error: anyhow!("{reason}"), exit_code: 1 });
        }
        let location =
            execution.pointer("/ResultConfiguration/OutputLocation").and_then(Value::as_str).unwrap_or_default();
        let mut out = std::io::stdout().lock();
        if args.format == QueryFormat::Csv {
            let url =
                S3Url::parse(location).ok_or_else(|| Failure::internal(anyhow!("bad result location {location}")))?;
            let (body, _) = s3
                .get_object(&url.bucket, &url.key)
                .await
                .map_err(|e| Failure::internal(anyhow!("cannot read {location}: {e}")))?;
            let _ = out.write_all(&body);
            return Ok(ExitCode::SUCCESS);
        }
        // Every page of GetQueryResults.
        let mut columns: Vec<String> = Vec::new();
        let mut rows: Vec<Vec<Option<String>>> = Vec::new();
        let mut token: Option<String> = None;
        let mut first = true;
        loop {
            let mut page_request = json!({"QueryExecutionId": id, "MaxResults": 1000});
            if let Some(t) = token.take() {
                page_request["NextToken"] = json!(t);
            }
            let page = athena
                .get_query_results(page_request)
                .await
                .map_err(|e| Failure::internal(anyhow!("{}: {}", e.code, e.message)))?;
            if first {
                columns = page
                    .pointer("/ResultSet/ResultSetMetadata/ColumnInfo")
                    .and_then(Value::as_array)
                    .map(|c| c.iter().filter_map(|c| c["Name"].as_str().map(str::to_owned)).collect())
                    .unwrap_or_default();
            }
            let page_rows = page.pointer("/ResultSet/Rows").and_then(Value::as_array).cloned().unwrap_or_default();
            let skip = usize::from(first && execution["StatementType"] == "DML" && !page_rows.is_empty());
            for row in page_rows.iter().skip(skip) {
                let data = row["Data"].as_array().cloned().unwrap_or_default();
                rows.push(data.iter().map(|d| text_of(d).map(str::to_owned)).collect());
            }
            first = false;
            match page.get("NextToken").and_then(Value::as_str) {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
        }
        match args.format {
            QueryFormat::Json => {
                let report = json!({"QueryExecution": execution, "Columns": columns, "Rows": rows});
                let _ = writeln!(out, "{}", serde_json::to_string_pretty(&report).unwrap_or_default());
            }
            _ => {
                let mut widths: Vec<usize> = columns.iter().map(|c| c.chars().count()).collect();
                for row in &rows {
                    for (i, v) in row.iter().enumerate() {
                        let w = v.as_deref().unwrap_or("NULL").chars().count();
                        if i < widths.len() {
                            widths[i] = widths[i].max(w);
                        } else {
                            widths.push(w);
                        }
                    }
                }
                let line = |values: Vec<&str>| -> String {
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| format!("{v:<w$}", w = widths.get(i).copied().unwrap_or(0)))
                        .collect::<Vec<_>>()
                        .join(" | ")
                };
                if !columns.is_empty() {
                    let _ = writeln!(out, "{}", line(columns.iter().map(String::as_str).collect()).trim_end());
                    let _ = writeln!(out, "{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("-+-"));
                }
                for row in &rows {
                    let _ = writeln!(
                        out,
                        "{}",
                        line(row.iter().map(|v| v.as_deref().unwrap_or("NULL")).collect()).trim_end()
                    );
                }
                eprintln!("sfnlite: {} row{}", rows.len(), if rows.len() == 1 { "" } else { "s" });
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
