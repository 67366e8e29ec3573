//! The one way this workspace loads an AWS SDK configuration.
//!
//! The SDK's `default-https-client` feature brings rustls on aws-lc, while
//! reqwest (the GitHub client, the webhook targets) brings rustls on ring: two
//! crypto libraries in every bootstrap. The SDK here runs over its own hyper
//! client on rustls + ring instead, with the system's root certificates (what
//! the default client trusts too), so each binary links ring alone.

use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// A loader with the shared HTTPS client set; callers add region, endpoint or
/// credentials and `load()` it. Nothing touches the network until a request.
pub fn config_loader() -> ConfigLoader {
    let http =
        aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http)
}

/// One line for a failed SDK call: the service's error code and message, or
/// what went wrong on the way (timeout, connection). Never the raw response:
/// `DisplayErrorContext` would print headers, request ids and the body.
pub fn describe<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> String
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    use aws_sdk_dynamodb::error::SdkError;
    match e {
        SdkError::ServiceError(service) => {
            let err = service.err();
            match (err.code(), err.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => err.to_string(),
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(failure) => {
            let why = if failure.is_timeout() {
                "timed out"
            } else if failure.is_io() {
                "connection failed"
            } else {
                "request failed"
            };
            format!("{why}: {}", sources(e))
        }
        SdkError::ResponseError(_) => format!("unreadable response: {}", sources(e)),
        SdkError::ConstructionFailure(_) => format!("invalid request: {}", sources(e)),
        _ => e.to_string(),
    }
}

/// The messages of an error's causes, outermost first, without its own.
fn sources(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut next = e.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        next = cause.source();
    }
    if parts.is_empty() { e.to_string() } else { parts.join(": ") }
}
