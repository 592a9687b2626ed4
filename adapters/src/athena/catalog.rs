//! The local Glue-like data catalog (`AwsDataCatalog`): databases and their external
//! tables, kept as one JSON file under the data root and rewritten atomically on change.
//! Every statement reads it afresh, so several processes see each other's DDL.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ddl::TableDef;

/// The catalog's contents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Databases by (lower-case) name.
    pub databases: BTreeMap<String, Database>,
}

/// A database: its tables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Database {
    /// Tables by (lower-case) name.
    pub tables: BTreeMap<String, TableDef>,
}

/// Where the catalog is kept.
#[derive(Debug, Clone)]
pub struct CatalogFile {
    path: PathBuf,
}

impl CatalogFile {
    /// The catalog file of a data root.
    pub fn new(athena_dir: &Path) -> CatalogFile {
        CatalogFile { path: athena_dir.join("catalog.json") }
    }

    /// Reads the catalog; a missing file is a catalog with only the `default` database.
    pub fn load(&self) -> Result<Catalog, String> {
        let mut catalog = match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| format!("the catalog {} is damaged: {e}", self.path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Catalog::default(),
            Err(e) => return Err(format!("cannot read the catalog {}: {e}", self.path.display())),
        };
        catalog.databases.entry("default".into()).or_default();
        Ok(catalog)
    }

    /// Writes the catalog (to a temporary file, then renamed into place).
    pub fn save(&self, catalog: &Catalog) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("cannot write the catalog {}: {e}", self.path.display());
        if let Some(dir) = self.path.parent() {
            fs::create_dir_all(dir).map_err(fail)?;
        }
        let tmp = self.path.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(catalog).expect("the catalog serializes");
        fs::write(&tmp, text).map_err(fail)?;
        fs::rename(&tmp, &self.path).map_err(fail)
    }
}
