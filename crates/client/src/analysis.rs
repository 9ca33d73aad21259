//! Measuring what a peer received: pixel colours of decoded frames and tone power by Goertzel.

use gst_video::VideoFrameExt;

/// A decoded I420 frame, kept as the GStreamer buffer it arrived in (no copy).
#[derive(Debug, Clone)]
pub struct Frame {
    buffer: gst::Buffer,
    info: gst_video::VideoInfo,
}

impl Frame {
    /// Wraps a decoded buffer described by `info` (must be I420).
    pub fn new(buffer: gst::Buffer, info: gst_video::VideoInfo) -> Self {
        Self { buffer, info }
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.info.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.info.height()
    }

    /// The mean RGB colour (BT.601 limited range, as VP8 carries) of the `size`×`size` square
    /// centred on (`x`, `y`), clamped to the frame.
    pub fn rgb_at(&self, x: u32, y: u32, size: u32) -> [u8; 3] {
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(&self.buffer, &self.info)
            .expect("decoded frames are readable");
        let (w, h) = (self.width(), self.height());
        let half = size / 2;
        let (x0, y0) = (x.saturating_sub(half).min(w - 1), y.saturating_sub(half).min(h - 1));
        let (x1, y1) = ((x + half).min(w - 1), (y + half).min(h - 1));
        let plane = |i: u32| (frame.plane_data(i).unwrap(), frame.plane_stride()[i as usize] as usize);
        let ((yp, ys), (up, us), (vp, vs)) = (plane(0), plane(1), plane(2));
        let (mut sum, mut n) = ([0f64; 3], 0f64);
        for py in y0..=y1 {
            for px in x0..=x1 {
                let luma = yp[py as usize * ys + px as usize];
                let (cx, cy) = (px as usize / 2, py as usize / 2);
                let rgb = yuv_to_rgb(luma, up[cy * us + cx], vp[cy * vs + cx]);
                for c in 0..3 {
                    sum[c] += f64::from(rgb[c]);
                }
                n += 1.0;
            }
        }
        sum.map(|s| (s / n).round() as u8)
    }
}

/// BT.601 limited-range YCbCr to RGB.
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let (y, u, v) = (f64::from(y) - 16.0, f64::from(u) - 128.0, f64::from(v) - 128.0);
    let clamp = |x: f64| x.round().clamp(0.0, 255.0) as u8;
    [clamp(1.164 * y + 1.596 * v), clamp(1.164 * y - 0.392 * u - 0.813 * v), clamp(1.164 * y + 2.017 * u)]
}

/// True when every channel of `got` is within `tolerance` of `want`.
pub fn close_to(got: [u8; 3], want: [u8; 3], tolerance: u8) -> bool {
    got.iter().zip(want).all(|(g, w)| g.abs_diff(w) <= tolerance)
}

/// The amplitude of the `freq` Hz component of `samples` (mono S16 at `rate` Hz) in dBFS: the
/// RMS over 200 ms windows (half overlapping) of a Hann-windowed Goertzel filter's reading. A
/// full-scale sine reads 0 dBFS; silence reads about -200.
///
/// Per window, not over the whole span: a mixer that resyncs an input (inserting or dropping a
/// few ms to follow its timestamps) shifts the tone's phase, and one filter over seconds adds
/// the parts before and after out of phase: a recording's −10.5 dBFS tone read −25 dBFS over
/// its whole 10 s, and −10.6 per window. Windows of 200 ms still tell tones 100 Hz apart
/// (the concurrent-rooms test's), and read broadband noise lower than shorter ones would.
pub fn tone_dbfs(samples: &[i16], rate: f64, freq: f64) -> f64 {
    let window = ((rate / 5.0) as usize).max(2);
    let mean_square = if samples.len() <= window {
        goertzel_amplitude(samples, rate, freq).powi(2)
    } else {
        let windows: Vec<&[i16]> = samples.windows(window).step_by(window / 2).collect();
        windows.iter().map(|w| goertzel_amplitude(w, rate, freq).powi(2)).sum::<f64>() / windows.len() as f64
    };
    20.0 * (mean_square.sqrt() + 1e-10).log10()
}

