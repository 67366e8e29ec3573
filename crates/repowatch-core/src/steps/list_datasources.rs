//! list-datasources: which datasources this run covers, as shards of ≤100 ids
//! (ids only, so state payloads stay far below 256 KiB).

use serde::{Deserialize, Serialize};

use crate::error::StepError;
use crate::ids::{DatasourceId, RunId};
use crate::model::{DetectionSource, RunInfo};
use crate::ports::{Catalog, Clock};

/// Datasources per Map item: one Map iteration per shard, never per datasource.
pub const SHARD_SIZE: usize = 100;

/// What a trigger asks for: the execution input of the state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    #[serde(default)]
    pub source: DetectionSource,
    /// Only this datasource (a webhook names one); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasource: Option<DatasourceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    pub input: RunRequest,
    /// The execution name (`$$.Execution.Name`).
    pub run_id: RunId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub datasources: Vec<DatasourceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListOutput {
    pub run: RunInfo,
    pub shards: Vec<Shard>,
}

pub async fn list_datasources(
    input: ListInput,
    catalog: &dyn Catalog,
    clock: &dyn Clock,
) -> Result<ListOutput, StepError> {
    let started_at = clock.now();
    let ids: Vec<DatasourceId> = match &input.input.datasource {
        Some(id) => match catalog.datasource(id).await.map_err(StepError::Store)? {
            Some(ds) => vec![ds.id],
            None => {
                let known: Vec<String> = catalog
                    .datasources()
                    .await
                    .map_err(StepError::Store)?
                    .into_iter()
                    .map(|d| d.id.to_string())
                    .collect();
                return Err(StepError::Config(format!(
                    "no datasource has id {:?}; configured: {}",
                    id.as_str(),
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )));
            }
        },
        None => catalog.datasources().await.map_err(StepError::Store)?.into_iter().map(|d| d.id).collect(),
    };
    let shards: Vec<Shard> = ids.chunks(SHARD_SIZE).map(|c| Shard { datasources: c.to_vec() }).collect();
    let run = RunInfo {
        id: input.run_id,
        source: input.input.source,
        started_at,
        datasource: input.input.datasource,
        shards: shards.len().max(1),
    };
    Ok(ListOutput { run, shards })
}
