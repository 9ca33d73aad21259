//! Tokens made by another implementation (PyJWT 2.15.1) must verify, and every way a token can
//! be wrong must be refused.

use super::*;

const SECRET: &str = "tessera-test-secret-0123456789abcdef";
const K2: &str = "k2:rotated-secret-0123456789abcdefghijkl";
// Minted with PyJWT: jwt.encode(claims, secret, algorithm=...); exp 4102444800 is 2100-01-01.
const PUBLISHER_ADA: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb29tIjoiZGVtbyIsIm5hbWUiOiJBZGEiLCJyb2xlIjoicHVibGlzaGVyIiwiZXhwIjo0MTAyNDQ0ODAwfQ.K1TiEQGVj4zXzIGbzkR1mCN3WoBGUKvSCT5cFQZciJs";
const ADMIN_K2: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImsyIiwidHlwIjoiSldUIn0.eyJyb29tIjoiKiIsInJvbGUiOiJhZG1pbiIsImV4cCI6NDEwMjQ0NDgwMH0.vNh51A3wt39-haWR4OKpwXpq9rrJ_IpQYK1-DA11jk4";
const EXPIRED: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb29tIjoiZGVtbyIsInJvbGUiOiJ2aWV3ZXIiLCJleHAiOjE3MDAwMDAwMDB9.AWQpzQf3fyQyXT_WzjNZbpkPr-mwuxpZN53KM64aANM";
const HS512: &str = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJyb29tIjoiZGVtbyIsInJvbGUiOiJ2aWV3ZXIiLCJleHAiOjQxMDI0NDQ4MDB9.nQO9hrJ-K-46cKbWFFmmDiR9HZXd1cJtCZwHVPHDxfqtrVFZi6NbSrMNterxftlHGzlZXoqX1U7-6K1EdPxCpA";
const NOT_YET: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb29tIjoiZGVtbyIsInJvbGUiOiJ2aWV3ZXIiLCJleHAiOjQxMDI0NDQ4MDAsIm5iZiI6NDEwMjQ0NDc5MH0.Hlqlej0UXPYeUsWeOgY2WXlLSo-pz2Gf0s7jC4KiT7E";
const NO_EXP: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb29tIjoiZGVtbyIsInJvbGUiOiJ2aWV3ZXIifQ.9jE9ynA5V0pAR-tAjrwCNAaFEVV94G2aWnEX1cYcIV4";
const UNSIGNED: &str =
    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJyb29tIjoiZGVtbyIsInJvbGUiOiJhZG1pbiIsImV4cCI6NDEwMjQ0NDgwMH0.";

fn keys() -> Keys {
    Keys::new(&[SECRET.to_owned(), K2.to_owned()]).unwrap()
}

#[test]
fn pyjwt_tokens_verify() {
    let claims = keys().verify(PUBLISHER_ADA).unwrap();
    assert_eq!(
        (claims.room.as_str(), claims.name.as_deref(), claims.role),
        ("demo", Some("Ada"), TokenRole::Publisher)
    );
    assert!(claims.allows_room("demo") && !claims.allows_room("other"));
    let admin = keys().verify(ADMIN_K2).unwrap();
    assert_eq!(admin.role, TokenRole::Admin);
    assert!(admin.allows_room("anything"));
}

#[test]
fn wrong_tokens_are_refused() {
    let k = keys();
    assert_eq!(k.verify(EXPIRED), Err(TokenError::Expired));
    assert_eq!(k.verify(NOT_YET), Err(TokenError::NotYetValid));
    assert_eq!(k.verify(HS512), Err(TokenError::WrongAlgorithm));
    assert!(matches!(k.verify(NO_EXP), Err(TokenError::Malformed(_))), "exp is required");
    assert!(matches!(k.verify(UNSIGNED), Err(TokenError::Malformed(_) | TokenError::WrongAlgorithm)));
    assert!(matches!(k.verify("not a token"), Err(TokenError::Malformed(_))));
    // Another secret, another kid, a flipped signature byte.
    let other = Keys::new(&["another-secret-0123456789abcdefghij".into()]).unwrap();
    assert_eq!(other.verify(PUBLISHER_ADA), Err(TokenError::BadSignature));
    assert_eq!(Keys::new(&[SECRET.into()]).unwrap().verify(ADMIN_K2), Err(TokenError::UnknownKey("k2".into())));
    let mut tampered = PUBLISHER_ADA.to_owned();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(k.verify(&tampered), Err(TokenError::BadSignature));
    // A payload changed after signing (role upgraded to admin).
    let parts: Vec<&str> = PUBLISHER_ADA.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], ADMIN_K2.split('.').nth(1).unwrap(), parts[2]);
    assert_eq!(k.verify(&forged), Err(TokenError::BadSignature));
}

#[test]
fn minted_tokens_round_trip_and_leeway_is_30_s() {
    let now = jsonwebtoken::get_current_timestamp();
    let k = Keys::new(&[K2.to_owned(), SECRET.to_owned()]).unwrap();
    let claims =
        Claims { room: "r".into(), name: None, role: TokenRole::Viewer, exp: now + 60, nbf: None, layout: false };
    assert_eq!(k.verify(&k.mint(&claims).unwrap()).unwrap(), claims);
    let header = jsonwebtoken::decode_header(k.mint(&claims).unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("k2"), "signed with the first secret");
    let just_expired = Claims { exp: now - 10, ..claims.clone() };
    assert!(k.verify(&k.mint(&just_expired).unwrap()).is_ok(), "within the leeway");
    let expired = Claims { exp: now - LEEWAY_SECS - 5, ..claims };
    assert_eq!(k.verify(&k.mint(&expired).unwrap()), Err(TokenError::Expired));
}

#[test]
fn secrets_are_checked() {
    assert!(!Keys::new(&[]).unwrap().enabled());
    assert!(Keys::new(&["short".into()]).is_err());
    assert!(Keys::new(&[SECRET.into(), SECRET.into()]).is_err(), "two secrets without a kid");
    assert!(Keys::new(&[K2.into(), K2.into()]).is_err(), "a kid twice");
    // A colon inside a secret without a kid-like prefix stays part of the secret.
    assert_eq!(split_kid("a b:cdef"), (None, "a b:cdef"));
    assert_eq!(split_kid("k1:s3cret"), (Some("k1"), "s3cret"));
}
