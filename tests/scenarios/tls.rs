//! TLS without a proxy (issue 15): with `--tls-cert`/`--tls-key` the one listener serves HTTPS
//! and WSS (a client that trusts the certificate's CA gets `/healthz` and joins a room over
//! `wss://`); plain HTTP on that port gets no answer; a bad key refuses to start.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

use crate::common::*;

/// A CA and a certificate it signed for `localhost` and 127.0.0.1, as PEM files in `dir`;
/// returns (CA certificate DER, cert path, key path).
pub fn certificate(dir: &std::path::Path) -> (rustls::pki_types::CertificateDer<'static>, PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    let cert = leaf.signed_by(&key, &issuer).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (ca_cert.der().clone(), cert_path, key_path)
}

async fn tls_stream(
    addr: SocketAddr,
    ca: &rustls::pki_types::CertificateDer<'static>,
) -> anyhow::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    Ok(connector.connect(rustls::pki_types::ServerName::try_from("localhost")?, tcp).await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_and_wss_on_one_listener() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("tessera-tls-{}", std::process::id()));
    let (ca, cert, key) = certificate(&dir);
    let server = start_server_with(test_config_with(|c| {
        c.server.tls_cert = Some(cert.clone());
        c.server.tls_key = Some(key.clone());
    }))
    .await;
    let addr = server.addr;

    let mut https = tls_stream(addr, &ca).await?;
    https.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
    let mut answer = String::new();
    https.read_to_string(&mut answer).await.ok();
    println!("GET https://localhost/healthz: {}", answer.lines().next().unwrap_or_default());
    assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("\"ok\""), "{answer}");

    let wss = tls_stream(addr, &ca).await?;
    let (mut ws, _) = tokio_tungstenite::client_async(format!("wss://localhost:{}/ws", addr.port()), wss).await?;
    let join = r#"{"type":"join","room":"secure","name":"Ada","role":"viewer"}"#;
    ws.send(tokio_tungstenite::tungstenite::Message::text(join)).await?;
    let first = loop {
        let msg = tokio::time::timeout(secs(5), ws.next()).await?.expect("a message")?;
        if msg.is_text() {
            break msg;
        }
    };
    println!("over wss: {first}");
    assert!(first.to_text()?.contains("\"joined\""), "{first}");
    drop(ws);

    // Plain HTTP to the TLS port: not served.
    let (status, _) = crate::security_access::raw_http(addr, "GET /healthz HTTP/1.1", &[], "").await;
    assert_eq!(status, 0, "plain HTTP on a TLS listener gets no HTTP answer");
    server.stop().await;

    // A key that does not match the certificate: the server refuses to start, saying why.
    let (_, other_cert, _) = certificate(&dir.join("other"));
    let mut config = test_media_config();
    (config.server.tls_cert, config.server.tls_key) = (Some(other_cert), Some(key));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let refused = tessera::run(listener, config, std::future::pending()).await;
    let why = format!("{:#}", refused.expect_err("a mismatched key must not start"));
    println!("mismatched key: {why}");
    assert!(why.contains("does not match"), "{why}");
    Ok(())
}

/// A page opened on the machine's LAN address gets camera and microphone over HTTPS, which a
/// browser refuses to an `http://` page on any address but localhost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_a_lan_address_gets_its_camera_over_https() -> anyhow::Result<()> {
    use crate::common::browser::{Browser, Kind, page};
    let lan = tessera::config::default_ice_addresses().into_iter().find(|ip| !ip.is_loopback());
    let lan = lan.ok_or_else(|| anyhow::anyhow!("this machine has no address besides loopback"))?;
    let dir = std::env::temp_dir().join(format!("tessera-tls-lan-{}", std::process::id()));
    let (ca, cert, key) = certificate(&dir);
    let config = |tls: bool| {
        let mut c = browser_media_config();
        c.server.dev = false;
        if tls {
            (c.server.tls_cert, c.server.tls_key) = (Some(cert.clone()), Some(key.clone()));
        }
        c
    };
    let mut chromium = Browser::launch_accepting_any_certificate(Kind::Chromium).await?;

    let plain = start_server_on(&format!("{lan}:0"), None, config(false)).await;
    let page = chromium.open(&format!("http://{}/?room=lan", plain.addr)).await?;
    let insecure = chromium.eval(page, "[window.isSecureContext, !!navigator.mediaDevices]").await?;
    println!("http://{}: [secure context, mediaDevices] = {insecure}", plain.addr);
    assert_eq!(insecure, serde_json::json!([false, false]), "the control: no camera over plain HTTP");
    plain.stop().await;

    let secure = start_server_on(&format!("{lan}:0"), None, config(true)).await;
    let origin = format!("https://{}", secure.addr);
    let page = page::join_as_publisher(&mut chromium, &origin, "lan", "Lan").await?;
    let stats = chromium
        .wait_for(page, "window.tessera.stats().then((s) => s && s.framesDecoded >= 30 && s)", secs(20))
        .await?;
    println!("{origin}: joined with the fake camera; {stats}");
    // The server decodes the page's camera: its inbound video runs at a frame rate.
    let mut fps = 0.0;
    for _ in 0..20 {
        let mut https = tls_stream(secure.addr, &ca).await?;
        https.write_all(b"GET /api/rooms/lan HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
        let mut answer = String::new();
        https.read_to_string(&mut answer).await.ok();
        let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
        let json =
            body.find('{').and_then(|i| serde_json::from_str::<serde_json::Value>(&body[i..=body.rfind('}')?]).ok());
        fps = json.and_then(|j| j["participants"][0]["inbound"]["fps"].as_f64()).unwrap_or_default();
        if fps >= 10.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    println!("the server decodes the page's camera at {fps:.1} fps");
    assert!(fps >= 10.0, "{fps}");
    chromium.quit().await;
    secure.stop().await;
    Ok(())
}
