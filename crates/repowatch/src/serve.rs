//! `repowatch serve`: home-server mode in one process.
//!
//! - `POST /webhooks/github`: GitHub's webhooks, through the github-webhook
//!   step (signature, dedupe, routing). It answers first; the runs it asks
//!   for start after the answer, one at a time.
//! - `POST /webhooks/build`: signed build requests from another repowatch
//!   (its `webhook` target). Verified with `serve.build_secret`, deduped by
//!   `X-Repowatch-Key`, queued for this machine's `serve.build_targets`.
//! - the schedule: the daily reconcile in `settings.timezone`, catching up a
//!   run missed while the machine was off;
//! - the worker: dispatches queued builds as they arrive;
//! - `GET /healthz`, and the status page: `GET /` (HTML, Japanese or English,
//!   refreshing itself through `GET /status/main`) and `GET /status.json`.
//!   Read-only. From this machine it is open; from anywhere else, or through
//!   a proxy, it needs `serve.status_token` (else 403).
//!
//! SIGTERM or Ctrl-C: stop accepting, finish the requests, runs and build in
//! hand, then exit. Nothing accepted is lost: what is queued stays queued.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use repowatch_core::steps::{self, RunRequest, WebhookInput};
use repowatch_core::{
    BuildQueue, BuildRequest, Clock, DetectionSource, IdempotencyKey, StateStore, SystemClock, signature,
};
use repowatch_local::worker::{self, WorkerOptions};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;

use crate::app::App;
use crate::cli::{Outcome, ServeArgs};
use crate::schedule::{self, Schedule, StartUp};
use crate::{commands, page};

/// GitHub sends webhook payloads up to 25 MB.
const MAX_WEBHOOK_BODY: usize = 25 * 1024 * 1024;
/// A build request is a few hundred bytes.
const MAX_BUILD_BODY: usize = 64 * 1024;
/// How often the worker looks at an empty queue: a webhook's build starts within this.
const WORKER_POLL: Duration = Duration::from_millis(200);
const SCHEDULE_NAME: &str = "daily";

struct Shared {
    app: Arc<App>,
    /// Runs one at a time: a webhook's run waits for the scheduled one.
    run_lock: Mutex<()>,
    /// Runs started after a webhook's answer, awaited at shutdown.
    runs: std::sync::Mutex<JoinSet<()>>,
}

pub async fn serve(app: App, args: ServeArgs, json: bool) -> anyhow::Result<Outcome> {
    let listen = args.listen.or(app.config.serve.as_ref().map(|s| s.listen)).unwrap_or(([127, 0, 0, 1], 8080).into());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (serve.listen)"))?;
    let local = listener.local_addr().context("cannot read the listening address")?;
    if app.ports().webhook_secret.is_none() {
        tracing::warn!("[serve] webhook_secret is not set: POST /webhooks/github answers 503");
    }
    let app = Arc::new(app);
    let shared =
        Arc::new(Shared { app: app.clone(), run_lock: Mutex::new(()), runs: std::sync::Mutex::new(JoinSet::new()) });
    let (stop_tx, stop_rx) = watch::channel(false);

    if !listen.ip().is_loopback() && app.status_token.is_none() {
        tracing::warn!(%listen, "listening beyond this machine without [serve] status_token: the status page answers only requests from this machine");
    }
    let router = routes(shared.clone());

    let worker = {
        let app = app.clone();
        let stop = stopped(stop_rx.clone());
        tokio::spawn(async move {
            let (events, notices) = crate::notices::spawn(&app);
            let options = WorkerOptions {
                once: false,
                poll: WORKER_POLL,
                visibility: app.visibility(),
                keep_results: false,
                events: Some(events),
            };
            let worked = worker::work(&app.queue, app.ports(), &app.owner, &options, stop).await;
            drop(options);
            let _ = notices.await;
            worked
        })
    };
    // Parked build requests, told as they appear (the DLQ-depth alarm of AWS).
    let dlq_watch = {
        let app = app.clone();
        let stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let since = SystemClock.now();
            let mut seen = std::collections::BTreeSet::new();
            loop {
                tokio::select! {
                    () = stopped(stop_rx.clone()) => break,
                    () = tokio::time::sleep(DLQ_CHECK) => crate::notices::parked(&app, since, &mut seen).await,
                }
            }
            crate::notices::parked(&app, since, &mut seen).await;
        })
    };
    let scheduler = (!args.no_schedule).then(|| tokio::spawn(scheduler(shared.clone(), stop_rx.clone())));

    let line = format!("repowatch serve: listening on http://{local}");
    if json {
        println!("{}", serde_json::json!({ "listening": format!("http://{local}") }));
    } else {
        println!("{line}");
    }
    tracing::info!(%local, "listening");

    let server = axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            commands::shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
    let served = server.await;

    // Drain: the runs webhooks started, the scheduled run, the build in hand.
    let mut runs = std::mem::take(&mut *shared.runs.lock().map_err(|_| anyhow::anyhow!("run list poisoned"))?);
    while runs.join_next().await.is_some() {}
    if let Some(s) = scheduler {
        let _ = s.await;
    }
    let worked = worker.await.context("the worker task failed")?;
    let _ = dlq_watch.await;
    served.context("the HTTP server failed")?;
    worked.map_err(|e| anyhow::anyhow!("the worker stopped: {}", e.chain()))?;
    if !json {
        println!("repowatch serve: stopped; queued builds stay queued for the next start");
    }
    Ok(Outcome::Success)
}

