//! The state store and the catalog on one DynamoDB table (on-demand, PITR,
//! TTL on `ttl`). Items, by key:
//!
//! | pk | sk | what |
//! |---|---|---|
//! | `CATALOG` | `DS#<id>` | a datasource (`spec`: JSON), written by `repowatch sync` |
//! | `CATALOG` | `TARGET#<id>` | a target (`spec`: JSON) |
//! | `CATALOG` | `NOTIFY` | the [[notify]] channels, language and time zone (`spec`: JSON; secrets as `ssm:` references) |
//! | `DS#<id>` | `REFS` | last-seen refs of one datasource (`refs`: JSON, `version`) |
//! | `KEY#<key>` | `KEY` | an idempotency claim: `state` claimed/done, `owner`, `until` |
//! | `BUILD#<key>` | `<started ns>#<message id>` | one dispatch attempt (`record`: JSON) |
//! | `RUN#<run id>` | `RUN` | the build a CI run belongs to, and its latest result |
//! | `DELIVERY#<id>` | `DELIVERY` | a webhook delivery id seen |
//!
//! Every write that decides something is conditional: claims, delivery ids,
//! the refs item (optimistic `version`), run results (completed stays completed).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use jiff::Timestamp;
use repowatch_core::{
    BuildRecord, Catalog, Claim, Datasource, DatasourceId, IdempotencyKey, PortError, RefChange, RefKind, RefState,
    RunResult, StateStore, TargetId, TargetSpec,
};

/// Idempotency records and build records are kept this long after their last write.
const KEEP_BUILDS: Duration = Duration::from_secs(90 * 24 * 3600);
/// GitHub lets a delivery be redelivered by hand for 3 days; ids are kept a week.
const KEEP_DELIVERIES: Duration = Duration::from_secs(7 * 24 * 3600);
/// Optimistic-concurrency retries of the refs item.
const REFS_RETRIES: usize = 8;

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn ttl(now: Timestamp, keep: Duration) -> AttributeValue {
    n(now.as_second().saturating_add(i64::try_from(keep.as_secs()).unwrap_or(i64::MAX)))
}

fn ns(t: Timestamp) -> i64 {
    i64::try_from(t.as_nanosecond()).unwrap_or(i64::MAX)
}

fn ts(v: i64) -> Timestamp {
    Timestamp::from_nanosecond(i128::from(v)).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The notification settings' sort key under `CATALOG`.
const NOTIFY_SK: &str = "NOTIFY";

fn failed<E>(what: &str, e: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> PortError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    PortError::new(format!("DynamoDB: {what}: {}", crate::sdk::describe(&e)))
}

fn is_condition_failure<E>(e: &SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error().and_then(|se| se.code()) == Some("ConditionalCheckFailedException")
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, text: Option<&str>) -> Result<T, PortError> {
    let text = text.ok_or_else(|| PortError::new(format!("DynamoDB: {what} has no value")))?;
    serde_json::from_str(text).map_err(|e| PortError::with_source(format!("DynamoDB: {what} is not valid"), e))
}

fn encode<T: serde::Serialize>(what: &str, value: &T) -> Result<String, PortError> {
    serde_json::to_string(value).map_err(|e| PortError::with_source(format!("cannot encode {what}"), e))
}

/// The table, for the state store and the catalog.
#[derive(Debug, Clone)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn name(&self) -> &str {
        &self.table
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, PortError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map(|o| o.item)
            .map_err(|e| failed("get_item", e))
    }

    /// Every catalog item with `prefix`, across pages.
    async fn catalog(&self, prefix: &str) -> Result<Vec<Item>, PortError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s("CATALOG"))
                .expression_attribute_values(":prefix", s(prefix))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| failed("query the catalog", e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Writes the catalog (`repowatch sync`): every datasource and target, and
    /// deletes the ones no longer declared. Returns (written, deleted).
    pub async fn sync_catalog(
        &self,
        datasources: &[Datasource],
        targets: &std::collections::BTreeMap<TargetId, TargetSpec>,
    ) -> Result<(usize, usize), PortError> {
        let mut wanted: HashMap<String, String> = HashMap::new();
        for d in datasources {
            wanted.insert(format!("DS#{}", d.id.as_str()), encode("a datasource", d)?);
        }
        for (id, t) in targets {
            wanted.insert(format!("TARGET#{}", id.as_str()), encode("a target", t)?);
        }
        // begins_with needs a non-empty prefix.
        let mut existing = self.catalog("DS#").await?;
        existing.extend(self.catalog("TARGET#").await?);
        let mut deleted = 0;
        for item in &existing {
            let Some(sk) = get_s(item, "sk") else { continue };
            if !wanted.contains_key(sk) {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key("pk", s("CATALOG"))
                    .key("sk", s(sk))
                    .send()
                    .await
                    .map_err(|e| failed("delete a catalog item", e))?;
                deleted += 1;
            }
        }
        for (sk, spec) in &wanted {
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", s("CATALOG"))
                .item("sk", s(sk.clone()))
                .item("spec", s(spec.clone()))
                .send()
                .await
                .map_err(|e| failed("write a catalog item", e))?;
        }
        Ok((wanted.len(), deleted))
    }
}

