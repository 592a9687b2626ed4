//! The catalog as DataFusion sees it: [`GlueCatalog`] and [`GlueSchema`], DataFusion
//! catalog and schema providers over the local catalog's databases and tables (each a
//! [`HiveTable`]), looked up case-insensitively, as Athena (and Glue, which stores
//! lower-case names) does, quoted names included.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use datafusion::catalog::{CatalogProvider, SchemaProvider, TableProvider};

use crate::athena::catalog::Catalog;
use crate::athena::table::{HiveTable, ScanBudget};
use crate::s3::LocalS3;

/// The catalog's databases, as DataFusion schemas.
#[derive(Debug, Default)]
pub(super) struct GlueCatalog {
    schemas: BTreeMap<String, Arc<GlueSchema>>,
}

/// A database's tables.
#[derive(Debug, Default)]
struct GlueSchema {
    tables: BTreeMap<String, Arc<dyn TableProvider>>,
}

impl GlueCatalog {
    /// The tables of `catalog`, read from `s3`, each adding the bytes it reads to
    /// `scanned` and charging the rows to `budget`; `current` (the query's database)
    /// exists even if the catalog lacks it.
    pub(super) fn new(
        catalog: &Catalog,
        s3: &LocalS3,
        scanned: &Arc<AtomicU64>,
        budget: &Arc<ScanBudget>,
        current: &str,
    ) -> GlueCatalog {
        let mut provider = GlueCatalog::default();
        for (name, db) in &catalog.databases {
            let mut schema = GlueSchema::default();
            for (table_name, def) in &db.tables {
                let table = HiveTable::new(def.clone(), s3.clone(), scanned.clone(), budget.clone());
                schema.tables.insert(table_name.to_lowercase(), Arc::new(table));
            }
            provider.schemas.insert(name.to_lowercase(), Arc::new(schema));
        }
        provider.schemas.entry(current.to_lowercase()).or_default();
        provider
    }
}

impl CatalogProvider for GlueCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.schemas.keys().cloned().collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.schemas.get(&name.to_lowercase()).map(|s| s.clone() as Arc<dyn SchemaProvider>)
    }
}

#[async_trait::async_trait]
impl SchemaProvider for GlueSchema {
    fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    async fn table(&self, name: &str) -> datafusion::error::Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.tables.get(&name.to_lowercase()).cloned())
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.contains_key(&name.to_lowercase())
    }
}
