//! A minimal HTTP/1.1 client for Tessera's REST API (tests and the load generator).

use std::net::SocketAddr;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends one request and returns the status and the body as JSON (`Null` if empty or not
/// JSON). `bearer` is the admin key, if any.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> anyhow::Result<(u16, serde_json::Value)> {
    let (status, body) = request_text(addr, method, path, bearer, body).await?;
    // A chunked body starts with a hex length line; take the JSON inside.
    let json = body.find(['{', '[']).and_then(|i| {
        let end = body.rfind(['}', ']'])?;
        serde_json::from_str(&body[i..=end]).ok()
    });
    Ok((status, json.unwrap_or(serde_json::Value::Null)))
}

/// Sends one request and returns the status and the body as text (e.g. `/metrics`).
pub async fn request_text(
    addr: SocketAddr,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    let mut s = tokio::net::TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
    let auth = bearer.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    let kind = if body.is_empty() { "" } else { "Content-Type: application/json\r\n" };
    let len = body.len();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}{kind}Content-Length: {len}\r\nConnection: close\r\n\r\n{body}"
    );
    s.write_all(req.as_bytes()).await?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).await?;
    let status = raw.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("no HTTP status")?;
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((status, body.to_owned()))
}
