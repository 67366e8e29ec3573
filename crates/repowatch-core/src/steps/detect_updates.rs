//! detect-updates: reads the current refs of one shard's datasources and
//! compares them with last-seen state. A datasource that cannot be read is
//! reported in the output; it never fails the shard.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::error::StepError;
use crate::ids::{DatasourceId, RefKind, RefName};
use crate::model::{Datasource, ErrorInfo, RefSnapshot, RefState, RunInfo, Update};
use crate::ports::{Catalog, RefSource, StateStore};

pub const SOURCE_UNAVAILABLE: &str = StepError::SOURCE_UNAVAILABLE;
pub const UNKNOWN_DATASOURCE: &str = StepError::UNKNOWN_DATASOURCE;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectInput {
    pub run: RunInfo,
    pub datasources: Vec<DatasourceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetectOutput {
    pub run: RunInfo,
    pub datasources: Vec<Detected>,
    /// The ref source's API budget left after this shard's reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_remaining: Option<u64>,
}

/// What one datasource's refs did since it was last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detected {
    pub id: DatasourceId,
    /// Never seen before: `updates` is the baseline (every watched ref).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub first_seen: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub updates: Vec<Update>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorInfo>,
}

pub async fn detect_updates(
    input: DetectInput,
    catalog: &dyn Catalog,
    store: &dyn StateStore,
    refs: &dyn RefSource,
) -> Result<DetectOutput, StepError> {
    let mut found: Vec<Datasource> = Vec::with_capacity(input.datasources.len());
    let mut missing = BTreeSet::new();
    for id in &input.datasources {
        match catalog.datasource(id).await.map_err(StepError::Store)? {
            Some(ds) => found.push(ds),
            None => {
                missing.insert(id.clone());
            }
        }
    }
    let mut snapshots: BTreeMap<DatasourceId, Result<RefSnapshot, String>> =
        refs.read_refs(&found).await.into_iter().map(|(id, r)| (id, r.map_err(|e| e.chain()))).collect();
    let by_id: BTreeMap<&DatasourceId, &Datasource> = found.iter().map(|d| (&d.id, d)).collect();

    let mut out = Vec::with_capacity(input.datasources.len());
    for id in input.datasources {
        let failed = |name: &str, message: String| Detected {
            id: id.clone(),
            first_seen: false,
            updates: vec![],
            error: Some(ErrorInfo { name: name.to_owned(), message }),
        };
        if missing.contains(&id) {
            out.push(failed(UNKNOWN_DATASOURCE, format!("datasource {:?} is not configured any more", id.as_str())));
            continue;
        }
        let Some(ds) = by_id.get(&id) else { continue };
        match snapshots.remove(&id) {
            None => {
                out.push(failed(SOURCE_UNAVAILABLE, "the ref source gave no answer for this datasource".to_owned()))
            }
            Some(Err(message)) => out.push(failed(SOURCE_UNAVAILABLE, message)),
            Some(Ok(snapshot)) => {
                let last = store.load_refs(&id).await.map_err(StepError::Store)?;
                let (first_seen, updates) = compare(ds, &snapshot, last.as_deref());
                out.push(Detected { id, first_seen, updates, error: None });
            }
        }
    }
    Ok(DetectOutput { run: input.run, datasources: out, github_remaining: refs.budget_remaining() })
}

/// Watched refs of `current` against `last`. Unwatched refs are left out here
/// already, so a repository with thousands of tags does not bloat the payload.
pub fn compare(ds: &Datasource, current: &RefSnapshot, last: Option<&[RefState]>) -> (bool, Vec<Update>) {
    let watched = current.refs.iter().filter(|r| ds.watch.matches(r.kind, &r.name));
    let Some(last) = last else {
        let baseline = watched
            .map(|r| Update { kind: r.kind, name: r.name.clone(), old: None, new: Some(r.commit.clone()) })
            .collect();
        return (true, baseline);
    };
    let mut previous: BTreeMap<(RefKind, &RefName), &RefState> = last.iter().map(|s| ((s.kind, &s.name), s)).collect();
    let mut updates = Vec::new();
    for head in watched {
        match previous.remove(&(head.kind, &head.name)) {
            Some(prev) if prev.commit == head.commit => {}
            prev => updates.push(Update {
                kind: head.kind,
                name: head.name.clone(),
                old: prev.map(|p| p.commit.clone()),
                new: Some(head.commit.clone()),
            }),
        }
    }
    // Whatever is left was deleted (or is no longer watched): forget it, so a
    // ref that comes back is seen as new.
    for ((kind, name), prev) in previous {
        if current.newest_only.contains(&kind) {
            continue;
        }
        updates.push(Update { kind, name: name.clone(), old: Some(prev.commit.clone()), new: None });
    }
    (false, updates)
}
