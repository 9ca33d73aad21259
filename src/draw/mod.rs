//! Drawing what the composite shows besides video (pure, no GStreamer): name labels, the
//! muted-microphone badge, placeholder tiles and solid strips, as opaque images converted once
//! to I420 (the compositor's format, so it copies them without converting every frame).

mod text;
mod tile_images;

pub use text::text_width;
pub use tile_images::{MUTED_RED, initials, label, mute_badge, placeholder, tile_colour};

/// An RGB image.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Row-major pixels.
    pub pixels: Vec<[u8; 3]>,
}

impl Image {
    /// An image of one colour; sizes are rounded up to even numbers (I420 needs them).
    pub fn new(width: u32, height: u32, fill: [u8; 3]) -> Self {
        let (width, height) = (width.max(2).next_multiple_of(2), height.max(2).next_multiple_of(2));
        Self { width, height, pixels: vec![fill; (width * height) as usize] }
    }

    /// This image scaled (nearest pixel) to fit `width`×`height` with its aspect kept, centred
    /// on `background` (an agent's picture on its tile).
    pub fn fitted(&self, width: u32, height: u32, background: [u8; 3]) -> Image {
        let mut out = Image::new(width, height, background);
        let scale = (f64::from(out.width) / f64::from(self.width)).min(f64::from(out.height) / f64::from(self.height));
        let (w, h) = ((f64::from(self.width) * scale) as u32, (f64::from(self.height) * scale) as u32);
        let (x0, y0) = ((out.width - w) / 2, (out.height - h) / 2);
        for y in 0..h {
            let sy = ((f64::from(y) / scale) as u32).min(self.height - 1);
            for x in 0..w {
                let sx = ((f64::from(x) / scale) as u32).min(self.width - 1);
                out.pixels[((y0 + y) * out.width + x0 + x) as usize] = self.at(sx, sy);
            }
        }
        out
    }

    /// The pixel at (x, y).
    pub fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.pixels[(y * self.width + x) as usize]
    }

    /// Fills a rectangle, clipped to the image.
    pub fn fill_rect(&mut self, x: i32, y: i32, w: u32, h: u32, colour: [u8; 3]) {
        for py in y.max(0)..(y + h as i32).min(self.height as i32) {
            for px in x.max(0)..(x + w as i32).min(self.width as i32) {
                self.pixels[(py as u32 * self.width + px as u32) as usize] = colour;
            }
        }
    }

    /// Blends `colour` into (x, y) with coverage `c` (0–1), if inside.
    pub fn blend(&mut self, x: i32, y: i32, colour: [u8; 3], c: f32) {
        if x < 0 || y < 0 || x >= self.width as i32 || y >= self.height as i32 {
            return;
        }
        let p = &mut self.pixels[(y as u32 * self.width + x as u32) as usize];
        for i in 0..3 {
            p[i] = (f32::from(p[i]) * (1.0 - c) + f32::from(colour[i]) * c).round() as u8;
        }
    }

    /// The image as I420 (BT.601, studio range), chroma averaged over 2x2 blocks.
    pub fn to_i420(&self) -> Vec<u8> {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut out = Vec::with_capacity(w * h * 3 / 2);
        out.extend(self.pixels.iter().map(|p| luma(*p)));
        let mut u = Vec::with_capacity(w * h / 4);
        let mut v = Vec::with_capacity(w * h / 4);
        for by in (0..h).step_by(2) {
            for bx in (0..w).step_by(2) {
                let mut avg = [0f32; 3];
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let p = self.pixels[(by + dy) * w + bx + dx];
                    for i in 0..3 {
                        avg[i] += f32::from(p[i]) / 4.0;
                    }
                }
                let (cb, cr) = chroma(avg);
                u.push(cb);
                v.push(cr);
            }
        }
        out.extend(u);
        out.extend(v);
        out
    }
}

fn luma([r, g, b]: [u8; 3]) -> u8 {
    (16.0 + (65.481 * f32::from(r) + 128.553 * f32::from(g) + 24.966 * f32::from(b)) / 255.0).round() as u8
}

fn chroma([r, g, b]: [f32; 3]) -> (u8, u8) {
    let cb = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0;
    let cr = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0;
    (cb.round().clamp(16.0, 240.0) as u8, cr.round().clamp(16.0, 240.0) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_client::yuv_to_rgb;

    #[test]
    fn i420_round_trips_through_the_bt601_decoder() {
        let mut img = Image::new(5, 3, [255, 0, 0]);
        assert_eq!((img.width, img.height), (6, 4), "even sizes");
        img.fill_rect(2, 0, 4, 4, [0, 255, 0]);
        let yuv = img.to_i420();
        assert_eq!(yuv.len(), 6 * 4 * 3 / 2);
        let (y, u, v) = (&yuv[..24], &yuv[24..30], &yuv[30..36]);
        let red = yuv_to_rgb(y[0], u[0], v[0]);
        let green = yuv_to_rgb(y[5], u[2], v[2]);
        assert!(tessera_client::close_to(red, [255, 0, 0], 3), "{red:?}");
        assert!(tessera_client::close_to(green, [0, 255, 0], 3), "{green:?}");
    }

    #[test]
    fn a_picture_fits_its_tile_with_its_aspect() {
        let mut src = Image::new(4, 2, [255, 0, 0]);
        src.fill_rect(2, 0, 2, 2, [0, 0, 255]);
        let out = src.fitted(8, 8, [0, 0, 0]);
        assert_eq!((out.width, out.height), (8, 8));
        assert_eq!(out.at(0, 0), [0, 0, 0], "letterboxed above");
        assert_eq!(out.at(1, 3), [255, 0, 0]);
        assert_eq!(out.at(6, 4), [0, 0, 255]);
        assert_eq!(out.at(7, 7), [0, 0, 0], "and below");
    }
}
