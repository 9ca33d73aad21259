//! The REST calls a load run makes on its room: recording it, and reading how its
//! publishers' video arrives.

use anyhow::Context;

use super::LoadOptions;

/// The lowest decoded frame rate among the room's publishers at the server over the last
/// second (REST `inbound.fps`); `None` if the room could not be read within half a second.
pub(super) async fn slowest_publisher_fps(opts: &LoadOptions) -> Option<f64> {
    let path = format!("/api/rooms/{}", opts.room);
    let get = tessera_client::rest::request(opts.server, "GET", &path, opts.admin_key.as_deref(), "");
    let (status, body) = tokio::time::timeout(std::time::Duration::from_millis(500), get).await.ok()?.ok()?;
    (status == 200).then_some(())?;
    let publishers = body["participants"].as_array()?.iter().filter(|p| p["role"] == "publisher");
    publishers.filter_map(|p| p["inbound"]["fps"].as_f64()).reduce(f64::min)
}

/// Starts recording the room; returns the recording's id.
pub(super) async fn start_recording(opts: &LoadOptions) -> anyhow::Result<String> {
    let path = format!("/api/rooms/{}/recordings", opts.room);
    let (status, body) =
        tessera_client::rest::request(opts.server, "POST", &path, opts.admin_key.as_deref(), "").await?;
    anyhow::ensure!(status == 201, "starting a recording failed: {status} {body}");
    body["id"].as_str().map(str::to_owned).context("recording without id")
}

/// Stops the recording `id`; returns the bytes it wrote, if the server says.
pub(super) async fn stop_recording(opts: &LoadOptions, id: &str) -> anyhow::Result<Option<u64>> {
    let path = format!("/api/rooms/{}/recordings/{id}", opts.room);
    let (_, body) = tessera_client::rest::request(opts.server, "DELETE", &path, opts.admin_key.as_deref(), "").await?;
    Ok(body["bytes"].as_u64())
}