fn routes(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/webhooks/github", post(github_webhook).layer(DefaultBodyLimit::max(MAX_WEBHOOK_BODY)))
        .route("/webhooks/build", post(build_request).layer(DefaultBodyLimit::max(MAX_BUILD_BODY)))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/", get(status_page))
        .route("/status/main", get(status_main))
        .route("/status.json", get(status_json))
        .route("/assets/status.css", get(|| async { asset("text/css; charset=utf-8", page::CSS) }))
        .route("/assets/status.js", get(|| async { asset("text/javascript; charset=utf-8", page::JS) }))
        .route("/assets/favicon.svg", get(|| async { asset("image/svg+xml", page::FAVICON) }))
        .with_state(shared)
}

/// The routes of `repowatch serve` over `app`, without its schedule and
/// worker: for benchmarks and tests that drive the HTTP side alone. Serve it
/// with `into_make_service_with_connect_info::<SocketAddr>()`.
pub fn router(app: Arc<App>) -> Router {
    routes(Arc::new(Shared { app, run_lock: Mutex::new(()), runs: std::sync::Mutex::new(JoinSet::new()) }))
}

/// How often `serve` looks for newly parked build requests to notify about.
const DLQ_CHECK: Duration = Duration::from_secs(30);

/// Completes when `rx` says stop.
async fn stopped(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow_and_update() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn run_now(shared: &Shared, request: RunRequest) {
    let _one_at_a_time = shared.run_lock.lock().await;
    match commands::execute_run(&shared.app, &request).await {
        Ok(report) => {
            let status = report.summary.as_ref().map_or("failed", |s| s.status.as_str());
            tracing::info!(run = %report.run_id, source = request.source.as_str(), datasource = ?request.datasource.as_ref().map(|d| d.as_str()), status, "run finished");
        }
        Err(e) => tracing::error!(error = %format!("{e:#}"), "the run could not start"),
    }
}

async fn scheduler(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let settings = &shared.app.config.settings;
    let schedule = match Schedule::new(&settings.schedule, settings.timezone.clone()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "settings.schedule: the schedule does not run");
            return;
        }
    };
    let store = &shared.app.store;
    let now = SystemClock.now();
    let last = store.schedule_last_run(SCHEDULE_NAME).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e.chain(), "cannot read the schedule's last run; assuming none");
        None
    });
    match schedule::on_start(&schedule, now, last) {
        StartUp::Baseline(due) => record_fire(store, due).await,
        StartUp::CatchUp(due) => {
            tracing::info!(missed = %due, "catching up the scheduled run missed while repowatch was not running");
            run_now(&shared, RunRequest { source: DetectionSource::Schedule, datasource: None }).await;
            record_fire(store, due).await;
        }
        StartUp::UpToDate => {}
    }
    let mut stop_wait = Box::pin(stopped(stop));
    loop {
        let Some(next) = schedule.next_after(SystemClock.now()) else {
            tracing::warn!(schedule = %settings.schedule, "the schedule never fires within a year; not scheduling");
            return;
        };
        tracing::info!(next = %next.to_zoned(settings.timezone.clone()), "next scheduled run");
        let wait = next.duration_since(SystemClock.now()).try_into().unwrap_or(Duration::ZERO);
        tokio::select! {
            () = &mut stop_wait => return,
            () = tokio::time::sleep(wait) => {}
        }
        run_now(&shared, RunRequest { source: DetectionSource::Schedule, datasource: None }).await;
        record_fire(store, next).await;
    }
}