impl DynamoTable {
    /// Writes the notification settings (`repowatch sync`), or removes them
    /// when repowatch.toml declares no channel.
    pub async fn sync_notify(&self, spec: Option<&repowatch_notify::NotifySpec>) -> Result<(), PortError> {
        match spec {
            Some(spec) => {
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item("pk", s("CATALOG"))
                    .item("sk", s(NOTIFY_SK))
                    .item("spec", s(encode("the notification settings", spec)?))
                    .send()
                    .await
                    .map_err(|e| failed("write the notification settings", e))?;
            }
            None => {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .key("pk", s("CATALOG"))
                    .key("sk", s(NOTIFY_SK))
                    .send()
                    .await
                    .map_err(|e| failed("delete the notification settings", e))?;
            }
        }
        Ok(())
    }

    /// The notification settings `repowatch sync` wrote, if any.
    pub async fn notify_spec(&self) -> Result<Option<repowatch_notify::NotifySpec>, PortError> {
        match self.get("CATALOG".into(), NOTIFY_SK).await? {
            Some(item) => Ok(Some(decode("the notification settings", get_s(&item, "spec"))?)),
            None => Ok(None),
        }
    }

    /// The build whose dispatch started GitHub run `run_id`, if one did.
    pub async fn build_for_run(&self, run_id: u64) -> Result<Option<BuildRecord>, PortError> {
        let Some(link) = self.get(format!("RUN#{run_id}"), "RUN").await? else { return Ok(None) };
        let (Some(pk), Some(sk)) = (get_s(&link, "build_pk"), get_s(&link, "build_sk")) else { return Ok(None) };
        match self.get(pk.to_owned(), sk).await? {
            Some(item) => Ok(Some(decode("the build record", get_s(&item, "record"))?)),
            None => Ok(None),
        }
    }

    /// Every target of the catalog.
    pub async fn targets(&self) -> Result<Vec<(TargetId, TargetSpec)>, PortError> {
        let mut out = Vec::new();
        for item in self.catalog("TARGET#").await? {
            let id = get_s(&item, "sk").and_then(|sk| sk.strip_prefix("TARGET#")).unwrap_or_default();
            let id = TargetId::parse(id).map_err(|e| PortError::with_source("DynamoDB: a target id", e))?;
            out.push((id, decode("a target", get_s(&item, "spec"))?));
        }
        Ok(out)
    }
}

#[async_trait]
impl Catalog for DynamoTable {
    async fn datasources(&self) -> Result<Vec<Datasource>, PortError> {
        self.catalog("DS#").await?.iter().map(|i| decode("a datasource", get_s(i, "spec"))).collect()
    }

