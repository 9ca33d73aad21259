//! An agent's picture on its tile (`{"type":"image"}` and a JPEG or PNG): decoded off the
//! room's thread by [`decode_image`], then shown by the room in place of its placeholder.

use std::sync::Arc;
use std::time::Duration;

use gst::prelude::*;

use super::RoomMedia;
use crate::draw::Image;
use crate::ids::ParticipantId;

/// The largest picture kept, in pixels each way; larger ones are scaled down while decoded.
const MAX_SIDE: i32 = 1280;

/// Decodes a JPEG or PNG into an RGB image (at most [`MAX_SIDE`] each way). Blocking: call it
/// from a blocking thread. The error says why the bytes are not a picture.
pub fn decode_image(bytes: &[u8]) -> Result<Image, String> {
    let kind = match bytes {
        [0xFF, 0xD8, ..] => "jpegdec",
        [0x89, b'P', b'N', b'G', ..] => "pngdec",
        _ => return Err("not a JPEG or PNG".into()),
    };
    let desc = format!(
        "appsrc name=src ! {kind} ! videoconvert ! videoscale add-borders=true \
         ! video/x-raw,format=RGB,width=[2,{MAX_SIDE}],height=[2,{MAX_SIDE}],pixel-aspect-ratio=1/1 \
         ! appsink name=sink sync=false"
    );
    let pipeline =
        gst::parse::launch(&desc).map_err(|e| e.to_string())?.downcast::<gst::Pipeline>().map_err(|_| "no pipeline")?;
    let decoded = run(&pipeline, bytes);
    // Already on a blocking thread: every child is taken to NULL here, before the last reference.
    if let Err(e) = tessera_webrtc::teardown::stop(pipeline.upcast_ref()) {
        tracing::warn!("image decoder did not stop: {e}");
    }
    decoded
}

fn run(pipeline: &gst::Pipeline, bytes: &[u8]) -> Result<Image, String> {
    let src = pipeline.by_name("src").and_then(|e| e.downcast::<gst_app::AppSrc>().ok()).ok_or("no appsrc")?;
    let sink = pipeline.by_name("sink").and_then(|e| e.downcast::<gst_app::AppSink>().ok()).ok_or("no appsink")?;
    pipeline.set_state(gst::State::Playing).map_err(|e| e.to_string())?;
    src.push_buffer(gst::Buffer::from_slice(bytes.to_vec())).map_err(|e| e.to_string())?;
    let _ = src.end_of_stream();
    let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_seconds(5)) else {
        let bus = pipeline.bus().ok_or("no bus")?;
        let why =
            bus.timed_pop_filtered(gst::ClockTime::ZERO, &[gst::MessageType::Error]).and_then(|m| match m.view() {
                gst::MessageView::Error(e) => Some(e.error().to_string()),
                _ => None,
            });
        return Err(why.unwrap_or_else(|| "the picture did not decode".into()));
    };
    let info = gst_video::VideoInfo::from_caps(sample.caps().ok_or("no caps")?).map_err(|e| e.to_string())?;
    let buffer = sample.buffer().ok_or("no buffer")?;
    let map = buffer.map_readable().map_err(|e| e.to_string())?;
    let (w, h, stride) = (info.width(), info.height(), info.stride()[0] as usize);
    let mut image = Image::new(w, h, [0, 0, 0]);
    for y in 0..h as usize {
        for x in 0..w as usize {
            let p = y * stride + x * 3;
            image.pixels[y * image.width as usize + x] = [map[p], map[p + 1], map[p + 2]];
        }
    }
    Ok(image)
}

/// How long decoding may take before it counts as failed.
pub const DECODE_LIMIT: Duration = Duration::from_secs(5);

impl RoomMedia {
    /// Shows `image` on `who`'s tile in place of its placeholder.
    pub fn set_tile_image(&mut self, who: ParticipantId, image: Arc<Image>) {
        if let Some(overlays) = self.peers.get_mut(&who).and_then(|p| p.overlays.as_mut()) {
            overlays.image = Some(image);
            self.show_stage();
        }
    }
}
