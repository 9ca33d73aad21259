//! The listener: plain HTTP, or HTTPS/WSS with rustls when a certificate is configured; one
//! hyper connection per client, each request tagged with its client's address
//! ([`ClientAddr`]). warp 0.4's own server has neither TLS nor a way to add it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tracing::{debug, warn};

use crate::access::AddressLimits;

/// The TCP peer of the connection a request came on (never a forwarded header).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// A connection that sends nothing (no request, no TLS hello) or does not finish its TLS
/// handshake for this long is dropped (slowloris before the request)...
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(10);
/// ...and so is a connection whose request headers take longer (slowloris on the request).
const HEADER_LIMIT: Duration = Duration::from_secs(10);

/// A TLS acceptor for the PEM certificate chain `cert` and private key `key`.
pub fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<TlsAcceptor> {
    use anyhow::Context;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading TLS certificate {}", cert.display()))?;
    anyhow::ensure!(!certs.is_empty(), "no certificate in {}", cert.display());
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading TLS key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS key does not match the certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The routes, boxed to one concrete type.
pub type Routes = warp::filters::BoxedFilter<(warp::reply::Response,)>;

/// Serves `filter` on `listener` (through `tls` when given) until `shutdown` completes, then
/// stops accepting and waits for open connections to finish. A client address with `tcp`'s
/// maximum of connections open has further ones closed at accept.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    tcp: Arc<AddressLimits>,
    filter: Routes,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before accept: keep serving.
                    warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = tcp.connect(addr.ip()) else {
            debug!(%addr, "connection closed at accept: its address has its maximum open");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (filter, tls, watcher) = (filter.clone(), tls.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _slot = slot;
            match tls {
                // `peek` waits for a byte (readiness alone can be spurious).
                None => match tokio::time::timeout(HANDSHAKE_LIMIT, stream.peek(&mut [0u8; 1])).await {
                    Ok(Ok(n)) if n > 0 => connection(stream, addr, filter, watcher).await,
                    _ => debug!(%addr, "connection sent nothing; closed"),
                },
                Some(tls) => match tokio::time::timeout(HANDSHAKE_LIMIT, tls.accept(stream)).await {
                    Ok(Ok(stream)) => connection(stream, addr, filter, watcher).await,
                    Ok(Err(e)) => debug!(%addr, "TLS handshake failed: {e}"),
                    Err(_) => debug!(%addr, "TLS handshake timed out"),
                },
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Serves one connection (HTTP/1.1 with upgrades, for WebSockets).
async fn connection<IO>(io: IO, addr: SocketAddr, filter: Routes, watcher: Watcher)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = warp::service(filter);
    let service = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(ClientAddr(addr));
        tower_service::Service::call(&mut service.clone(), request)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_LIMIT);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(conn.into_owned()).await {
        debug!(%addr, "connection ended: {e}");
    }
}
