//! The 64-point voice-note waveform: mean |amplitude| per equal block, scaled so the loudest is 100.
//!
//! Samples arrive in buffers of arbitrary size while decoding, and the total length is only
//! known at the end, so they are summed into small fixed-size buckets first (memory stays
//! O(duration / bucket)), and the 64 blocks are cut from the buckets when decoding is done.

/// Number of values WhatsApp expects in `waveform`.
pub const WAVEFORM_POINTS: usize = 64;

/// Largest value of a waveform point.
pub const WAVEFORM_MAX: u8 = 100;

/// Accumulates |sample| sums in buckets of `bucket_len` samples.
#[derive(Debug, Clone)]
pub struct WaveformAccumulator {
    bucket_len: u64,
    /// Sum of |x| per full bucket, then the partial last one.
    bucket_sums: Vec<u64>,
    /// Samples in the last (possibly partial) bucket.
    filled: u64,
    total_samples: u64,
}

impl WaveformAccumulator {
    /// `bucket_len` samples per bucket (e.g. 10 ms worth); 0 is treated as 1.
    pub fn new(bucket_len: u64) -> Self {
        Self {
            bucket_len: bucket_len.max(1),
            bucket_sums: Vec::new(),
            filled: 0,
            total_samples: 0,
        }
    }

    /// Samples seen so far.
    pub fn total_samples(&self) -> u64 {
        self.total_samples
    }

    /// Adds mono samples.
    pub fn push(&mut self, samples: impl IntoIterator<Item = i16>) {
        for sample in samples {
            if self.filled == 0 || self.filled == self.bucket_len {
                self.bucket_sums.push(0);
                self.filled = 0;
            }
            if let Some(last) = self.bucket_sums.last_mut() {
                *last += u64::from(sample.unsigned_abs());
            }
            self.filled += 1;
            self.total_samples += 1;
        }
    }

    /// Adds interleaved-free S16LE mono bytes (a trailing odd byte is ignored).
    pub fn push_s16le(&mut self, bytes: &[u8]) {
        self.push(
            bytes
                .chunks_exact(2)
                .map(|pair| i16::from_le_bytes([pair[0], pair[1]])),
        );
    }

    /// The 64 values, 0..=100. Silence (or no samples) gives all zeros.
    pub fn finish(&self) -> Vec<u8> {
        let total = self.total_samples as f64;
        let block_len = total / WAVEFORM_POINTS as f64;
        let mut means = [0f64; WAVEFORM_POINTS];
        if block_len > 0.0 {
            for (block, mean) in means.iter_mut().enumerate() {
                let start = block as f64 * block_len;
                let end = start + block_len;
                *mean = self.sum_between(start, end) / block_len;
            }
        }
        scale_to_points(&means)
    }

    /// Sum of |x| over the sample range [start, end), taking a proportional share of a
    /// bucket that the range covers only in part (samples within a bucket are assumed even).
    fn sum_between(&self, start: f64, end: f64) -> f64 {
        let bucket_len = self.bucket_len as f64;
        let first = (start / bucket_len).floor() as usize;
        let mut sum = 0.0;
        for (index, &bucket_sum) in self.bucket_sums.iter().enumerate().skip(first) {
            let bucket_start = index as f64 * bucket_len;
            if bucket_start >= end {
                break;
            }
            let is_last = index + 1 == self.bucket_sums.len();
            let len = if is_last {
                self.filled as f64
            } else {
                bucket_len
            };
            if len <= 0.0 {
                continue;
            }
            let overlap = (end.min(bucket_start + len) - start.max(bucket_start)).max(0.0);
            sum += bucket_sum as f64 * overlap / len;
        }
        sum
    }
}

/// Waveform of a whole buffer of mono samples in one go.
pub fn waveform_of(samples: &[i16]) -> Vec<u8> {
    let mut acc = WaveformAccumulator::new(1);
    acc.push(samples.iter().copied());
    acc.finish()
}

/// Scales block means so the largest is 100, rounding down (as WhatsApp clients do).
fn scale_to_points(means: &[f64; WAVEFORM_POINTS]) -> Vec<u8> {
    let max = means.iter().copied().fold(0.0f64, f64::max);
    if !(max.is_finite() && max > 0.0) {
        return vec![0; WAVEFORM_POINTS];
    }
    means
        .iter()
        .map(|&mean| {
            let scaled = (mean / max * f64::from(WAVEFORM_MAX)).floor();
            scaled.clamp(0.0, f64::from(WAVEFORM_MAX)) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_all_zeros() {
        assert_eq!(waveform_of(&[0; 16_000]), vec![0; 64]);
    }

    #[test]
    fn no_samples_is_all_zeros() {
        assert_eq!(waveform_of(&[]), vec![0; 64]);
        assert_eq!(WaveformAccumulator::new(0).finish(), vec![0; 64]);
    }

    #[test]
    fn fewer_samples_than_points_does_not_panic() {
        let wf = waveform_of(&[1000, -2000, 3000]);
        assert_eq!(wf.len(), 64);
        assert!(wf.iter().all(|&v| v <= 100));
        assert_eq!(wf.iter().copied().max(), Some(100));
    }

    #[test]
    fn loudest_block_is_100_and_ramp_rises() {
        // Amplitude ramps up block by block: block b has |x| = (b + 1) * 100.
        let samples: Vec<i16> = (0..64 * 100)
            .map(|i| {
                let block = (i / 100) as i16;
                let value = (block + 1) * 100;
                if i % 2 == 0 { value } else { -value }
            })
            .collect();
        let wf = waveform_of(&samples);
        assert_eq!(wf.len(), 64);
        assert_eq!(wf[63], 100);
        assert_eq!(wf[0], 1); // floor(100 * 100 / 6400)
        assert!(wf.windows(2).all(|w| w[0] <= w[1]), "{wf:?}");
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        let wf = waveform_of(&vec![i16::MIN; 48_000 * 3]);
        assert_eq!(wf, vec![100; 64]);
    }

    #[test]
    fn bucketed_matches_exact_when_blocks_align() {
        // 64 blocks of 480 samples, 10 ms buckets of 160: every block is 3 whole buckets.
        let samples: Vec<i16> = (0..64 * 480)
            .map(|i| ((i * 7919) % 20_000) as i16 - 10_000)
            .collect();
        let mut acc = WaveformAccumulator::new(160);
        for chunk in samples.chunks(333) {
            acc.push(chunk.iter().copied());
        }
        assert_eq!(acc.total_samples(), samples.len() as u64);
        assert_eq!(acc.finish(), waveform_of(&samples));
    }

    #[test]
    fn bucketed_is_close_when_blocks_do_not_align() {
        let samples: Vec<i16> = (0..50_000)
            .map(|i| (((i / 900) % 9) as i16 * 3000) * if i % 2 == 0 { 1 } else { -1 })
            .collect();
        let mut acc = WaveformAccumulator::new(160);
        acc.push(samples.iter().copied());
        let exact = waveform_of(&samples);
        let approx = acc.finish();
        for (a, b) in exact.iter().zip(&approx) {
            assert!(a.abs_diff(*b) <= 3, "{exact:?} vs {approx:?}");
        }
    }

    #[test]
    fn push_s16le_reads_little_endian() {
        let mut acc = WaveformAccumulator::new(10);
        acc.push_s16le(&[0x10, 0x00, 0xF0, 0xFF, 0x7F]); // 16, -16, stray byte
        assert_eq!(acc.total_samples(), 2);
        assert_eq!(acc.finish().iter().copied().max(), Some(100));
    }
}
