//! Map state, inline mode (States Language: Map State).

use super::retry::ErrorHandling;
use super::{DataFlow, Transition, allowed};
use crate::dataflow::Template;
use crate::datapath::DataPath;
use crate::machine::{Machine, MachineKind, parse_machine};
use crate::validate::{Obj, Problems};
use serde_json::Value;

/// Runs its item processor on every element of an array, up to `MaxConcurrency` at a time.
#[derive(Debug, Clone)]
pub(crate) struct MapState {
    /// `ProcessorConfig.Mode` is `DISTRIBUTED`.
    pub distributed: bool,
    pub processor: Machine,
    pub items_path: DataPath,
    /// `ItemSelector`, or the legacy `Parameters`.
    pub item_selector: Option<Template>,
    /// 0 means unlimited.
    pub max_concurrency: u64,
    pub max_concurrency_path: Option<DataPath>,
    /// `ToleratedFailureCount` / `ToleratedFailureCountPath`.
    pub tolerated_count: Option<Tolerance>,
    /// `ToleratedFailurePercentage` / `ToleratedFailurePercentagePath`.
    pub tolerated_percentage: Option<Tolerance>,
    /// `ItemBatcher`: iterations get `{"Items": [...]}` batches.
    pub item_batcher: Option<ItemBatcher>,
    pub flow: DataFlow,
    pub errors: ErrorHandling,
    pub transition: Transition,
}

/// A number given literally or through a path.
#[derive(Debug, Clone)]
pub(crate) enum Tolerance {
    Literal(f64),
    Path(DataPath),
}

/// `ItemBatcher` (States Language / AWS: Map state in Distributed mode).
#[derive(Debug, Clone)]
pub(crate) struct ItemBatcher {
    pub max_items: Option<u64>,
    pub max_items_path: Option<DataPath>,
    pub max_bytes: Option<u64>,
    pub max_bytes_path: Option<DataPath>,
    pub batch_input: Option<Template>,
}

fn tolerance(obj: Obj<'_, '_>, p: &mut Problems, key: &str, max: Option<f64>) -> Option<Tolerance> {
    let path_key = format!("{key}Path");
    if obj.has(key) && obj.has(&path_key) {
        p.add(obj.ptr, format!("`{key}` and `{path_key}` are mutually exclusive"));
    }
    if let Some(path) = obj.opt_path(p, &path_key) {
        return Some(Tolerance::Path(path));
    }
    let value = obj.opt_number(p, key, 0.0)?;
    if let Some(max) = max
        && value > max
    {
        p.add(obj.at(key), format!("must be between 0 and {max}"));
    }
    Some(Tolerance::Literal(value))
}

fn item_batcher(obj: Obj<'_, '_>, p: &mut Problems) -> Option<ItemBatcher> {
    let value = obj.get("ItemBatcher")?;
    let ptr = obj.ptr.key("ItemBatcher");
    let Value::Object(map) = value else {
        p.add(ptr, "must be a JSON object");
        return None;
    };
    let b = Obj { map, ptr };
    b.allow(
        p,
        &[
            "MaxItemsPerBatch",
            "MaxItemsPerBatchPath",
            "MaxInputBytesPerBatch",
            "MaxInputBytesPerBatchPath",
            "BatchInput",
        ],
        "`ItemBatcher`",
    );
    Some(ItemBatcher {
        max_items: b.opt_uint(p, "MaxItemsPerBatch", 1),
        max_items_path: b.opt_path(p, "MaxItemsPerBatchPath"),
        max_bytes: b.opt_uint(p, "MaxInputBytesPerBatch", 1),
        max_bytes_path: b.opt_path(p, "MaxInputBytesPerBatchPath"),
        batch_input: b.template(p, "BatchInput", true),
    })
}

impl MapState {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> MapState {
        obj.allow(
            p,
            &allowed(&[
                "Iterator",
                "ItemProcessor",
                "ItemsPath",
                "ItemSelector",
                "Parameters",
                "MaxConcurrency",
                "MaxConcurrencyPath",
                "ResultPath",
                "ResultSelector",
                "InputPath",
                "OutputPath",
                "Next",
                "End",
                "Retry",
                "Catch",
                "Assign",
                "Label",
                "ToleratedFailureCount",
                "ToleratedFailureCountPath",
                "ToleratedFailurePercentage",
                "ToleratedFailurePercentagePath",
                "ItemBatcher",
            ]),
            "a Map state",
        );
        let processor_key = match (obj.has("ItemProcessor"), obj.has("Iterator")) {
            (true, true) => {
                p.add(obj.ptr, "`ItemProcessor` and `Iterator` are mutually exclusive");
                "ItemProcessor"
            }
            (false, false) => {
                p.add(obj.at("ItemProcessor"), "required field is missing (or the legacy `Iterator`)");
                "ItemProcessor"
            }
            (true, false) => "ItemProcessor",
            (false, true) => "Iterator",
        };
        let processor = obj
            .get(processor_key)
            .and_then(|v| parse_machine(v, obj.ptr.key(processor_key), p, MachineKind::ItemProcessor))
            .unwrap_or_else(Machine::empty);
        if obj.has("ItemSelector") && obj.has("Parameters") {
            p.add(obj.ptr, "`ItemSelector` and `Parameters` are mutually exclusive");
        }
        if obj.has("MaxConcurrency") && obj.has("MaxConcurrencyPath") {
            p.add(obj.ptr, "`MaxConcurrency` and `MaxConcurrencyPath` are mutually exclusive");
        }
        let item_key = if obj.has("ItemSelector") { "ItemSelector" } else { "Parameters" };
        let item_selector = obj.template(p, item_key, true);
        if let Some(label) = obj.opt_str(p, "Label")
            && (label.chars().count() > 40 || label.chars().any(|c| c.is_whitespace() || c == ':'))
        {
            p.add(obj.at("Label"), "must be at most 40 characters, without whitespace or `:`");
        }
        let mut flow = DataFlow::parse(obj, p);
        // On a Map, `Parameters` is the legacy name of `ItemSelector`, not a state-level template.
        flow.parameters = None;
        // Distributed mode runs each item as a child execution: its states are
        // not in the parent's history.
        let distributed =
            obj.get(processor_key).and_then(|v| v.pointer("/ProcessorConfig/Mode")).and_then(serde_json::Value::as_str)
                == Some("DISTRIBUTED");
        MapState {
            distributed,
            processor,
            items_path: obj.opt_path(p, "ItemsPath").unwrap_or_else(DataPath::root),
            item_selector,
            max_concurrency: obj.opt_uint(p, "MaxConcurrency", 0).unwrap_or(0),
            max_concurrency_path: obj.opt_path(p, "MaxConcurrencyPath"),
            tolerated_count: tolerance(obj, p, "ToleratedFailureCount", None),
            tolerated_percentage: tolerance(obj, p, "ToleratedFailurePercentage", Some(100.0)),
            item_batcher: item_batcher(obj, p),
            flow,
            errors: ErrorHandling::parse(obj, p),
            transition: Transition::parse(obj, p),
        }
    }
}
