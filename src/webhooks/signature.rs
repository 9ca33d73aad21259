//! Webhook signatures (pure): `Tessera-Signature: t=<unix seconds>,v1=<hex>` where the hex is
//! HMAC-SHA256, keyed with the webhook secret, of `<t>.<body>`. A receiver recomputes it, compares
//! in constant time, and refuses a `t` further than [`REPLAY_WINDOW`] from its clock (a
//! captured request cannot be replayed later) and an event id it has already seen.

use ring::hmac;

/// How far a signature's timestamp may be from the receiver's clock.
pub const REPLAY_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

/// The header carrying the signature.
pub const HEADER: &str = "tessera-signature";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The header is not `t=…,v1=…`.
    #[error("malformed signature header")]
    Malformed,
    /// The timestamp is outside the replay window.
    #[error("timestamp {0} s away from now, beyond the replay window")]
    Stale(u64),
    /// The HMAC does not match.
    #[error("signature does not match")]
    Mismatch,
}

fn key(secret: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// The header value signing `body` at unix time `t`.
pub fn sign(secret: &str, t: u64, body: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(&key(secret));
    ctx.update(format!("{t}.").as_bytes());
    ctx.update(body);
    format!("t={t},v1={}", hex(ctx.sign().as_ref()))
}

/// Checks `header` against `body` at unix time `now`.
pub fn verify(secret: &str, header: &str, body: &[u8], now: u64) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<u64>().ok(),
            Some(("v1", value)) => v1 = unhex(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return Err(SignatureError::Malformed) };
    let skew = now.abs_diff(t);
    if skew > REPLAY_WINDOW.as_secs() {
        return Err(SignatureError::Stale(skew));
    }
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    hmac::verify(&key(secret), &signed, &v1).map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_and_verifies() {
        let header = sign("s3cret", 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert_eq!(verify("s3cret", &header, b"{\"a\":1}", 1_700_000_010), Ok(()));
        assert_eq!(verify("s3cret", &header, b"{\"a\":2}", 1_700_000_010), Err(SignatureError::Mismatch));
        assert_eq!(verify("other", &header, b"{\"a\":1}", 1_700_000_010), Err(SignatureError::Mismatch));
        assert_eq!(verify("s3cret", &header, b"{\"a\":1}", 1_700_000_301), Err(SignatureError::Stale(301)));
        assert_eq!(verify("s3cret", "v1=00", b"", 0), Err(SignatureError::Malformed));
        assert_eq!(verify("s3cret", "t=1,v1=zz", b"", 1), Err(SignatureError::Malformed));
    }

    #[test]
    fn a_known_vector() {
        // printf '0.The quick brown fox jumps over the lazy dog' | openssl dgst -sha256 -hmac key
        let header = sign("key", 0, b"The quick brown fox jumps over the lazy dog");
        assert_eq!(header, "t=0,v1=8511f28f7a1949f0c42772b447d68b2daf760f5f0439a20a17e3b4e7cd395763");
    }
}