    async fn datasource(&self, id: &DatasourceId) -> Result<Option<Datasource>, PortError> {
        match self.get("CATALOG".into(), &format!("DS#{}", id.as_str())).await? {
            Some(item) => decode("a datasource", get_s(&item, "spec")).map(Some),
            None => Ok(None),
        }
    }

    async fn target(&self, id: &TargetId) -> Result<Option<TargetSpec>, PortError> {
        match self.get("CATALOG".into(), &format!("TARGET#{}", id.as_str())).await? {
            Some(item) => decode("a target", get_s(&item, "spec")).map(Some),
            None => Ok(None),
        }
    }
}

#[async_trait]
impl StateStore for DynamoTable {
    async fn load_refs(&self, datasource: &DatasourceId) -> Result<Option<Vec<RefState>>, PortError> {
        match self.get(format!("DS#{}", datasource.as_str()), "REFS").await? {
            Some(item) => decode("last-seen refs", get_s(&item, "refs")).map(Some),
            None => Ok(None),
        }
    }

    async fn commit_refs(
        &self,
        datasource: &DatasourceId,
        changes: &[RefChange],
        now: Timestamp,
    ) -> Result<(), PortError> {
        let pk = format!("DS#{}", datasource.as_str());
        for _ in 0..REFS_RETRIES {
            let current = self.get(pk.clone(), "REFS").await?;
            let version = current.as_ref().and_then(|i| get_n(i, "version"));
            let mut refs: Vec<RefState> = match &current {
                Some(item) => decode("last-seen refs", get_s(item, "refs"))?,
                None => Vec::new(),
            };
            for change in changes {
                match change {
                    RefChange::Upsert(state) => {
                        refs.retain(|r| !(r.kind == state.kind && r.name == state.name));
                        refs.push(state.clone());
                    }
                    RefChange::Delete { kind, name } => {
                        refs.retain(|r: &RefState| !(r.kind == *kind && &r.name == name))
                    }
                }
            }
            refs.sort_by(|a, b| (kind_rank(a.kind), &a.name).cmp(&(kind_rank(b.kind), &b.name)));
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk.clone()))
                .item("sk", s("REFS"))
                .item("refs", s(encode("last-seen refs", &refs)?))
                .item("seen_at", n(ns(now)))
                .item("version", n(version.unwrap_or(0) + 1));
            put = match version {
                Some(v) => put.condition_expression("version = :v").expression_attribute_values(":v", n(v)),
                None => put.condition_expression("attribute_not_exists(pk)"),
            };
            match put.send().await {
                Ok(_) => return Ok(()),
                Err(e) if is_condition_failure(&e) => continue, // another run wrote first: apply ours on top
                Err(e) => return Err(failed("write last-seen refs", e)),
            }
        }
        Err(PortError::new(format!(
            "DynamoDB: the refs of {} kept changing under {REFS_RETRIES} attempts; the next run retries",
            datasource.as_str()
        )))
    }

    async fn claim(
        &self,
        key: &IdempotencyKey,
        owner: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Claim, PortError> {
        let pk = format!("KEY#{}", key.as_str());
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(pk.clone()))
            .item("sk", s("KEY"))
            .item("state", s("claimed"))
            .item("owner", s(owner))
            .item("until", n(ns(lease_until)))
            .item("ttl", ttl(now, KEEP_BUILDS))
            // Free, or a claim whose lease ran out (its holder died or hung).
            .condition_expression("attribute_not_exists(pk) OR (#state = :claimed AND #until < :now) OR (#state = :claimed AND #owner = :me)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#until", "until")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":now", n(ns(now)))
            .expression_attribute_values(":me", s(owner))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match put {
            Ok(out) => {
                let previous = out.attributes.as_ref().and_then(|a| get_s(a, "owner")).filter(|o| *o != owner);
                Ok(Claim::Acquired { taken_over: previous.map(str::to_owned) })
            }
            Err(e) if is_condition_failure(&e) => {
                let item = self.get(pk, "KEY").await?.unwrap_or_default();
                match get_s(&item, "state") {
                    Some("done") => Ok(Claim::Done { at: ts(get_n(&item, "at").unwrap_or(0)) }),
                    _ => Ok(Claim::Held {
                        owner: get_s(&item, "owner").unwrap_or("?").to_owned(),
                        until: ts(get_n(&item, "until").unwrap_or(0)),
                    }),
                }
            }
            Err(e) => Err(failed("claim the idempotency key", e)),
        }
    }

    async fn complete(&self, key: &IdempotencyKey, owner: &str, now: Timestamp) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("KEY#{}", key.as_str())))
            .item("sk", s("KEY"))
            .item("state", s("done"))
            .item("owner", s(owner))
            .item("at", n(ns(now)))
            .item("ttl", ttl(now, KEEP_BUILDS))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failed("mark the idempotency key done", e))
    }

    async fn release(&self, key: &IdempotencyKey, owner: &str) -> Result<(), PortError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("KEY#{}", key.as_str())))
            .key("sk", s("KEY"))
            .condition_expression("#state = :claimed AND #owner = :me")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":claimed", s("claimed"))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Ok(()), // not ours any more: nothing to give up
            Err(e) => Err(failed("release the idempotency key", e)),
        }
    }

    async fn record_build(&self, record: &BuildRecord) -> Result<(), PortError> {
        let key = record.request.key.as_str();
        let sk = format!("{:020}#{}", ns(record.started_at), record.message_id.as_str());
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("BUILD#{key}")))
            .item("sk", s(sk.clone()))
            .item("record", s(encode("the build record", record)?))
            .item("ttl", ttl(record.finished_at, KEEP_BUILDS));
        if let Some(run) = &record.run {
            put = put.item("run_id", n(run.id));
        }
        put.send().await.map_err(|e| failed("record the build", e))?;
        if let Some(run) = &record.run {
            // The run → build link, for workflow_run reports.
            self.client
                .update_item()
                .table_name(&self.table)
                .key("pk", s(format!("RUN#{}", run.id)))
                .key("sk", s("RUN"))
                .update_expression("SET build_pk = :bpk, build_sk = :bsk, #ttl = :ttl")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":bpk", s(format!("BUILD#{key}")))
                .expression_attribute_values(":bsk", s(sk))
                .expression_attribute_values(":ttl", ttl(record.finished_at, KEEP_BUILDS))
                .send()
                .await
                .map_err(|e| failed("link the run to its build", e))?;
        }
        Ok(())
    }

    async fn record_delivery(&self, delivery: &str, now: Timestamp) -> Result<bool, PortError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("DELIVERY#{delivery}")))
            .item("sk", s("DELIVERY"))
            .item("at", n(ns(now)))
            .item("ttl", ttl(now, KEEP_DELIVERIES))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(failed("record the webhook delivery", e)),
        }
    }

    async fn record_run_result(&self, result: &RunResult) -> Result<bool, PortError> {
        let completed = i64::from(result.status == "completed");
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("RUN#{}", result.run_id)))
            .key("sk", s("RUN"))
            .update_expression("SET #result = :result, completed = :completed, #ttl = :ttl")
            // A completed run stays completed, whatever order the reports come in.
            .condition_expression("attribute_not_exists(completed) OR completed <= :completed")
            .expression_attribute_names("#result", "result")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":result", s(encode("the run result", result)?))
            .expression_attribute_values(":completed", n(completed))
            .expression_attribute_values(":ttl", ttl(result.updated_at, KEEP_BUILDS))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match update {
            Ok(out) => Ok(out.attributes.as_ref().is_some_and(|a| a.contains_key("build_pk"))),
            Err(e) if is_condition_failure(&e) => {
                Ok(self.get(format!("RUN#{}", result.run_id), "RUN").await?.is_some_and(|i| i.contains_key("build_pk")))
            }
            Err(e) => Err(failed("record the run result", e)),
        }
    }
}

fn kind_rank(kind: RefKind) -> u8 {
    match kind {
        RefKind::Branch => 0,
        RefKind::Tag => 1,
        RefKind::Release => 2,
    }
}
