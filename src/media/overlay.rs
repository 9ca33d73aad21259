//! Still images as compositor inputs: name labels, muted badges, placeholders and the speaker
//! border. Each is an `appsrc` inside the video-mix bin that pushes a new I420 image only when
//! it changes; the compositor keeps drawing the last one. A hidden overlay has alpha 0, which
//! the compositor skips, so idle overlays cost nothing per frame.

use anyhow::Context;
use gst::prelude::*;

use crate::draw::Image;

/// One image input of the compositor.
#[derive(Debug)]
pub(super) struct Overlay {
    /// The source of the image buffers.
    appsrc: gst_app::AppSrc,
    /// The compositor's sink pad it feeds.
    pad: gst::Pad,
    /// Identifies the image last pushed, to push only on change.
    key: Option<u64>,
}

impl Overlay {
    /// Adds an overlay named `name` to `bin`, feeding `compositor`; hidden until shown.
    pub(super) fn new(bin: &gst::Bin, compositor: &gst::Element, name: &str) -> anyhow::Result<Self> {
        let appsrc =
            gst_app::AppSrc::builder().name(name).format(gst::Format::Time).is_live(true).do_timestamp(true).build();
        bin.add(&appsrc)?;
        let pad = compositor.request_pad_simple("sink_%u").context("compositor pad for an overlay")?;
        pad.set_property("alpha", 0.0f64);
        appsrc.static_pad("src").unwrap().link(&pad)?;
        appsrc.sync_state_with_parent()?;
        Ok(Self { appsrc, pad, key: None })
    }

    /// Shows the image identified by `key` (rendered by `render` only when the key changed) with
    /// its top-left corner at (x, y), stacked at `z`.
    pub(super) fn show(&mut self, key: u64, render: impl FnOnce() -> Image, x: u32, y: u32, z: u32) {
        if self.key != Some(key) {
            let image = render();
            let caps = gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .field("width", image.width as i32)
                .field("height", image.height as i32)
                .field("framerate", gst::Fraction::new(0, 1))
                .field("colorimetry", "bt601")
                .build();
            self.appsrc.set_caps(Some(&caps));
            self.pad.set_property("width", image.width as i32);
            self.pad.set_property("height", image.height as i32);
            match i420_buffer(&image) {
                Ok(buffer) => {
                    if self.appsrc.push_buffer(buffer).is_ok() {
                        self.key = Some(key);
                    }
                }
                Err(e) => tracing::warn!("cannot build an overlay image: {e}"),
            }
        }
        self.pad.set_property("xpos", x as i32);
        self.pad.set_property("ypos", y as i32);
        self.pad.set_property("zorder", z);
        self.pad.set_property("alpha", 1.0f64);
    }

    /// Hides the overlay.
    pub(super) fn hide(&self) {
        self.pad.set_property("alpha", 0.0f64);
    }

    /// Removes the overlay from `bin` and releases its compositor pad.
    pub(super) fn remove(self, bin: &gst::Bin, compositor: &gst::Element) {
        // Stopped before it is removed, and a failure said: an element let go while running can
        // hang its streaming thread's join.
        if let Err(e) = tessera_webrtc::teardown::stop(self.appsrc.upcast_ref()) {
            tracing::warn!("overlay source did not stop: {e}");
        }
        let _ = bin.remove(&self.appsrc);
        compositor.release_request_pad(&self.pad);
    }
}

/// The image as a buffer in GStreamer's default I420 layout (plane strides rounded up to 4
/// bytes), which is what the compositor expects for these caps.
fn i420_buffer(image: &Image) -> anyhow::Result<gst::Buffer> {
    let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, image.width, image.height).build()?;
    let packed = image.to_i420();
    let (w, h) = (image.width as usize, image.height as usize);
    let planes = [(0, w, h), (w * h, w / 2, h / 2), (w * h + w * h / 4, w / 2, h / 2)];
    let mut data = vec![0u8; info.size()];
    for (i, (start, pw, ph)) in planes.into_iter().enumerate() {
        let (offset, stride) = (info.offset()[i], info.stride()[i] as usize);
        for row in 0..ph {
            data[offset + row * stride..][..pw].copy_from_slice(&packed[start + row * pw..][..pw]);
        }
    }
    Ok(gst::Buffer::from_mut_slice(data))
}

/// A hash of anything hashable, as an overlay key.
pub(super) fn key_of(parts: impl std::hash::Hash) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gst_video::VideoFrameExt;

    #[test]
    fn i420_buffer_uses_the_default_strides() {
        gst::init().unwrap();
        // 6 px wide: chroma rows are 3 bytes, padded to a stride of 4; luma 6 → 8.
        let mut image = Image::new(6, 4, [255, 0, 0]);
        image.fill_rect(4, 2, 2, 2, [0, 0, 255]);
        let buffer = i420_buffer(&image).unwrap();
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, 6, 4).build().unwrap();
        assert_eq!((info.stride()[0], info.stride()[1]), (8, 4));
        assert_eq!(buffer.size(), info.size());
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info).unwrap();
        let packed = image.to_i420();
        for (plane, (start, w, h)) in [(0, 6, 4), (24, 3, 2), (30, 3, 2)].into_iter().enumerate() {
            let stride = frame.plane_stride()[plane] as usize;
            let data = frame.plane_data(plane as u32).unwrap();
            for row in 0..h {
                assert_eq!(&data[row * stride..][..w], &packed[start + row * w..][..w], "plane {plane} row {row}");
            }
        }
        // The blue block's chroma sample is the last of the second chroma row.
        let u = frame.plane_data(1).unwrap();
        assert!(u[4 + 2] > 200, "blue has high Cb: {}", u[4 + 2]);
    }
}
