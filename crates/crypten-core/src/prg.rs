//! The pseudo-random generator behind every share, mask and triple: AES-128 in counter mode.
//!
//! The 16-byte seed is the AES key; keystream block `i` is `AES_k(i)` with `i` as a 128-bit
//! little-endian counter, and the stream is read as consecutive little-endian `u64` words
//! (two per block). Because block `i` depends only on `i`, a large fill is cut into chunks
//! that rayon generates independently from their own counter offsets, and the result is
//! bit-for-bit the stream a single sequential fill would produce. Two parties holding the same
//! seed therefore draw identical tensors however their fills are split.

use crate::{Error, Result, RingTensor};
use aes::Aes128Enc;
use ctr::cipher::array::Array;
use ctr::cipher::consts::U16;
use ctr::cipher::{InnerIvInit, Iv, Key, KeyInit, StreamCipherCore, StreamCipherSeekCore};
use rayon::prelude::*;

/// Length of a PRG seed in bytes (an AES-128 key).
pub const SEED_LEN: usize = 16;

/// A PRG seed.
pub type Seed = [u8; SEED_LEN];

/// The counter-mode core: zero nonce, 128-bit little-endian block counter.
type CtrCore = ctr::CtrCore<Aes128Enc, ctr::flavors::Ctr128LE>;

/// Words kept for small requests (`next_u64`, odd-length tails): eight blocks, enough for
/// the AES backends to pipeline.
const BUF_WORDS: usize = 16;

/// Fills of at least this many words are generated in parallel.
const PAR_WORDS: usize = 1 << 16;

/// Words per parallel task (even, so every task starts on a block boundary).
const CHUNK_WORDS: usize = 1 << 14;

/// A seedable, cryptographically secure stream of `u64` words (AES-128-CTR).
///
/// Not `Clone`: two copies would silently hand out the same randomness. Derive independent
/// generators with [`gen_seed`](Self::gen_seed) instead. `Debug` prints no key material.
pub struct Prg {
    cipher: Aes128Enc,
    /// Counter of the first block not yet generated.
    next_block: u128,
    /// Generated but unread words; `buf[buf_pos..]` comes next in the stream.
    buf: [u64; BUF_WORDS],
    buf_pos: usize,
}

impl std::fmt::Debug for Prg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prg").finish_non_exhaustive()
    }
}

/// Writes the keystream words of blocks `first_block..` into `out` (even length) on this
/// thread.
fn keystream_seq(cipher: &Aes128Enc, first_block: u128, out: &mut [u64]) {
    debug_assert!(
        out.len().is_multiple_of(2),
        "keystream is generated in whole blocks"
    );
    let mut core = CtrCore::inner_iv_init(cipher.clone(), &Iv::<CtrCore>::default());
    core.set_block_pos(first_block);
    {
        // Generate straight into the caller's words: no staging buffer, no XOR pass.
        let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut *out);
        let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(bytes);
        core.write_keystream_blocks(blocks);
    }
    if cfg!(target_endian = "big") {
        for w in out.iter_mut() {
            *w = u64::from_le(*w);
        }
    }
}

/// [`keystream_seq`], split across rayon's pool for large outputs.
fn keystream(cipher: &Aes128Enc, first_block: u128, out: &mut [u64]) {
    if out.len() < PAR_WORDS {
        keystream_seq(cipher, first_block, out);
        return;
    }
    out.par_chunks_mut(CHUNK_WORDS)
        .enumerate()
        .for_each(|(i, chunk)| {
            keystream_seq(cipher, first_block + (i * CHUNK_WORDS / 2) as u128, chunk);
        });
}

impl Prg {
    /// A generator whose stream is fully determined by `seed`.
    pub fn from_seed(seed: Seed) -> Prg {
        Prg {
            cipher: Aes128Enc::new(&Key::<Aes128Enc>::from(seed)),
            next_block: 0,
            buf: [0; BUF_WORDS],
            buf_pos: BUF_WORDS,
        }
    }

    /// A fresh seed from the operating system's entropy source.
    ///
    /// # Errors
    /// `Entropy` when the operating system cannot provide randomness.
    pub fn random_seed() -> Result<Seed> {
        let mut seed = [0u8; SEED_LEN];
        getrandom::fill(&mut seed).map_err(|e| Error::Entropy(e.to_string()))?;
        Ok(seed)
    }

    /// A generator seeded from the operating system's entropy source.
    ///
    /// # Errors
    /// `Entropy` when the operating system cannot provide randomness.
    pub fn from_entropy() -> Result<Prg> {
        Ok(Prg::from_seed(Prg::random_seed()?))
    }

    /// Draws a seed for a child generator from this stream. The child's stream is
    /// computationally independent of what this generator outputs afterwards.
    pub fn gen_seed(&mut self) -> Seed {
        let mut words = [0u64; 2];
        self.fill_u64(&mut words);
        let mut seed = [0u8; SEED_LEN];
        seed[..8].copy_from_slice(&words[0].to_le_bytes());
        seed[8..].copy_from_slice(&words[1].to_le_bytes());
        seed
    }

