//! What a publisher should send: the server's [`VideoConstraints`] for its video, and the size
//! a picture scales to under them ([`VideoConstraints::fit`]), shared by every client.

use serde::{Deserialize, Serialize};

use crate::layout::Size;

/// The most a publisher's video is worth sending, from the size its tile is drawn at in the
/// composite (`videoConstraints` on the socket and on the `tessera` DataChannel).
///
/// `width` x `height` is a box: scale the picture down, keeping its aspect ratio, until it fits
/// inside ([`VideoConstraints::fit`]); never scale up. A client that ignores it still works; it
/// only costs the server more decoding and scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoConstraints {
    /// Width of the box the picture should fit in, pixels.
    pub width: u32,
    /// Height of the box the picture should fit in, pixels.
    pub height: u32,
    /// Frames per second worth sending.
    pub fps: u32,
    /// Bits per second worth sending (as `RTCRtpEncodingParameters.maxBitrate`).
    pub max_bitrate: u32,
}

impl VideoConstraints {
    /// The size a `source` picture scales down to so that it fits in the box, keeping its aspect
    /// ratio, in even pixels (I420); `source` itself when it fits already.
    pub fn fit(&self, source: Size) -> Size {
        if source.width == 0 || source.height == 0 || self.width == 0 || self.height == 0 {
            return source;
        }
        if source.width <= self.width && source.height <= self.height {
            return source;
        }
        // The smaller of the two ratios, compared in u64 to stay exact.
        let (sw, sh) = (source.width as u64, source.height as u64);
        let (bw, bh) = (self.width as u64, self.height as u64);
        let (w, h) = if bw * sh <= bh * sw { (bw, (sh * bw).div_ceil(sw)) } else { ((sw * bh).div_ceil(sh), bh) };
        // Nearest even at or above, but inside the box and the source.
        let even = |v: u64, most: u32| (((v + 1) & !1) as u32).min(most & !1).max(2);
        Size::new(even(w, self.width.min(source.width)), even(h, self.height.min(source.height)))
    }

    /// How much a `source` picture is scaled down under these constraints (1 when it already
    /// fits), as `RTCRtpEncodingParameters.scaleResolutionDownBy`.
    pub fn scale_down_by(&self, source: Size) -> f64 {
        if self.width == 0 || self.height == 0 {
            return 1.0;
        }
        let by_w = source.width as f64 / self.width as f64;
        let by_h = source.height as f64 / self.height as f64;
        by_w.max(by_h).max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn box_of(width: u32, height: u32) -> VideoConstraints {
        VideoConstraints { width, height, fps: 30, max_bitrate: 300_000 }
    }

    #[test]
    fn a_picture_shrinks_into_the_box_keeping_its_shape() {
        let hd = Size::new(1280, 720);
        assert_eq!(box_of(1280, 720).fit(hd), hd);
        assert_eq!(box_of(640, 360).fit(hd), Size::new(640, 360));
        assert_eq!(box_of(426, 240).fit(hd), Size::new(426, 240));
        assert_eq!(box_of(425, 239).fit(hd), Size::new(424, 238));
        // A 4:3 camera in a 16:9 tile is pillarboxed: the height decides.
        assert_eq!(box_of(640, 360).fit(Size::new(640, 480)), Size::new(480, 360));
        // Never up.
        assert_eq!(box_of(1280, 720).fit(Size::new(320, 180)), Size::new(320, 180));
        assert_eq!(box_of(640, 360).scale_down_by(hd), 2.0);
        assert_eq!(box_of(1280, 720).scale_down_by(Size::new(320, 180)), 1.0);
    }
}
