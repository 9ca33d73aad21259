//! Who may do what, and how much of it: access tokens ([`token`]), the join decision
//! ([`admit`]), per-address limits ([`AddressLimits`]), per-socket message rates
//! ([`rate`]) and the TURN credentials a joining client is handed ([`TurnIssuer`]). Pure and synchronous: the socket glue asks, these answer, nothing here touches a
//! room or GStreamer, so a refused join costs no media object.

mod address;
pub mod rate;
pub mod token;
mod turn_credentials;

pub use address::{AddressLimits, ConnectionGuard};
pub use token::{Claims, Keys, TokenError, TokenRole};
pub use turn_credentials::{TurnConfigError, TurnIssuer};

use crate::protocol::{ErrorCode, Role};

/// What an admitted join may do, beyond its role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    /// The display name the token fixes (the client's is ignored then).
    pub name: Option<String>,
    /// May change the room's layout with `setLayout`.
    pub may_set_layout: bool,
}

/// Why a join was refused before anything was built for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No valid token (missing, bad signature, expired, wrong algorithm).
    #[error("{0}")]
    Unauthorized(#[from] TokenError),
    /// A valid token that does not allow this join.
    #[error("{0}")]
    Forbidden(String),
}

impl Refusal {
    /// The code the client is told.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unauthorized(_) => ErrorCode::Unauthorized,
            Self::Forbidden(_) => ErrorCode::Forbidden,
        }
    }
}

/// Decides whether a `join` of `room` as `role`, carrying `token`, may go ahead.
///
/// Without secrets anyone may join (a local try must keep working) and only `dev` lets
/// publishers change the layout. With secrets a token is required: it must be valid, for this
/// room (or `*`), and allow the role (a viewer token joins only as a viewer).
pub fn admit(keys: &Keys, dev: bool, token: Option<&str>, room: &str, role: Role) -> Result<Admission, Refusal> {
    if !keys.enabled() {
        return Ok(Admission { name: None, may_set_layout: dev && role == Role::Publisher });
    }
    let claims = keys.verify(token.ok_or(TokenError::Missing)?)?;
    if !claims.allows_room(room) {
        return Err(Refusal::Forbidden(format!("the token is for room {:?}, not {room:?}", claims.room)));
    }
    // An agent speaks and has a tile: a viewer's token does not let it in.
    if claims.role == TokenRole::Viewer && role.has_tile() {
        return Err(Refusal::Forbidden("the token allows joining as a viewer only".into()));
    }
    let layout = claims.layout || claims.role == TokenRole::Admin || dev;
    Ok(Admission { name: claims.name, may_set_layout: layout && role == Role::Publisher })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new(&["tessera-test-secret-0123456789abcdef".into()]).unwrap()
    }

    fn token(room: &str, role: TokenRole, layout: bool) -> String {
        let exp = jsonwebtoken::get_current_timestamp() + 600;
        keys().mint(&Claims { room: room.into(), name: Some("Ada".into()), role, exp, nbf: None, layout }).unwrap()
    }

    #[test]
    fn without_secrets_everyone_joins_and_only_dev_publishers_lay_out() {
        let open = Keys::default();
        assert_eq!(admit(&open, false, None, "r", Role::Publisher), Ok(Admission::default()));
        assert!(admit(&open, true, None, "r", Role::Publisher).unwrap().may_set_layout);
        assert!(!admit(&open, true, None, "r", Role::Viewer).unwrap().may_set_layout);
    }

    #[test]
    fn with_secrets_the_token_decides() {
        let k = keys();
        let code = |r: Result<Admission, Refusal>| r.unwrap_err().code();
        assert_eq!(code(admit(&k, false, None, "r", Role::Viewer)), ErrorCode::Unauthorized);
        assert_eq!(code(admit(&k, false, Some("x.y.z"), "r", Role::Viewer)), ErrorCode::Unauthorized);
        let viewer = token("r", TokenRole::Viewer, false);
        assert_eq!(code(admit(&k, false, Some(&viewer), "r", Role::Publisher)), ErrorCode::Forbidden);
        assert_eq!(code(admit(&k, false, Some(&viewer), "r", Role::Agent)), ErrorCode::Forbidden);
        assert_eq!(code(admit(&k, false, Some(&viewer), "other", Role::Viewer)), ErrorCode::Forbidden);
        let ok = admit(&k, false, Some(&viewer), "r", Role::Viewer).unwrap();
        assert_eq!(ok, Admission { name: Some("Ada".into()), may_set_layout: false });
        let publisher = token("*", TokenRole::Publisher, false);
        assert!(!admit(&k, false, Some(&publisher), "any", Role::Publisher).unwrap().may_set_layout);
        let layout = token("r", TokenRole::Publisher, true);
        assert!(admit(&k, false, Some(&layout), "r", Role::Publisher).unwrap().may_set_layout);
        assert!(!admit(&k, false, Some(&layout), "r", Role::Viewer).unwrap().may_set_layout);
        let admin = token("r", TokenRole::Admin, false);
        assert!(admit(&k, false, Some(&admin), "r", Role::Publisher).unwrap().may_set_layout);
    }
}