async fn record_fire(store: &repowatch_local::SqliteStateStore, at: jiff::Timestamp) {
    if let Err(e) = store.set_schedule_last_run(SCHEDULE_NAME, at).await {
        tracing::warn!(error = %e.chain(), "cannot record the scheduled run; it may be caught up again at the next start");
    }
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body.into()).into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn github_webhook(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let ports = shared.app.ports();
    let Some(secret) = ports.webhook_secret.as_ref() else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "webhooks are off: set [serve] webhook_secret\n");
    };
    let headers: BTreeMap<String, String> =
        headers.iter().filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_owned(), v.to_owned()))).collect();
    // The step verifies the raw bytes: a body that is not UTF-8 travels as base64.
    let input = match String::from_utf8(body.to_vec()) {
        Ok(body) => WebhookInput { headers, body, is_base64_encoded: false },
        Err(e) => WebhookInput {
            headers,
            body: base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
            is_base64_encoded: true,
        },
    };
    let output = match steps::github_webhook(input, secret, &*ports.catalog, &*ports.store, &*ports.clock).await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e.cause(), "github-webhook failed");
            return text(StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the server log\n");
        }
    };
    for request in output.runs {
        let shared2 = shared.clone();
        if let Ok(mut runs) = shared.runs.lock() {
            // Reap finished runs so the set stays small on a long-lived server.
            while runs.try_join_next().is_some() {}
            runs.spawn(async move { run_now(&shared2, request).await });
        }
    }
    // A run one of our builds started has finished: tell people, after answering.
    if let Some(report) = output.workflow_run.filter(|r| r.recorded && r.status.as_deref() == Some("completed")) {
        let app = shared.app.clone();
        if let Ok(mut runs) = shared.runs.lock() {
            runs.spawn(async move { crate::notices::run_finished(&app, &report).await });
        }
    }
    let status = StatusCode::from_u16(output.status_code).unwrap_or(StatusCode::OK);
    text(status, format!("{}\n", output.body))
}

async fn build_request(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let app = &shared.app;
    let (Some(secret), Some(serve)) = (app.build_secret.as_ref(), app.config.serve.as_ref()) else {
        return text(StatusCode::NOT_FOUND, "build requests are off: set [serve] build_secret and build_targets\n");
    };
    // Nothing is read before the signature holds, and a refusal says nothing more.
    if signature::verify(secret, &body, header_str(&headers, repowatch_github::SIGNATURE_HEADER)).is_err() {
        return text(StatusCode::UNAUTHORIZED, "");
    }
    let request: BuildRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return text(StatusCode::BAD_REQUEST, format!("the body is not a build request: {e}\n")),
    };
    let derived = IdempotencyKey::derive(&request.datasource, &request.git_ref, &request.commit, &request.target);
    if derived != request.key || header_str(&headers, repowatch_github::KEY_HEADER) != Some(request.key.as_str()) {
        return text(
            StatusCode::BAD_REQUEST,
            "X-Repowatch-Key must equal the body's key, derived from its datasource, ref, commit and target\n",
        );
    }
    let delivery = format!("build:{}", request.key);
    let now = SystemClock.now();
    match app.store.record_delivery(&delivery, now).await {
        Ok(true) => {}
        Ok(false) => return text(StatusCode::OK, format!("duplicate: build {} was already accepted\n", request.key)),
        Err(e) => {
            tracing::error!(error = %e.chain(), "cannot record the build request");
            return text(StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable; resend later\n");
        }
    }
    let local: Vec<BuildRequest> = serve
        .build_targets
        .iter()
        .map(|target| {
            BuildRequest::new(
                request.datasource.clone(),
                request.git_ref.clone(),
                request.commit.clone(),
                request.kind,
                request.source,
                target.clone(),
                request.detected_at,
                request.run_id.clone(),
            )
        })
        .collect();
    match app.queue.enqueue(&local).await {
        Ok(ids) => {
            tracing::info!(key = %request.key, datasource = %request.datasource, builds = ids.len(), "build request accepted");
            text(StatusCode::ACCEPTED, format!("accepted: {} build(s) queued\n", ids.len()))
        }
        Err(e) => {
            // Not queued: forget the key so the sender's retry is accepted.
            if let Err(f) = app.store.forget_delivery(&delivery).await {
                tracing::error!(error = %f.chain(), "cannot forget the build request; its resend will be taken as a duplicate");
            }
            tracing::error!(error = %e.chain(), "cannot queue the build request");
            text(StatusCode::SERVICE_UNAVAILABLE, "cannot queue the build; resend later\n")
        }
    }
}

