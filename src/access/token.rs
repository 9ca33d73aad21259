//! Access tokens: HS256 JWTs signed with a server secret, as LiveKit, Jitsi and Galène use.
//! The operator's backend mints them (or `tessera token`); the server only verifies.

use std::collections::HashMap;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp` and `nbf`, seconds.
pub const LEEWAY_SECS: u64 = 30;
/// Shortest secret accepted, bytes: RFC 7518 §3.2 asks HS256 keys to be at least as long as the hash.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a token lets its holder be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    /// May join as a publisher or a viewer.
    Publisher,
    /// May join as a viewer only.
    Viewer,
    /// May join as anything, change the layout, and call the REST API.
    Admin,
}

/// The claims Tessera reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The room the token is for, or `"*"` for any.
    pub room: String,
    /// Display name; when present, the client's `name` is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the holder may be.
    pub role: TokenRole,
    /// Expiry, seconds since the epoch (required).
    pub exp: u64,
    /// Not valid before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// The holder, as a publisher, may change the room's layout.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub layout: bool,
}

impl Claims {
    /// Whether the token is for `room`.
    pub fn allows_room(&self, room: &str) -> bool {
        self.room == "*" || self.room == room
    }
}

/// Why a token was not accepted (each is `unauthorized` to the client).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No token where one is required.
    #[error("an access token is required")]
    Missing,
    /// Not a JWT, or claims of the wrong shape.
    #[error("malformed access token: {0}")]
    Malformed(String),
    /// Signed with another algorithm than HS256 (including `none`).
    #[error("access tokens must be signed with HS256")]
    WrongAlgorithm,
    /// A `kid` the server has no secret for.
    #[error("unknown token key id {0:?}")]
    UnknownKey(String),
    /// The signature does not match.
    #[error("access token signature is not valid")]
    BadSignature,
    /// Past `exp`.
    #[error("access token expired")]
    Expired,
    /// Before `nbf`.
    #[error("access token not valid yet")]
    NotYetValid,
}

/// The server's token secrets, by key id.
#[derive(Clone, Default)]
pub struct Keys {
    /// Secrets named by a `kid`.
    named: HashMap<String, DecodingKey>,
    /// The secret of tokens without a `kid`.
    unnamed: Option<DecodingKey>,
    /// What `tessera token` signs with: the first secret given, and its `kid`.
    signing: Option<(Option<String>, EncodingKey)>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("kids", &self.named.keys().collect::<Vec<_>>()).finish_non_exhaustive()
    }
}

/// Splits `KID:SECRET`; a prefix that is not a plausible key id is part of the secret.
fn split_kid(entry: &str) -> (Option<&str>, &str) {
    match entry.split_once(':') {
        Some((kid, secret))
            if (1..=64).contains(&kid.len())
                && kid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.') =>
        {
            (Some(kid), secret)
        }
        _ => (None, entry),
    }
}

impl Keys {
    /// Keys from `SECRET` / `KID:SECRET` entries; none means tokens are off.
    pub fn new(entries: &[String]) -> anyhow::Result<Self> {
        let mut keys = Self::default();
        for entry in entries {
            let (kid, secret) = split_kid(entry);
            anyhow::ensure!(
                secret.len() >= MIN_SECRET_BYTES,
                "a token secret must be at least {MIN_SECRET_BYTES} bytes"
            );
            let decoding = DecodingKey::from_secret(secret.as_bytes())?;
            match kid {
                Some(kid) => anyhow::ensure!(
                    keys.named.insert(kid.to_owned(), decoding).is_none(),
                    "token key id {kid:?} given twice"
                ),
                None => {
                    anyhow::ensure!(keys.unnamed.is_none(), "only one token secret may go without a key id");
                    keys.unnamed = Some(decoding);
                }
            }
            if keys.signing.is_none() {
                keys.signing = Some((kid.map(str::to_owned), EncodingKey::from_secret(secret.as_bytes())?));
            }
        }
        Ok(keys)
    }

    /// Whether any secret is configured (then every join needs a token).
    pub fn enabled(&self) -> bool {
        self.signing.is_some()
    }

    /// Verifies `token`'s signature, algorithm and times, and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::WrongAlgorithm);
        }
        let key = match &header.kid {
            Some(kid) => self.named.get(kid).ok_or_else(|| TokenError::UnknownKey(kid.chars().take(64).collect()))?,
            None => self.unnamed.as_ref().ok_or_else(|| TokenError::UnknownKey(String::new()))?,
        };
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        jsonwebtoken::decode::<Claims>(token, key, &validation).map(|data| data.claims).map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidAlgorithm => TokenError::WrongAlgorithm,
            _ => TokenError::Malformed(e.to_string()),
        })
    }

    /// Signs `claims` with the first configured secret.
    pub fn mint(&self, claims: &Claims) -> anyhow::Result<String> {
        let (kid, key) = self.signing.as_ref().ok_or_else(|| anyhow::anyhow!("no token secret configured"))?;
        let header = Header { kid: kid.clone(), ..Header::new(Algorithm::HS256) };
        Ok(jsonwebtoken::encode(&header, claims, key)?)
    }
}

#[cfg(test)]
mod tests;
