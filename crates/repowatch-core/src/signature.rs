//! HMAC-SHA256 body signatures in GitHub's format, `sha256=<hex>`: verifying
//! `X-Hub-Signature-256` on GitHub webhooks, and signing (and verifying)
//! `X-Repowatch-Signature-256` on the build requests of a `webhook` target.
//!
//! Verification compares in constant time (`Mac::verify_slice`), and its error
//! says only what kind of problem it was: never the expected value, the
//! received one or the secret.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::SecretString;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "sha256=";

/// Why a signature was refused. Deliberately without detail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the request has no signature header")]
    Missing,
    #[error("the signature header is not of the form sha256=<64 hex digits>")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
}

fn mac(secret: &SecretString) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(secret.expose().as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable_invalid_length(),
    }
}

#[allow(clippy::panic)]
fn unreachable_invalid_length() -> HmacSha256 {
    panic!("HMAC accepts keys of every length")
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`.
pub fn sign(secret: &SecretString, body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    format!("{PREFIX}{}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks `header` (the value of `X-Hub-Signature-256` or
/// `X-Repowatch-Signature-256`) against `body`, in constant time.
pub fn verify(secret: &SecretString, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let digest = header.trim().strip_prefix(PREFIX).ok_or(SignatureError::Malformed)?;
    if digest.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    let expected = hex::decode(digest).map_err(|_| SignatureError::Malformed)?;
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&expected).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn secret() -> SecretString {
        SecretString::new("It's a Secret to Everybody")
    }

    /// The test vector of GitHub's "Validating webhook deliveries".
    const GITHUB_VECTOR: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn githubs_test_vector() {
        assert_eq!(sign(&secret(), b"Hello, World!"), GITHUB_VECTOR);
        assert_eq!(verify(&secret(), b"Hello, World!", Some(GITHUB_VECTOR)), Ok(()));
        // Upper-case hex is the same digest.
        assert_eq!(
            verify(&secret(), b"Hello, World!", Some(&GITHUB_VECTOR.to_uppercase().replace("SHA256=", "sha256="))),
            Ok(())
        );
    }

    #[test]
    fn the_negative_set() {
        let body = b"Hello, World!";
        assert_eq!(
            verify(&SecretString::new("It's a secret to everybody"), body, Some(GITHUB_VECTOR)),
            Err(SignatureError::Mismatch),
            "wrong secret"
        );
        assert_eq!(
            verify(&secret(), b"Hello, World?", Some(GITHUB_VECTOR)),
            Err(SignatureError::Mismatch),
            "flipped byte in the body"
        );
        let mut flipped = GITHUB_VECTOR.to_owned();
        flipped.replace_range(10..11, "8");
        assert_eq!(
            verify(&secret(), body, Some(&flipped)),
            Err(SignatureError::Mismatch),
            "flipped digit in the signature"
        );
        assert_eq!(verify(&secret(), body, None), Err(SignatureError::Missing));
        for malformed in [
            "",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea",
            "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] {
            assert_eq!(verify(&secret(), body, Some(malformed)), Err(SignatureError::Malformed), "{malformed:?}");
        }
    }

    #[test]
    fn errors_say_nothing_about_the_values() {
        let err = verify(&secret(), b"x", Some(GITHUB_VECTOR)).unwrap_err().to_string();
        assert!(!err.contains("757107") && !err.contains("Secret"), "{err}");
    }

    proptest! {
        #[test]
        fn any_signed_body_verifies_and_any_change_does_not(
            key in ".{0,80}",
            body in proptest::collection::vec(any::<u8>(), 0..512),
            flip in any::<prop::sample::Index>(),
        ) {
            let secret = SecretString::new(key);
            let header = sign(&secret, &body);
            prop_assert_eq!(verify(&secret, &body, Some(&header)), Ok(()));
            if !body.is_empty() {
                let mut changed = body.clone();
                let i = flip.index(changed.len());
                changed[i] ^= 0x01;
                prop_assert_eq!(verify(&secret, &changed, Some(&header)), Err(SignatureError::Mismatch));
            }
        }
    }
}
