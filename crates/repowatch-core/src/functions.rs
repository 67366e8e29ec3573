//! The Lambda functions of the pipeline: one name used for the folder
//! `functions/<name>`, the package, the binary, the SAM `Binary` property, the
//! `${<PascalName>FunctionArn}` substitution in the state machine definition,
//! and `repowatch invoke <name>`.

/// One pipeline function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// kebab-case: `detect-updates`.
    pub name: &'static str,
    /// PascalCase: `DetectUpdates`.
    pub pascal: &'static str,
}

impl Function {
    /// `DetectUpdatesFunctionArn`: the definition substitution key.
    pub fn substitution_key(&self) -> String {
        format!("{}FunctionArn", self.pascal)
    }

    pub fn by_name(name: &str) -> Option<Function> {
        ALL.iter().copied().find(|f| f.name == name)
    }
}

pub const LIST_DATASOURCES: Function = Function { name: "list-datasources", pascal: "ListDatasources" };
pub const DETECT_UPDATES: Function = Function { name: "detect-updates", pascal: "DetectUpdates" };
pub const PROCESS_UPDATES: Function = Function { name: "process-updates", pascal: "ProcessUpdates" };
pub const DISPATCH_BUILD: Function = Function { name: "dispatch-build", pascal: "DispatchBuild" };
pub const NOTIFY: Function = Function { name: "notify", pascal: "Notify" };
pub const GITHUB_WEBHOOK: Function = Function { name: "github-webhook", pascal: "GithubWebhook" };

pub const ALL: [Function; 6] =
    [LIST_DATASOURCES, DETECT_UPDATES, PROCESS_UPDATES, DISPATCH_BUILD, NOTIFY, GITHUB_WEBHOOK];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_is_the_kebab_name_in_pascal_case() {
        for f in ALL {
            let pascal: String = f
                .name
                .split('-')
                .map(|w| {
                    let mut c = w.chars();
                    c.next().map(|h| h.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
                })
                .collect();
            assert_eq!(pascal, f.pascal);
        }
        assert_eq!(DETECT_UPDATES.substitution_key(), "DetectUpdatesFunctionArn");
    }
}