    fn refill(&mut self) {
        keystream_seq(&self.cipher, self.next_block, &mut self.buf);
        self.next_block += (BUF_WORDS / 2) as u128;
        self.buf_pos = 0;
    }

    /// How many words of the stream have been handed out so far.
    pub fn position(&self) -> u128 {
        self.next_block * 2 - (BUF_WORDS - self.buf_pos) as u128
    }

    /// Moves the stream to word `position` (forwards or backwards): the next word handed out
    /// is the one a fresh generator would hand out after `position` words. Lets a dealer that
    /// computed ahead on a guess rewind its streams when the guess was wrong.
    pub fn seek(&mut self, position: u128) {
        self.next_block = position / 2;
        self.refill();
        self.buf_pos = (position % 2) as usize;
    }

    /// The next word of the stream.
    pub fn next_u64(&mut self) -> u64 {
        if self.buf_pos == BUF_WORDS {
            self.refill();
        }
        let w = self.buf[self.buf_pos];
        self.buf_pos += 1;
        w
    }

    /// Fills `out` with the next `out.len()` words of the stream. Large fills run in
    /// parallel; the words are the same as for any other way of splitting the requests.
    pub fn fill_u64(&mut self, out: &mut [u64]) {
        let take = out.len().min(BUF_WORDS - self.buf_pos);
        out[..take].copy_from_slice(&self.buf[self.buf_pos..self.buf_pos + take]);
        self.buf_pos += take;
        let rest = &mut out[take..];
        if rest.is_empty() {
            return;
        }
        // The buffer is drained, so the stream continues at `next_block`.
        let whole = rest.len() & !1;
        keystream(&self.cipher, self.next_block, &mut rest[..whole]);
        self.next_block += (whole / 2) as u128;
        if whole < rest.len() {
            self.refill();
            rest[whole] = self.buf[0];
            self.buf_pos = 1;
        }
    }

    /// A tensor of independent uniform elements of Z/2^64.
    pub fn ring(&mut self, shape: &[usize]) -> RingTensor {
        let mut data = vec![0u64; shape.iter().product()];
        self.fill_u64(&mut data);
        RingTensor {
            shape: shape.to_vec(),
            data,
        }
    }

    /// A tensor of independent uniform bits (each element 0 or 1). Every stream word supplies
    /// 64 elements, least significant bit first.
    pub fn bits(&mut self, shape: &[usize]) -> RingTensor {
        let numel: usize = shape.iter().product();
        let mut words = vec![0u64; numel.div_ceil(64)];
        self.fill_u64(&mut words);
        let mut data = vec![0u64; numel];
        let spread = |(out, &w): (&mut [u64], &u64)| {
            for (i, o) in out.iter_mut().enumerate() {
                *o = (w >> i) & 1;
            }
        };
        if numel < PAR_WORDS {
            data.chunks_mut(64).zip(&words).for_each(spread);
        } else {
            data.par_chunks_mut(64)
                .zip(words.par_iter())
                .for_each(spread);
        }
        RingTensor {
            shape: shape.to_vec(),
            data,
        }
    }

    /// A uniform `f64` in `[0, 1)` built from 53 stream bits.
    pub fn uniform_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(b: u8) -> Seed {
        [b; SEED_LEN]
    }

    #[test]
    fn seek_rewinds_and_skips_exactly() {
        let mut a = Prg::from_seed([7; 16]);
        let mut first = vec![0u64; 1001];
        a.fill_u64(&mut first);
        assert_eq!(a.position(), 1001);
        let mut b = Prg::from_seed([7; 16]);
        b.seek(333);
        assert_eq!(b.position(), 333);
        assert_eq!(b.next_u64(), first[333]);
        a.seek(10);
        let mut again = vec![0u64; 991];
        a.fill_u64(&mut again);
        assert_eq!(again[..], first[10..]);
        assert_eq!(a.position(), 1001);
        let mut c = Prg::from_seed([7; 16]);
        c.seek(200_001);
        let mut big = vec![0u64; 3];
        c.fill_u64(&mut big);
        let mut d = Prg::from_seed([7; 16]);
        let mut all = vec![0u64; 200_004];
        d.fill_u64(&mut all);
        assert_eq!(big[..], all[200_001..]);
    }