// ---------------------------------------------------------------------------
// The status page

/// Headers every status response carries: no caching of live data, no
/// sniffing, no referrer (run links leave the page), no framing, and a CSP
/// that allows only this origin's stylesheet and script.
fn page_headers(content_type: &'static str) -> [(header::HeaderName, &'static str); 6] {
    [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    ]
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut headers = page_headers(content_type);
    headers[1].1 = "public, max-age=300";
    (headers, body).into_response()
}

/// The cookie `/?token=…` sets: an HMAC of a fixed text under the token, so the
/// token itself is never stored in the browser.
const COOKIE: &str = "repowatch_status";
const COOKIE_MESSAGE: &[u8] = b"repowatch status page";

/// Headers that say a request came through a proxy: it is not "this machine" then,
/// whatever the peer address.
const FORWARDING: &[&str] = &["forwarded", "x-forwarded-for", "x-real-ip", "cf-connecting-ip", "true-client-ip"];

/// Whether the status may be shown to this request, or the refusal.
/// `Ok(Some(cookie))` when a `?token=` was right: redirect and set it.
fn authorize(
    status_token: Option<&repowatch_core::secret::SecretString>,
    peer: SocketAddr,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Result<Option<String>, Refusal> {
    let proxied = FORWARDING.iter().any(|h| headers.contains_key(*h));
    // `::ffff:127.0.0.1` (IPv4 on a dual-stack socket) is this machine too.
    if peer.ip().to_canonical().is_loopback() && !proxied {
        return Ok(None);
    }
    let Some(token) = status_token else {
        return Err(Refusal::OnlyHere);
    };
    // Compare HMACs under the configured token: constant time, and no length leak.
    let matches = |given: &str| {
        let given = repowatch_core::secret::SecretString::new(given.to_owned());
        signature::verify(token, COOKIE_MESSAGE, Some(&signature::sign(&given, COOKIE_MESSAGE))).is_ok()
    };
    let bearer = header_str(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|b| matches(b.trim())) {
        return Ok(None);
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(COOKIE).and_then(|c| c.strip_prefix('=')))
        .any(|c| signature::verify(token, COOKIE_MESSAGE, Some(c)).is_ok());
    if cookie {
        return Ok(None);
    }
    match query.get("token") {
        Some(given) if matches(given) => Ok(Some(signature::sign(token, COOKIE_MESSAGE))),
        _ => Err(Refusal::NeedsToken),
    }
}

/// Why the status page is not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// From elsewhere, and no `serve.status_token` is set: 403.
    OnlyHere,
    /// From elsewhere without the right token: 401.
    NeedsToken,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::OnlyHere => text(
                StatusCode::FORBIDDEN,
                "the status page answers only on this machine; set [serve] status_token to open it to others\n",
            ),
            Refusal::NeedsToken => text(
                StatusCode::UNAUTHORIZED,
                "this status page needs its token: open /?token=<serve.status_token> once, or send Authorization: Bearer <token>\n",
            ),
        }
    }
}

/// `?lang=ja|en`, else `settings.language`.
fn language(app: &App, query: &HashMap<String, String>) -> repowatch_notify::Lang {
    match query.get("lang").map(String::as_str) {
        Some("ja") => repowatch_notify::Lang::Ja,
        Some("en") => repowatch_notify::Lang::En,
        _ => app.config.settings.language,
    }
}

fn etag_of(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:016x}\"", h.finish())
}

async fn snapshot(app: &App) -> Result<crate::status::Snapshot, Response> {
    crate::status::gather(app, crate::status::Limits::default()).await.map_err(|e| {
        tracing::error!(error = %e.chain(), "cannot read the status");
        text(StatusCode::SERVICE_UNAVAILABLE, "the store is unavailable\n")
    })
}

type Query = axum::extract::Query<HashMap<String, String>>;

async fn status_page(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::extract::Query(query): Query,
    headers: HeaderMap,
) -> Response {
    let app = &shared.app;
    match authorize(app.status_token.as_ref(), peer, &headers, &query) {
        Err(refusal) => return refusal.into_response(),
        Ok(Some(cookie)) => {
            // Drop the token from the address bar (and from history) at once.
            let lang =
                query.get("lang").map(|l| format!("?lang={}", if l == "ja" { "ja" } else { "en" })).unwrap_or_default();
            let cookie = format!("{COOKIE}={cookie}; Path=/; HttpOnly; SameSite=Strict; Max-Age=31536000");
            return (StatusCode::SEE_OTHER, [(header::LOCATION, format!("/{lang}")), (header::SET_COOKIE, cookie)])
                .into_response();
        }
        Ok(None) => {}
    }
    let s = match snapshot(app).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = language(app, &query);
    let tz = &app.config.settings.timezone;
    let main = page::main(&s, lang, tz);
    let etag = etag_of(&main);
    (page_headers("text/html; charset=utf-8"), page::page(&s, lang, tz, &main, &etag)).into_response()
}

