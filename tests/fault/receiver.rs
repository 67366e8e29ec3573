//! The build server at the other end of a `webhook` target: a real HTTP
//! server on 127.0.0.1 that checks `X-Repowatch-Signature-256` over the raw
//! body and writes every accepted build into the ledger. It can be told to
//! fail (an outage) or to hang (a build server that takes the connection and
//! never answers).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use repowatch_core::BuildRequest;
use repowatch_core::secret::SecretString;

/// One build the receiver accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub request: BuildRequest,
    /// The `X-Repowatch-Key` header, which must equal the body's key.
    pub key_header: String,
}

#[derive(Default)]
pub struct ReceiverState {
    pub accepted: Mutex<Vec<Received>>,
    /// Requests refused because the signature did not verify.
    pub bad_signatures: AtomicU64,
    /// While set, every request gets 503 (a build server that is down).
    pub outage: AtomicBool,
    /// Requests answered 503 during an outage.
    pub refused: AtomicU64,
    /// Per mille of requests that hang (never answered; the caller's timeout ends them).
    pub hang_per_mille: AtomicU64,
    pub hung: AtomicU64,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<ReceiverState>,
    secret: String,
}

struct Shared {
    state: Arc<ReceiverState>,
    secret: SecretString,
}

impl Receiver {
    pub async fn start(secret: &str) -> Receiver {
        let state = Arc::new(ReceiverState::default());
        let shared = Arc::new(Shared { state: Arc::clone(&state), secret: SecretString::new(secret) });
        let app = Router::new().route("/build", post(build)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let url = format!("http://{}/build", listener.local_addr().expect("local addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, state, secret: secret.to_owned() }
    }

    pub fn secret(&self) -> SecretString {
        SecretString::new(self.secret.clone())
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.state.accepted.lock().expect("receiver lock").clone()
    }
}

async fn build(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let state = &shared.state;
    let header = headers.get(repowatch_github::SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if repowatch_core::signature::verify(&shared.secret, &body, header).is_err() {
        state.bad_signatures.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::UNAUTHORIZED, "bad signature".into());
    }
    if state.outage.load(Ordering::Relaxed) {
        state.refused.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance".into());
    }
    let hang = state.hang_per_mille.load(Ordering::Relaxed);
    if hang > 0 && rand::random_range(0..1000) < hang {
        state.hung.fetch_add(1, Ordering::Relaxed);
        // Taken, never answered: the sender's timeout has to end it.
        std::future::pending::<()>().await;
    }
    let Ok(request) = serde_json::from_slice::<BuildRequest>(&body) else {
        return (StatusCode::BAD_REQUEST, "not a build request".into());
    };
    let key_header =
        headers.get(repowatch_github::KEY_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    state.accepted.lock().expect("receiver lock").push(Received { request, key_header });
    (StatusCode::ACCEPTED, "queued".into())
}
