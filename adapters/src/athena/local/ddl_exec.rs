//! DDL and utility statements, run against the local catalog (one function per kind of
//! statement), with Hive's and Athena's errors. Statements that change the catalog save
//! it; SHOW and DESCRIBE produce rows.

use std::collections::btree_map::Entry;

use super::errors::QueryFailure;
use super::query_exec::{Output, Row};
use super::{CATALOG_NAME, Inner};
use crate::athena::catalog::{Catalog, Database};
use crate::athena::ddl::{self, PartitionSpec, Statement, TableDef, show_pattern_matches};
use crate::athena::render::ColumnInfo;
use crate::s3::S3Url;

fn schema_missing(db: &str) -> QueryFailure {
    QueryFailure::user("SCHEMA_NOT_FOUND", 1110, format!("Schema {db} does not exist"))
}

fn table_missing(db: &str, table: &str) -> QueryFailure {
    QueryFailure::user("TABLE_NOT_FOUND", 1110, format!("Table {CATALOG_NAME}.{db}.{table} does not exist"))
}

fn invalid_metadata(message: String) -> QueryFailure {
    QueryFailure::user("HIVE_INVALID_METADATA", 1100, message)
}

fn database<'a>(catalog: &'a Catalog, name: &str) -> Result<&'a Database, QueryFailure> {
    catalog.databases.get(name).ok_or_else(|| schema_missing(name))
}

fn database_mut<'a>(catalog: &'a mut Catalog, name: &str) -> Result<&'a mut Database, QueryFailure> {
    catalog.databases.get_mut(name).ok_or_else(|| schema_missing(name))
}

fn table<'a>(catalog: &'a Catalog, db: &str, name: &str) -> Result<&'a TableDef, QueryFailure> {
    catalog.databases.get(db).and_then(|d| d.tables.get(name)).ok_or_else(|| table_missing(db, name))
}

fn table_mut<'a>(catalog: &'a mut Catalog, db: &str, name: &str) -> Result<&'a mut TableDef, QueryFailure> {
    catalog.databases.get_mut(db).and_then(|d| d.tables.get_mut(name)).ok_or_else(|| table_missing(db, name))
}

impl Inner {
    /// Runs a DDL or utility statement, `current` being the current database.
    pub(super) fn run_ddl(&self, statement: Statement, current: &str) -> Result<Output, QueryFailure> {
        let _guard = self.ddl_lock.lock().expect("ddl lock");
        let mut catalog = self.catalog.load().map_err(QueryFailure::internal)?;
        let qualified = |database: Option<String>| database.unwrap_or_else(|| current.to_owned());
        let changed = match statement {
            Statement::CreateDatabase { name, if_not_exists } => create_database(&mut catalog, name, if_not_exists)?,
            Statement::DropDatabase { name, if_exists, cascade } => {
                drop_database(&mut catalog, &name, if_exists, cascade)?
            }
            Statement::CreateTable { database, if_not_exists, table } => {
                self.create_table(&mut catalog, &qualified(database), table, if_not_exists)?
            }
            Statement::DropTable { database, name, if_exists } => {
                drop_table(&mut catalog, &qualified(database), &name, if_exists)?
            }
            Statement::ShowDatabases { pattern } => return Ok(show_databases(&catalog, pattern.as_deref())),
            Statement::ShowTables { database, pattern } => {
                return show_tables(&catalog, &qualified(database), pattern.as_deref());
            }
            Statement::Describe { database, name } => return describe(&catalog, &qualified(database), &name),
            Statement::AddPartitions { database, name, partitions } => {
                self.add_partitions(table_mut(&mut catalog, &qualified(database), &name)?, partitions)?
            }
            Statement::RepairTable { database, name } => {
                // The table's `k=v/` folders are read as partitions anyway.
                table(&catalog, &qualified(database), &name)?;
                false
            }
        };
        if changed {
            self.catalog.save(&catalog).map_err(QueryFailure::internal)?;
        }
        Ok(Output::unplanned(vec![], vec![]))
    }

    /// CREATE EXTERNAL TABLE: whether the table was added (its LOCATION must be one the
    /// local S3 can read).
    fn create_table(
        &self,
        catalog: &mut Catalog,
        db_name: &str,
        table: TableDef,
        if_not_exists: bool,
    ) -> Result<bool, QueryFailure> {
        let db = database_mut(catalog, db_name)?;
        if db.tables.contains_key(&table.name) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(QueryFailure::user(
                "FAILED",
                1003,
                format!("AlreadyExistsException(message:Table {} already exists)", table.name),
            ));
        }
        let url = S3Url::parse(&table.location).ok_or_else(|| QueryFailure::user("FAILED", 1100, "bad location"))?;
        self.s3
            .path_of(&url.bucket, &url.key)
            .map_err(|e| invalid_metadata(format!("LOCATION {}: {}", table.location, e.message)))?;
        let table = TableDef { created_millis: super::now_millis(), ..table };
        db.tables.insert(table.name.clone(), table);
        Ok(true)
    }

    /// ALTER TABLE … ADD PARTITION: each partition's values (one per partition key, none
    /// that could leave the table's folder) and location (by default `k=v/` folders under
    /// the table's), replacing a partition with the same values.
    fn add_partitions(&self, table: &mut TableDef, partitions: Vec<PartitionSpec>) -> Result<bool, QueryFailure> {
        for (values, location) in partitions {
            if let Some((_, bad)) =
                values.iter().find(|(_, v)| v.contains('/') || v == ".." || v == "." || v.is_empty())
            {
                return Err(invalid_metadata(format!("invalid partition value '{bad}'")));
            }
            let ordered = partition_values(table, &values)?;
            let location = location.unwrap_or_else(|| default_partition_location(table, &ordered));
            let url = S3Url::parse(&location)
                .ok_or_else(|| invalid_metadata(format!("LOCATION {location} is not an s3:// folder")))?;
            self.s3
                .path_of(&url.bucket, &url.key)
                .map_err(|e| invalid_metadata(format!("LOCATION {location}: {}", e.message)))?;
            table.partitions.retain(|(v, _)| v != &ordered);
            table.partitions.push((ordered, location));
        }
        Ok(true)
    }
}