async fn status_main(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    axum::extract::Query(query): Query,
    headers: HeaderMap,
) -> Response {
    let app = &shared.app;
    if let Err(refusal) = authorize(app.status_token.as_ref(), peer, &headers, &HashMap::new()) {
        return refusal.into_response();
    }
    let s = match snapshot(app).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let body = page::main(&s, language(app, &query), &app.config.settings.timezone);
    let etag = etag_of(&body);
    if header_str(&headers, "if-none-match") == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut response = (page_headers("text/html; charset=utf-8"), body).into_response();
    if let Ok(v) = etag.parse() {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

async fn status_json(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let app = &shared.app;
    if let Err(refusal) = authorize(app.status_token.as_ref(), peer, &headers, &HashMap::new()) {
        return refusal.into_response();
    }
    match snapshot(app).await {
        Ok(s) => (page_headers("application/json"), serde_json::to_string(&s).unwrap_or_default()).into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use repowatch_core::secret::SecretString;

    fn ask(
        token: Option<&str>,
        peer: &str,
        headers: &[(&str, &str)],
        query: &[(&str, &str)],
    ) -> Result<Option<String>, u16> {
        let token = token.map(|t| SecretString::new(t.to_owned()));
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        let query = query.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        authorize(token.as_ref(), peer.parse().unwrap(), &map, &query).map_err(|r| r.into_response().status().as_u16())
    }

    #[test]
    fn this_machine_sees_the_page_without_a_token() {
        assert_eq!(ask(None, "127.0.0.1:5000", &[], &[]), Ok(None));
        assert_eq!(ask(None, "[::1]:5000", &[], &[]), Ok(None));
        assert_eq!(ask(None, "[::ffff:127.0.0.1]:5000", &[], &[]), Ok(None), "IPv4 loopback on a dual-stack socket");
    }

    #[test]
    fn other_machines_and_proxies_are_refused_without_a_token() {
        assert_eq!(ask(None, "192.0.2.10:5000", &[], &[]), Err(403));
        assert_eq!(ask(None, "[2001:db8::1]:5000", &[], &[]), Err(403));
        for h in FORWARDING {
            assert_eq!(ask(None, "127.0.0.1:5000", &[(h, "203.0.113.9")], &[]), Err(403), "{h}");
        }
        // A token in the request changes nothing when none is configured.
        assert_eq!(ask(None, "192.0.2.10:5000", &[("authorization", "Bearer x")], &[("token", "x")]), Err(403));
    }

    #[test]
    fn with_a_token_others_must_show_it() {
        let t = Some("s3cret-status-token");
        assert_eq!(ask(t, "192.0.2.10:5000", &[], &[]), Err(401));
        assert_eq!(ask(t, "192.0.2.10:5000", &[("authorization", "Bearer wrong")], &[]), Err(401));
        assert_eq!(ask(t, "192.0.2.10:5000", &[("authorization", "Bearer s3cret-status-token-")], &[]), Err(401));
        assert_eq!(ask(t, "192.0.2.10:5000", &[("authorization", "Bearer s3cret-status-token")], &[]), Ok(None));
        assert_eq!(ask(t, "127.0.0.1:5000", &[("x-forwarded-for", "203.0.113.9")], &[]), Err(401));
        assert_eq!(ask(t, "192.0.2.10:5000", &[], &[("token", "nope")]), Err(401));
        let cookie = ask(t, "192.0.2.10:5000", &[], &[("token", "s3cret-status-token")]).unwrap().unwrap();
        assert!(!cookie.contains("s3cret"), "the cookie is not the token");
        let sent = format!("theme=dark; {COOKIE}={cookie}");
        assert_eq!(ask(t, "192.0.2.10:5000", &[("cookie", sent.as_str())], &[]), Ok(None));
        let forged = format!("{COOKIE}=sha256=00");
        assert_eq!(ask(t, "192.0.2.10:5000", &[("cookie", forged.as_str())], &[]), Err(401));
    }
}