    #[test]
    fn first_block_is_aes_of_zero_counter() {
        // AES-128 with the all-zero key on the all-zero block: 66e94bd4ef8a2c3b884cfa59ca342b2e.
        let mut p = Prg::from_seed([0; SEED_LEN]);
        assert_eq!(
            p.next_u64(),
            u64::from_le_bytes([0x66, 0xe9, 0x4b, 0xd4, 0xef, 0x8a, 0x2c, 0x3b])
        );
        assert_eq!(
            p.next_u64(),
            u64::from_le_bytes([0x88, 0x4c, 0xfa, 0x59, 0xca, 0x34, 0x2b, 0x2e])
        );
    }

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        let (mut a, mut b, mut c) = (
            Prg::from_seed(seed(7)),
            Prg::from_seed(seed(7)),
            Prg::from_seed(seed(8)),
        );
        let (x, y, z) = (a.ring(&[5, 9]), b.ring(&[5, 9]), c.ring(&[5, 9]));
        assert_eq!(x, y);
        assert!(x.data().iter().zip(z.data()).all(|(u, v)| u != v));
        assert_ne!(a.ring(&[5, 9]), x, "the stream must advance");
    }

    #[test]
    fn parallel_fill_equals_sequential_stream() {
        let n = 3 * PAR_WORDS + 2 * CHUNK_WORDS + 7;
        let mut whole = vec![0u64; n];
        Prg::from_seed(seed(3)).fill_u64(&mut whole);
        let mut seq = vec![0u64; n];
        keystream_seq(&Prg::from_seed(seed(3)).cipher, 0, &mut seq[..n - 1]);
        assert_eq!(&whole[..n - 1], &seq[..n - 1]);
        // The same stream drawn through word reads and fills of odd and large sizes.
        let mut p = Prg::from_seed(seed(3));
        let mut pieces = Vec::with_capacity(n);
        pieces.push(p.next_u64());
        for len in [1usize, 15, 16, 17, 1001, PAR_WORDS + 1, 2] {
            let mut buf = vec![0u64; len];
            p.fill_u64(&mut buf);
            pieces.extend_from_slice(&buf);
            pieces.push(p.next_u64());
        }
        while pieces.len() < n {
            pieces.push(p.next_u64());
        }
        assert_eq!(pieces, whole);
    }

    #[test]
    fn child_seeds_give_distinct_streams() {
        let mut parent = Prg::from_seed(seed(1));
        let (s1, s2) = (parent.gen_seed(), parent.gen_seed());
        assert_ne!(s1, s2);
        assert_ne!(s1, seed(1));
        let (mut c1, mut c2) = (Prg::from_seed(s1), Prg::from_seed(s2));
        assert_ne!(c1.next_u64(), c2.next_u64());
        // A child seed is the parent's next two words, so the parent stream is unchanged.
        let mut replay = Prg::from_seed(seed(1));
        assert_eq!(replay.next_u64().to_le_bytes(), s1[..8]);
    }

    #[test]
    fn entropy_seeds_differ() {
        let (a, b) = (Prg::random_seed().unwrap(), Prg::random_seed().unwrap());
        assert_ne!(a, b);
        assert_ne!(
            Prg::from_entropy().unwrap().next_u64(),
            Prg::from_entropy().unwrap().next_u64()
        );
    }

    #[test]
    fn debug_hides_key() {
        assert_eq!(format!("{:?}", Prg::from_seed(seed(0xAB))), "Prg { .. }");
    }

    #[test]
    fn bits_are_balanced() {
        let mut p = Prg::from_seed(seed(5));
        let n = PAR_WORDS + 100; // takes the parallel spreading path
        let b = p.bits(&[n]);
        assert!(b.data().iter().all(|&x| x <= 1));
        let ones = b.sum_all() as f64;
        let half = n as f64 / 2.0;
        // Chi-square with one degree of freedom; 20 is far in the tail (p < 1e-5).
        let chi2 = 2.0 * (ones - half).powi(2) / half;
        assert!(chi2 < 20.0, "chi2 = {chi2}");
        // The bits are the words' bits, least significant first.
        let mut q = Prg::from_seed(seed(5));
        let w = q.next_u64();
        assert!((0..64).all(|i| b.data()[i] == (w >> i) & 1));
    }

    #[test]
    fn ring_bytes_are_uniform() {
        // Chi-square over the 256 byte values: 255 degrees of freedom, mean 255, sd ~22.6;
        // 400 is over 6 standard deviations out.
        let t = Prg::from_seed(seed(9)).ring(&[1 << 14]);
        let mut counts = [0u64; 256];
        for w in t.data() {
            for byte in w.to_le_bytes() {
                counts[byte as usize] += 1;
            }
        }
        let expect = (t.numel() * 8) as f64 / 256.0;
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expect).powi(2) / expect)
            .sum();
        assert!(chi2 < 400.0, "chi2 = {chi2}");
    }

    #[test]
    fn uniform_f64_in_unit_interval() {
        let mut p = Prg::from_seed(seed(2));
        let xs: Vec<f64> = (0..10_000).map(|_| p.uniform_f64()).collect();
        assert!(xs.iter().all(|&x| (0.0..1.0).contains(&x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean = {mean}");
    }

    /// Throughput of a 10M-word fill; run with
    /// `cargo test --release -p crypten-core --lib prg::tests::throughput -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, run in release by hand"]
    fn throughput_10m_words() {
        let mut p = Prg::from_seed(seed(4));
        let mut out = vec![0u64; 10_000_000];
        p.fill_u64(&mut out); // warm up pages and the thread pool
        let reps = 10;
        let start = std::time::Instant::now();
        for _ in 0..reps {
            p.fill_u64(&mut out);
        }
        let secs = start.elapsed().as_secs_f64() / reps as f64;
        println!(
            "10M-word fill: {:.2} ms, {:.2} GB/s",
            secs * 1e3,
            80e6 / secs / 1e9
        );
        assert!(out.iter().any(|&w| w != 0));
    }
}
