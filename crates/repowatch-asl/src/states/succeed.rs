//! Succeed state (States Language: Succeed State).

use super::{DataFlow, allowed};
use crate::validate::{Obj, Problems};

/// Ends the execution (or the branch/iteration) successfully.
#[derive(Debug, Clone)]
pub(crate) struct Succeed {
    pub flow: DataFlow,
}

impl Succeed {
    pub(crate) fn parse(obj: Obj<'_, '_>, p: &mut Problems) -> Succeed {
        obj.allow(p, &allowed(&["InputPath", "OutputPath"]), "a Succeed state");
        Succeed { flow: DataFlow::parse_io(obj, p) }
    }
}
