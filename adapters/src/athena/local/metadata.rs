//! The embedded Athena's metadata operations: ListQueryExecutions, ListWorkGroups,
//! GetWorkGroup, ListDatabases, ListTableMetadata, GetTableMetadata, in Athena's shapes
//! (timestamps in epoch milliseconds here; the API server sends seconds).
//!
//! Paging: `NextToken` is the offset of the next item (checked against the operation it
//! came from), over a list in a stable order (query executions newest first, the rest by
//! name). A nonexistent catalog, database or table is a `MetadataException`, as Athena
//! reports Glue's `EntityNotFoundException`; the exact wording is sfnlite's.

use serde_json::{Map, Value, json};

use super::paging::{decode_token, encode_token};
use super::{CATALOG_NAME, Inner, sorted};
use crate::athena::AthenaError;
use crate::athena::ddl::{Format, TableDef, show_pattern_matches};

fn metadata_error(message: impl Into<String>) -> AthenaError {
    AthenaError { code: "MetadataException".into(), status: 400, message: message.into() }
}

fn text<'v>(request: &'v Value, field: &str) -> Option<&'v str> {
    request.get(field).and_then(Value::as_str)
}

fn required<'v>(request: &'v Value, field: &str, name: &str) -> Result<&'v str, AthenaError> {
    text(request, field).ok_or_else(|| {
        AthenaError::invalid_request(format!(
            "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// One page of `items`: `MaxResults` (1..=`limit`, default `limit`) from the offset in
/// `NextToken`, and the token of the next page.
fn page(
    request: &Value,
    operation: &str,
    limit: u64,
    items: Vec<Value>,
) -> Result<(Vec<Value>, Option<String>), AthenaError> {
    let max = match request.get("MaxResults") {
        None | Some(Value::Null) => limit,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=limit).contains(&n) => n,
            _ => {
                return Err(AthenaError::invalid_request(format!(
                    "1 validation error detected: Value '{v}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {limit}"
                )));
            }
        },
    } as usize;
    let offset = match text(request, "NextToken") {
        None => 0,
        Some(token) => decode_token(token, operation)
            .filter(|offset| *offset <= items.len())
            .ok_or_else(|| AthenaError::invalid_request("The NextToken is not valid"))?,
    };
    let end = offset.saturating_add(max).min(items.len());
    let next = (end < items.len()).then(|| encode_token(end, operation));
    Ok((items[offset..end].to_vec(), next))
}

fn with_token(mut response: Value, next: Option<String>) -> Value {
    if let Some(next) = next {
        response["NextToken"] = json!(next);
    }
    response
}

impl Inner {
    /// ListQueryExecutions: the ids of a workgroup's queries, newest first.
    pub(super) fn list_query_executions(&self, request: &Value) -> Result<Value, AthenaError> {
        let workgroup = text(request, "WorkGroup").unwrap_or("primary");
        if !self.workgroups.contains_key(workgroup) {
            return Err(AthenaError::invalid_request(format!("WorkGroup {workgroup} is not found.")));
        }
        let mut queries: Vec<(i64, String)> = self
            .all_records()
            .into_iter()
            .filter(|r| r.execution.work_group == workgroup)
            .map(|r| (r.execution.status.submission_date_time, r.execution.query_execution_id))
            .collect();
        queries.sort_by(|a, b| b.cmp(a));
        let ids = queries.into_iter().map(|(_, id)| json!(id)).collect();
        let (ids, next) = page(request, "ListQueryExecutions", 50, ids)?;
        Ok(with_token(json!({"QueryExecutionIds": ids}), next))
    }

    /// ListWorkGroups: every workgroup, by name.
    pub(super) fn list_work_groups(&self, request: &Value) -> Result<Value, AthenaError> {
        let groups = self
            .workgroups
            .keys()
            .map(|name| {
                json!({"Name": name, "State": "ENABLED", "Description": "",
                    "EngineVersion": engine_version()})
            })
            .collect();
        let (groups, next) = page(request, "ListWorkGroups", 50, groups)?;
        Ok(with_token(json!({"WorkGroups": groups}), next))
    }

    /// GetWorkGroup.
    pub(super) fn get_work_group(&self, request: &Value) -> Result<Value, AthenaError> {
        let name = required(request, "WorkGroup", "workGroup")?;
        let group = self
            .workgroups
            .get(name)
            .ok_or_else(|| AthenaError::invalid_request(format!("WorkGroup {name} is not found.")))?;
        let mut configuration = json!({
            "EnforceWorkGroupConfiguration": group.enforce_configuration,
            "PublishCloudWatchMetricsEnabled": false,
            "RequesterPaysEnabled": false,
            "EngineVersion": engine_version(),
            "ResultConfiguration": {},
        });
        if let Some(location) = &group.output_location {
            configuration["ResultConfiguration"]["OutputLocation"] = json!(location);
        }
        Ok(sorted(json!({"WorkGroup": {"Name": name, "State": "ENABLED", "Description": "",
            "Configuration": configuration}})))
    }

    /// ListDatabases of `AwsDataCatalog`.
    pub(super) fn list_databases(&self, request: &Value) -> Result<Value, AthenaError> {
        check_catalog(required(request, "CatalogName", "catalogName")?)?;
        let catalog = self.catalog.load().map_err(AthenaError::internal)?;
        let names = catalog.databases.keys().map(|name| json!({"Name": name, "Parameters": {}})).collect();
        let (databases, next) = page(request, "ListDatabases", 50, names)?;
        Ok(with_token(json!({"DatabaseList": databases}), next))
    }

    /// ListTableMetadata: a database's tables (those whose names match `Expression`).
    pub(super) fn list_table_metadata(&self, request: &Value) -> Result<Value, AthenaError> {
        check_catalog(required(request, "CatalogName", "catalogName")?)?;
        let database = required(request, "DatabaseName", "databaseName")?;
        let catalog = self.catalog.load().map_err(AthenaError::internal)?;
        let db = catalog
            .databases
            .get(&database.to_lowercase())
            .ok_or_else(|| metadata_error(format!("Database {database} was not found in catalog AwsDataCatalog")))?;
        let expression = text(request, "Expression");
        let tables = db
            .tables
            .values()
            .filter(|t| expression.is_none_or(|e| show_pattern_matches(e, &t.name)))
            .map(table_metadata)
            .collect();
        let (tables, next) = page(request, "ListTableMetadata", 50, tables)?;
        Ok(with_token(json!({"TableMetadataList": tables}), next))
    }

    /// GetTableMetadata.
    pub(super) fn get_table_metadata(&self, request: &Value) -> Result<Value, AthenaError> {
        check_catalog(required(request, "CatalogName", "catalogName")?)?;
        let database = required(request, "DatabaseName", "databaseName")?;
        let table = required(request, "TableName", "tableName")?;
        let catalog = self.catalog.load().map_err(AthenaError::internal)?;
        let found = catalog
            .databases
            .get(&database.to_lowercase())
            .ok_or_else(|| metadata_error(format!("Database {database} was not found in catalog AwsDataCatalog")))?
            .tables
            .get(&table.to_lowercase())
            .ok_or_else(|| metadata_error(format!("Table {table} was not found in database {database}")))?;
        Ok(json!({"TableMetadata": table_metadata(found)}))
    }
}

fn engine_version() -> Value {
    json!({"SelectedEngineVersion": "AUTO", "EffectiveEngineVersion": "Athena engine version 3"})
}

fn check_catalog(name: &str) -> Result<(), AthenaError> {
    if name.to_lowercase() == CATALOG_NAME {
        Ok(())
    } else {
        Err(metadata_error(format!("Catalog {name} was not found (sfnlite has only AwsDataCatalog)")))
    }
}

/// A table as Athena describes it: columns, partition keys, and the Glue parameters
/// (location, formats, SerDe and its parameters, TBLPROPERTIES).
fn table_metadata(table: &TableDef) -> Value {
    let columns = |columns: &[crate::athena::ddl::Column]| -> Vec<Value> {
        columns.iter().map(|c| json!({"Name": c.name, "Type": c.ty.to_string()})).collect()
    };
    let (input, output) = match table.format {
        Format::Parquet => (
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        ),
        Format::Delimited | Format::OpenCsv | Format::Json => {
            ("org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
        }
    };
    let mut parameters = Map::new();
    parameters.insert("EXTERNAL".into(), json!("TRUE"));
    parameters.insert("inputformat".into(), json!(input));
    parameters.insert("location".into(), json!(table.location));
    parameters.insert("outputformat".into(), json!(output));
    parameters.insert("serde.serialization.lib".into(), json!(table.serde));
    for (key, value) in &table.serde_parameters {
        parameters.insert(format!("serde.param.{key}"), json!(value));
    }
    for (key, value) in &table.parameters {
        parameters.insert(key.clone(), json!(value));
    }
    sorted(json!({
        "Name": table.name,
        "CreateTime": table.created_millis,
        "TableType": "EXTERNAL_TABLE",
        "Columns": columns(&table.columns),
        "PartitionKeys": columns(&table.partition_keys),
        "Parameters": parameters,
    }))
}
