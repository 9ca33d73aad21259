//! The arithmetic of one 20 ms frame: every voice summed once into 32 bits, the full mix
//! clipped from that sum, and each talker's mix-minus as the sum less their own voice, clipped
//! only after the subtraction (a listener never hears a clipped version of their own voice's
//! absence).

/// Peak above which a voice counts as talking: -50 dBFS. Below it, the voice's listener hears
/// the full mix, their own faint signal included (at most -50 dBFS, under the room's noise).
pub const GATE_PEAK: i32 = 104;

/// Adds `samples` (S16LE) into `sum` from `at`, and copies them into `own` (the voice's share
/// of this frame) at the same place. Returns the peak magnitude added.
pub fn accumulate(sum: &mut [i32], own: &mut [i16], at: usize, samples: &[u8]) -> i32 {
    let mut peak = 0i32;
    let frames = samples.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]]));
    for ((s, o), x) in sum[at..].iter_mut().zip(own[at..].iter_mut()).zip(frames) {
        *s += i32::from(x);
        *o = x;
        peak = peak.max(i32::from(x).abs());
    }
    peak
}

fn clip(x: i32) -> i16 {
    x.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
}

/// Writes the clipped sum less `own` (none: the full mix) into `out` as S16LE.
pub fn write_mix(sum: &[i32], own: Option<&[i16]>, out: &mut [u8]) {
    let chunks = out.chunks_exact_mut(2);
    match own {
        None => sum.iter().zip(chunks).for_each(|(s, o)| o.copy_from_slice(&clip(*s).to_le_bytes())),
        Some(own) => sum
            .iter()
            .zip(own)
            .zip(chunks)
            .for_each(|((s, v), o)| o.copy_from_slice(&clip(*s - i32::from(*v)).to_le_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    fn samples(bytes: &[u8]) -> Vec<i16> {
        bytes.chunks_exact(2).map(|b| i16::from_le_bytes([b[0], b[1]])).collect()
    }

    #[test]
    fn the_minus_is_exact_even_where_the_full_mix_clips() {
        let (mut sum, mut a, mut b) = (vec![0i32; 4], vec![0i16; 4], vec![0i16; 4]);
        assert_eq!(accumulate(&mut sum, &mut a, 0, &bytes(&[30_000, -30_000, 5, 0])), 30_000);
        // b covers only the second half of the frame.
        assert_eq!(accumulate(&mut sum, &mut b, 2, &bytes(&[7, -9])), 9);
        let mut out = vec![0u8; 8];
        write_mix(&sum, None, &mut out);
        assert_eq!(samples(&out), [30_000, -30_000, 12, -9]);
        // a's listener hears b alone: exactly, never a's clipped remainder.
        write_mix(&sum, Some(&a), &mut out);
        assert_eq!(samples(&out), [0, 0, 7, -9]);
        let (mut loud, mut c) = (vec![0i32; 1], vec![0i16; 1]);
        accumulate(&mut loud, &mut c, 0, &bytes(&[30_000]));
        accumulate(&mut loud, &mut [0i16; 1], 0, &bytes(&[30_000]));
        write_mix(&loud, None, &mut out[..2]);
        assert_eq!(samples(&out[..2]), [i16::MAX], "the full mix clips");
        write_mix(&loud, Some(&c), &mut out[..2]);
        assert_eq!(samples(&out[..2]), [30_000], "the other voice, unclipped");
    }
}
