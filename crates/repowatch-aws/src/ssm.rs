//! Secrets from SSM Parameter Store (SecureString), read once at init.

use std::collections::BTreeMap;

use aws_sdk_ssm::Client;
use repowatch_core::PortError;
use repowatch_core::secret::SecretString;

/// GetParameters takes at most 10 names per call.
const BATCH: usize = 10;

/// Reads every named parameter with decryption, at most 10 per call (no
/// call at all for no names). A missing one is an error that names it
/// (never its value).
pub async fn read_parameters(client: &Client, names: &[String]) -> Result<BTreeMap<String, SecretString>, PortError> {
    let mut out = BTreeMap::new();
    for chunk in names.chunks(BATCH) {
        let answer = client
            .get_parameters()
            .set_names(Some(chunk.to_vec()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| PortError::new(format!("SSM: get_parameters: {}", crate::sdk::describe(&e))))?;
        if let Some(missing) = answer.invalid_parameters.as_deref().filter(|m| !m.is_empty()) {
            return Err(PortError::new(format!(
                "SSM has no parameter {}: create it (aws ssm put-parameter --type SecureString --name …) or fix the name",
                missing.join(", ")
            )));
        }
        for p in answer.parameters.unwrap_or_default() {
            if let (Some(name), Some(value)) = (p.name, p.value) {
                out.insert(name, SecretString::new(value));
            }
        }
    }
    Ok(out)
}
