//! Map state, inline mode (States Language: Map State).

use super::retry::ErrorHandling;
use super::{DataFlow, Transition, allowed};
use crate::dataflow::Template;
use crate::machine::{Machine, MachineKind, parse_machine};
use crate::path::ReferencePath;
use crate::validate::{Obj, Problems};

/// Runs its item processor on every element of an array, up to `MaxConcurrency` at a time.
#[derive(Debug, Clone)]
pub(crate) struct MapState {
    pub processor: Machine,
    pub items_path: ReferencePath,
    /// `ItemSelector`, or the legacy `Parameters`.
    pub item_selector: Option<Template>,
    /// 0 means unlimited.
    pub max_concurrency: u64,
    pub max_concurrency_path: Option<ReferencePath>,
    pub flow: DataFlow,
    pub errors: ErrorHandling,
    pub transition: Transition,
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
            .and_then(|v| parse_machine(v, &obj.at(processor_key), p, MachineKind::ItemProcessor))
            .unwrap_or_else(Machine::empty);
        if obj.has("ItemSelector") && obj.has("Parameters") {
            p.add(obj.ptr, "`ItemSelector` and `Parameters` are mutually exclusive");
        }
        if obj.has("MaxConcurrency") && obj.has("MaxConcurrencyPath") {
            p.add(obj.ptr, "`MaxConcurrency` and `MaxConcurrencyPath` are mutually exclusive");
        }
        let item_key = if obj.has("ItemSelector") { "ItemSelector" } else { "Parameters" };
        let item_selector = obj.template(p, item_key, true);
        let mut flow = DataFlow::parse(obj, p);
        // On a Map, `Parameters` is the legacy name of `ItemSelector`, not a state-level template.
        flow.parameters = None;
        MapState {
            processor,
            items_path: obj.opt_path(p, "ItemsPath", true).unwrap_or_else(ReferencePath::root),
            item_selector,
            max_concurrency: obj.opt_uint(p, "MaxConcurrency", 0).unwrap_or(0),
            max_concurrency_path: obj.opt_path(p, "MaxConcurrencyPath", true),
            flow,
            errors: ErrorHandling::parse(obj, p),
            transition: Transition::parse(obj, p),
        }
    }
}
