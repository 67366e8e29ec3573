//! A Lambda Runtime API server on 127.0.0.1, one per function, serving
//! invocations to a real `bootstrap` process exactly as the Lambda service
//! does: `GET …/invocation/next`, `POST …/{id}/response|error`, `…/init/error`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Notify, oneshot};

/// The ARN prefix the simulated functions answer to.
pub const ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:000000000000:function:";

pub type Outcome = Result<Value, (String, String)>;

#[derive(Default)]
struct ApiState {
    pending: VecDeque<(String, Value)>,
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    first_next: Option<Instant>,
    init_error: Option<String>,
}

/// One function's Runtime API: `next`, `response`, `error`, `init/error`.
#[derive(Clone)]
struct RuntimeApi {
    state: Arc<Mutex<ApiState>>,
    wake: Arc<Notify>,
}

async fn next(State(api): State<RuntimeApi>) -> Response {
    loop {
        let notified = api.wake.notified();
        {
            let mut st = api.state.lock().unwrap();
            st.first_next.get_or_insert_with(Instant::now);
            if let Some((id, event)) = st.pending.pop_front() {
                let deadline = (std::time::SystemTime::now() + Duration::from_secs(60))
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis();
                let mut h = HeaderMap::new();
                h.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
                h.insert("lambda-runtime-deadline-ms", deadline.to_string().parse().unwrap());
                h.insert("lambda-runtime-invoked-function-arn", format!("{ARN_PREFIX}sim").parse().unwrap());
                h.insert("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".parse().unwrap());
                return (StatusCode::OK, h, event.to_string()).into_response();
            }
        }
        notified.await;
    }
}

async fn response(State(api): State<RuntimeApi>, UrlPath(id): UrlPath<String>, body: String) -> StatusCode {
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    if let Some(tx) = api.state.lock().unwrap().waiting.remove(&id) {
        let _ = tx.send(Ok(value));
    }
    StatusCode::ACCEPTED
}

async fn error(State(api): State<RuntimeApi>, UrlPath(id): UrlPath<String>, body: String) -> StatusCode {
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let kind = v["errorType"].as_str().unwrap_or("").to_owned();
    let message = v["errorMessage"].as_str().unwrap_or(&body).to_owned();
    if let Some(tx) = api.state.lock().unwrap().waiting.remove(&id) {
        let _ = tx.send(Err((kind, message)));
    }
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<RuntimeApi>, body: String) -> StatusCode {
    api.state.lock().unwrap().init_error = Some(body);
    StatusCode::ACCEPTED
}

/// One Lambda function: its bootstrap process and its Runtime API.
pub struct SimLambda {
    pub name: &'static str,
    api: RuntimeApi,
    child: Child,
    spawned: Instant,
    counter: std::sync::atomic::AtomicU64,
}

impl Drop for SimLambda {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SimLambda {
    /// Starts `bin` as function `name` with `env` (plus the AWS_LAMBDA_* variables).
    pub async fn start(name: &'static str, bin: &Path, env: &BTreeMap<String, String>) -> SimLambda {
        let api = RuntimeApi { state: Arc::default(), wake: Arc::new(Notify::new()) };
        let router = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(api.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let spawned = Instant::now();
        let child = Command::new(bin)
            .env_clear()
            .envs(env)
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "sim")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        SimLambda { name, api, child, spawned, counter: Default::default() }
    }

    /// Spawn → the first `next` request: the cold start.
    pub async fn cold_start(&self) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            {
                let st = self.api.state.lock().unwrap();
                if let Some(at) = st.first_next {
                    return at - self.spawned;
                }
                assert!(st.init_error.is_none(), "{} failed init: {:?}", self.name, st.init_error);
            }
            assert!(Instant::now() < deadline, "{} never asked for an invocation", self.name);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// One invocation: the event in, the response or the reported error out.
    pub async fn invoke(&self, event: Value) -> Outcome {
        // Unique across sandboxes, as Lambda's request ids (UUIDs) are: two
        // sandboxes of one function must never share one, or the second
        // would hold the first one's idempotency claims.
        let n = self.counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{}-{n}-{:016x}", self.name, rand::random::<u64>());
        let (tx, rx) = oneshot::channel();
        {
            let mut st = self.api.state.lock().unwrap();
            st.waiting.insert(id.clone(), tx);
            st.pending.push_back((id, event));
        }
        self.api.wake.notify_waiters();
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(outcome)) => outcome,
            _ => panic!("{} gave no answer (init error: {:?})", self.name, self.api.state.lock().unwrap().init_error),
        }
    }
}

/// A function's `bootstrap`, as `cargo build --workspace` left it in
/// target/debug (built here when missing).
pub fn bootstrap(name: &str) -> std::path::PathBuf {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| root.join("target"));
    let bin = target.join("debug").join(name);
    if !bin.exists() {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .args(["build", "-p", name])
            .status()
            .expect("cargo builds the function");
        assert!(status.success(), "cargo build -p {name}");
    }
    bin
}

/// The Lambda environment of the simulated cloud: moto for AWS, the fake
/// GitHub, the table `repowatch` and the token in `/repowatch/github-token`.
pub fn cloud_env(moto_url: &str, queue_url: &str, github_url: &str, log: &str) -> BTreeMap<String, String> {
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", moto_url),
        ("REPOWATCH_TABLE", "repowatch"),
        ("REPOWATCH_BUILD_QUEUE_URL", queue_url),
        ("REPOWATCH_GITHUB_API_URL", github_url),
        ("REPOWATCH_GITHUB_TOKEN_PARAMETER", "/repowatch/github-token"),
        ("RUST_LOG", log),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}