/// The amplitude (full scale = 1) of the `freq` Hz component over one Hann window spanning all
/// of `samples`.
fn goertzel_amplitude(samples: &[i16], rate: f64, freq: f64) -> f64 {
    let n = samples.len();
    if n < 2 {
        return 0.0;
    }
    let k = 2.0 * (2.0 * std::f64::consts::PI * freq / rate).cos();
    let (mut s1, mut s2, mut wsum) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &x) in samples.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n - 1) as f64).cos();
        wsum += w;
        let s0 = f64::from(x) / 32768.0 * w + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    2.0 * power.max(0.0).sqrt() / wsum
}

/// What a window holds besides a `freq` sine, in dB against that sine's energy: the residual of
/// a least-squares fit of the sine (`rate` Hz samples). Over whole periods of `freq`, the sine
/// and cosine are orthogonal and the fit is exact. A pure tone through a codec reads its coding
/// noise (about -35 dB for Opus at 32 kbit/s); a dropout, a click or another signal reads higher.
pub fn tone_residual_db(window: &[i16], rate: f64, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let n = window.len() as f64;
    let (mut a, mut b) = (0.0, 0.0);
    for (i, x) in window.iter().enumerate() {
        a += f64::from(*x) * (w * i as f64).sin();
        b += f64::from(*x) * (w * i as f64).cos();
    }
    let (a, b) = (2.0 * a / n, 2.0 * b / n);
    let (mut tone, mut rest) = (0.0, 0.0);
    for (i, x) in window.iter().enumerate() {
        let fit = a * (w * i as f64).sin() + b * (w * i as f64).cos();
        tone += fit * fit;
        rest += (f64::from(*x) - fit).powi(2);
    }
    10.0 * (rest.max(1e-9) / tone.max(1e-9)).log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * 32767.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 48000.0).sin()) as i16)
            .collect()
    }

    #[test]
    fn goertzel_finds_tones_and_rejects_others() {
        let half = sine(440.0, 0.5, 48000);
        assert!((tone_dbfs(&half, 48000.0, 440.0) - (-6.02)).abs() < 0.2);
        assert!(tone_dbfs(&half, 48000.0, 1000.0) < -60.0);
        let mix: Vec<i16> = sine(440.0, 0.3, 24000).iter().zip(sine(1000.0, 0.1, 24000)).map(|(a, b)| a + b).collect();
        let (a, b) = (tone_dbfs(&mix, 48000.0, 440.0), tone_dbfs(&mix, 48000.0, 1000.0));
        assert!((a - b - 9.54).abs() < 0.3, "{a} {b}");
        assert!(tone_dbfs(&vec![0; 4800], 48000.0, 440.0) < -150.0);
        assert!(tone_dbfs(&vec![0; 48000], 48000.0, 440.0) < -150.0);
    }

    #[test]
    fn phase_jumps_do_not_hide_a_tone() {
        // 4 s of a 1000 Hz sine at -10 dBFS with a 0.5 ms jump (half a cycle) every second, as
        // a mixer resyncing an input makes.
        let jumped: Vec<i16> = (0..4 * 48000)
            .map(|i| {
                let phase = 2.0 * std::f64::consts::PI * 1000.0 * i as f64 / 48000.0;
                let jumps = (i / 48000) as f64 * std::f64::consts::PI;
                (0.316 * 32767.0 * (phase + jumps).sin()) as i16
            })
            .collect();
        let level = tone_dbfs(&jumped, 48000.0, 1000.0);
        assert!((level - (-10.0)).abs() < 1.5, "{level}");
        let whole = 20.0 * goertzel_amplitude(&jumped, 48000.0, 1000.0).log10();
        assert!(whole < level - 6.0, "one filter over it all reads {whole}");
        // Tones 100 Hz apart stay apart.
        let near = sine(1100.0, 0.316, 96000);
        assert!(tone_dbfs(&near, 48000.0, 1000.0) < -60.0, "{}", tone_dbfs(&near, 48000.0, 1000.0));
    }
}
