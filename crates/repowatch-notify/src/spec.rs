//! The [[notify]] part of repowatch.toml as `repowatch sync` stores it for
//! the Lambda functions: secrets as references (`ssm:/…`), never values.

use repowatch_core::secret::{SecretRef, SecretString};
use serde::{Deserialize, Serialize};

use crate::deliver::{Channel, Kind, Notifiers, RetryPolicy};
use crate::message::Topic;
use crate::text::Lang;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub kind: Kind,
    pub url: SecretRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretRef>,
    pub on: Vec<Topic>,
    #[serde(default)]
    pub quiet_runs: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    pub language: Lang,
    /// IANA name, e.g. `Asia/Tokyo`.
    pub timezone: String,
    pub channels: Vec<ChannelSpec>,
}

impl NotifySpec {
    /// Every secret reference the channels use, in order.
    pub fn references(&self) -> Vec<&SecretRef> {
        self.channels.iter().flat_map(|c| std::iter::once(&c.url).chain(c.secret.as_ref())).collect()
    }

    /// The notifiers, with `resolve` turning each reference into its value.
    /// An unknown time zone or an unresolvable reference is an error that
    /// names it (never a value).
    pub fn notifiers(
        &self,
        resolve: impl Fn(&SecretRef) -> Result<SecretString, String>,
        policy: RetryPolicy,
    ) -> Result<Notifiers, String> {
        let tz = jiff::tz::TimeZone::get(&self.timezone)
            .map_err(|_| format!("unknown time zone {:?} in the notification settings", self.timezone))?;
        let mut channels = Vec::with_capacity(self.channels.len());
        for c in &self.channels {
            channels.push(Channel {
                kind: c.kind,
                url: resolve(&c.url)?,
                secret: c.secret.as_ref().map(&resolve).transpose()?,
                on: c.on.clone(),
                quiet_runs: c.quiet_runs,
            });
        }
        Ok(Notifiers::new(channels, self.language, tz, policy))
    }
}