/// A partition's values in the order of the table's partition keys.
fn partition_values(table: &TableDef, values: &[(String, String)]) -> Result<Vec<String>, QueryFailure> {
    table
        .partition_keys
        .iter()
        .map(|key| {
            values.iter().find(|(k, _)| k == &key.name).map(|(_, v)| v.clone()).ok_or_else(|| {
                QueryFailure::user("HIVE_METASTORE_ERROR", 1100, format!("partition key '{}' is missing", key.name))
            })
        })
        .collect()
}

/// `<table location>/k1=v1/k2=v2/`.
fn default_partition_location(table: &TableDef, ordered: &[String]) -> String {
    let mut folder = S3Url::parse(&table.location).map(|u| u.as_folder().to_string()).unwrap_or_default();
    for (key, value) in table.partition_keys.iter().zip(ordered) {
        folder.push_str(&format!("{}={value}/", key.name));
    }
    folder
}

/// CREATE DATABASE: whether it was added.
fn create_database(catalog: &mut Catalog, name: String, if_not_exists: bool) -> Result<bool, QueryFailure> {
    match catalog.databases.entry(name) {
        Entry::Occupied(existing) if !if_not_exists => Err(QueryFailure::user(
            "FAILED",
            1003,
            format!(
                "Execution Error, return code 1 from org.apache.hadoop.hive.ql.exec.DDLTask. Database {} already exists",
                existing.key()
            ),
        )),
        Entry::Occupied(_) => Ok(false),
        Entry::Vacant(slot) => {
            slot.insert(Default::default());
            Ok(true)
        }
    }
}

/// DROP DATABASE: whether it was dropped (one with tables only with CASCADE).
fn drop_database(catalog: &mut Catalog, name: &str, if_exists: bool, cascade: bool) -> Result<bool, QueryFailure> {
    match catalog.databases.get(name) {
        None if if_exists => Ok(false),
        None => Err(schema_missing(name)),
        Some(db) if !db.tables.is_empty() && !cascade => Err(QueryFailure::user(
            "FAILED",
            1003,
            format!("InvalidOperationException(message:Database {name} is not empty. One or more tables exist.)"),
        )),
        Some(_) => {
            catalog.databases.remove(name);
            Ok(true)
        }
    }
}

/// DROP TABLE: whether it was dropped.
fn drop_table(catalog: &mut Catalog, db_name: &str, name: &str, if_exists: bool) -> Result<bool, QueryFailure> {
    let db = database_mut(catalog, db_name)?;
    if db.tables.remove(name).is_some() {
        Ok(true)
    } else if if_exists {
        Ok(false)
    } else {
        Err(table_missing(db_name, name))
    }
}

/// Names matching a SHOW pattern (all names without one), one per row.
fn name_rows<'a>(names: impl Iterator<Item = &'a String>, pattern: Option<&str>) -> Vec<Row> {
    names.filter(|n| pattern.is_none_or(|p| show_pattern_matches(p, n))).map(|n| vec![Some(n.clone())]).collect()
}

/// SHOW DATABASES.
fn show_databases(catalog: &Catalog, pattern: Option<&str>) -> Output {
    Output::unplanned(vec![ColumnInfo::varchar("database_name")], name_rows(catalog.databases.keys(), pattern))
}

/// SHOW TABLES.
fn show_tables(catalog: &Catalog, db_name: &str, pattern: Option<&str>) -> Result<Output, QueryFailure> {
    let db = database(catalog, db_name)?;
    Ok(Output::unplanned(vec![ColumnInfo::varchar("tab_name")], name_rows(db.tables.keys(), pattern)))
}

/// DESCRIBE: a row per column, then the partition keys under `# Partition Information`.
fn describe(catalog: &Catalog, db_name: &str, name: &str) -> Result<Output, QueryFailure> {
    let table = table(catalog, db_name, name)?;
    let row = |c: &ddl::Column| vec![Some(c.name.clone()), Some(c.ty.to_string()), Some(String::new())];
    let mut rows: Vec<Row> = table.columns.iter().map(row).collect();
    if !table.partition_keys.is_empty() {
        rows.push(vec![Some("# Partition Information".into()), Some(String::new()), Some(String::new())]);
        rows.extend(table.partition_keys.iter().map(row));
    }
    let columns = ["col_name", "data_type", "comment"].map(ColumnInfo::varchar).to_vec();
    Ok(Output::unplanned(columns, rows))
}
