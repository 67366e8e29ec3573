//! [`StaticCatalog`]: datasources and targets held in memory, as loaded from
//! repowatch.toml. The embedded engine uses it; so can a Lambda that bundles
//! its configuration.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::ids::{DatasourceId, TargetId};
use crate::model::{Datasource, TargetSpec};
use crate::ports::{Catalog, PortError};

#[derive(Debug, Clone, Default)]
pub struct StaticCatalog {
    datasources: Arc<Vec<Datasource>>,
    index: Arc<BTreeMap<DatasourceId, usize>>,
    targets: Arc<BTreeMap<TargetId, TargetSpec>>,
}

impl StaticCatalog {
    /// Datasources keep their declared order (the run summary follows it).
    pub fn new(datasources: Vec<Datasource>, targets: BTreeMap<TargetId, TargetSpec>) -> Self {
        let index = datasources.iter().enumerate().map(|(i, d)| (d.id.clone(), i)).collect();
        Self { datasources: Arc::new(datasources), index: Arc::new(index), targets: Arc::new(targets) }
    }

    pub fn all(&self) -> &[Datasource] {
        &self.datasources
    }

    pub fn get(&self, id: &DatasourceId) -> Option<&Datasource> {
        self.index.get(id).and_then(|&i| self.datasources.get(i))
    }

    pub fn targets(&self) -> &BTreeMap<TargetId, TargetSpec> {
        &self.targets
    }
}

#[async_trait]
impl Catalog for StaticCatalog {
    async fn datasources(&self) -> Result<Vec<Datasource>, PortError> {
        Ok(self.datasources.to_vec())
    }

    async fn datasource(&self, id: &DatasourceId) -> Result<Option<Datasource>, PortError> {
        Ok(self.get(id).cloned())
    }

    async fn target(&self, id: &TargetId) -> Result<Option<TargetSpec>, PortError> {
        Ok(self.targets.get(id).cloned())
    }
}
