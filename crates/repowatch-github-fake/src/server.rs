//! The HTTP side: one axum handler that authenticates, applies faults, charges the budget, routes to the GraphQL or
//! REST handlers, adds GitHub's headers and records the exchange.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::exchange::{Exchange, body_for_log};
use crate::faults::FaultResponse;
use crate::model::Resource;
use crate::reply::{Reply, ReplyBody};
use crate::rest::{REST_DOC, RestRequest, Route};
use crate::state::State;

/// The largest request body read.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// What the handler and the [`crate::FakeGithub`] handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) base_url: String,
    in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(state: State, base_url: String) -> Self {
        Self { state: Mutex::new(state), base_url, in_flight: AtomicUsize::new(0), max_in_flight: AtomicUsize::new(0) }
    }

    /// The state; a panic elsewhere while holding the lock does not make it unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts a request as in flight until dropped (also when the client gives up and the future is dropped).
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether an `Authorization` header carries the token (`Bearer <token>` or `token <token>`).
fn authorized(token: &str, header: Option<&str>) -> bool {
    let Some((scheme, value)) = header.and_then(|h| h.trim().split_once(' ')) else {
        return false;
    };
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")) && value.trim() == token
}

/// The next fault for this request, if one matches (its count goes down; used-up faults are dropped).
fn take_fault(st: &mut State, is_graphql: bool, path: &str) -> Option<FaultResponse> {
    let index = st.faults.iter().position(|f| f.times > 0 && f.matcher.matches(is_graphql, path))?;
    let fault = st.faults.get_mut(index)?;
    fault.times -= 1;
    let response = fault.response.clone();
    if fault.times == 0 {
        st.faults.remove(index);
    }
    Some(response)
}

/// The normal answer (after faults).
fn answer(shared: &Shared, route: &Route, req: &RestRequest<'_>) -> Reply {
    let mut st = shared.lock();
    st.roll_window();
    if *route == Route::Graphql {
        return crate::graphql::handle(&mut st, req.body);
    }
    if !route.is_free() {
        if st.core.remaining() == 0 {
            let reset = st.reset_at;
            return Reply::json(
                403,
                serde_json::json!({
                    "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID FAKE:0000:0000000:0000000:00000000.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    "status": "403",
                }),
            )
            .with_header("x-ratelimit-reset", reset.to_string());
        }
        st.core.used += 1;
    }
    crate::rest::handle(&mut st, route, req)
}

/// The axum handler of every request.
pub(crate) async fn handle(AxumState(shared): AxumState<Arc<Shared>>, request: Request) -> Response {
    let _in_flight = InFlight::enter(&shared);
    let (parts, body) = request.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let auth = parts.headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut request_headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = if name == "authorization" {
            "<redacted>".to_owned()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        request_headers
            .entry(name.as_str().to_ascii_lowercase())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let route = Route::parse(&method, &path);
    let resource = route.resource();

    let (reply, body) = match body {
        Err(_) => (Reply::error(400, "Problems reading the request body", REST_DOC), Vec::new()),
        Ok(body) => {
            let body = body.to_vec();
            let fault = {
                let mut st = shared.lock();
                match resource {
                    Resource::Graphql => st.graphql_requests += 1,
                    Resource::Core => st.rest_requests += 1,
                }
                if authorized(&st.token, auth.as_deref()) {
                    if route.is_mutation() {
                        st.mutation_times.push(Instant::now());
                    }
                    Ok(take_fault(&mut st, route == Route::Graphql, &path))
                } else {
                    Err(Reply::error(401, "Bad credentials", REST_DOC))
                }
            };
            let req =
                RestRequest { method: &method, path: &path, query: &query, body: &body, base_url: &shared.base_url };
            let reply = match fault {
                Err(reply) => reply,
                Ok(Some(FaultResponse::Delay(delay))) => {
                    tokio::time::sleep(delay).await;
                    answer(&shared, &route, &req)
                }
                Ok(Some(fault)) => fault.reply().unwrap_or_else(|| answer(&shared, &route, &req)),
                Ok(None) => answer(&shared, &route, &req),
            };
            (reply, body)
        }
    };
    finish(
        &shared,
        reply,
        Exchange {
            method,
            path,
            query,
            status: 0,
            request_headers,
            request_body: body_for_log(&body),
            response_headers: BTreeMap::new(),
            response_body: serde_json::Value::Null,
            operation: route.operation().to_owned(),
        },
        resource,
    )
}

/// Adds GitHub's headers, records the exchange and turns the reply into a response.
fn finish(shared: &Shared, mut reply: Reply, mut exchange: Exchange, resource: Resource) -> Response {
    {
        let mut st = shared.lock();
        let bucket = st.bucket(resource);
        let defaults = [
            ("x-ratelimit-limit", bucket.limit.to_string()),
            ("x-ratelimit-remaining", bucket.remaining().to_string()),
            ("x-ratelimit-used", bucket.used.to_string()),
            ("x-ratelimit-reset", st.reset_at.to_string()),
            ("x-ratelimit-resource", resource.as_str().to_owned()),
        ];
        for (name, value) in defaults {
            if !reply.has_header(name) {
                reply.set_header(name, value);
            }
        }
        let request_id = st.request_id();
        reply.set_header("x-github-request-id", request_id);
        if resource == Resource::Core {
            reply.set_header("x-github-api-version-selected", "2022-11-28".to_owned());
        }
        if !matches!(reply.body, ReplyBody::Empty) && !reply.has_header("content-type") {
            reply.set_header("content-type", "application/json; charset=utf-8".to_owned());
        }
        if st.record_exchanges {
            exchange.status = reply.status;
            exchange.response_headers = reply.headers.iter().cloned().collect();
            exchange.response_body = reply.body_for_log();
            st.exchanges.push(exchange);
        }
    }
    let mut response = Response::new(Body::from(reply.body_bytes()));
    *response.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in &reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(value)) {
            headers.insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::authorized;

    #[test]
    fn auth_schemes() {
        assert!(authorized("t", Some("Bearer t")));
        assert!(authorized("t", Some("token t")));
        assert!(authorized("t", Some("bearer t")));
        assert!(!authorized("t", Some("Bearer u")));
        assert!(!authorized("t", Some("Basic t")));
        assert!(!authorized("t", Some("t")));
        assert!(!authorized("t", None));
    }
}
