//! Bit-slicing: local, linear rearrangements of bits that the binary protocols run on.
//!
//! A *packed bit vector* holds element `i` in bit `i % 64` of word `i / 64` (lanes past the
//! end are padding). A *plane block* is the 64x64 bit transpose of 64 consecutive words: word
//! `b` of the block holds bit `b` of each of the 64 words, one per lane, so one AND of two plane
//! words is 64 parallel ANDs of one bit position of 64 elements. Every function here is linear
//! over GF(2) (bit moves and copies, no mixing), so each party applies it to its XOR share and
//! the shares still add up to the same function of the secret.

/// Number of 64-lane groups needed for `n` elements.
pub fn groups(n: usize) -> usize {
    n.div_ceil(64)
}

/// Transposes a 64x64 bit matrix in place: afterwards bit `j` of word `i` is what bit `i` of
/// word `j` was. Recursive block swaps (Hacker's Delight, 7-3), 6 passes of 32 word pairs.
pub fn transpose64(a: &mut [u64; 64]) {
    let mut j = 32;
    let mut m: u64 = 0x0000_0000_FFFF_FFFF;
    while j != 0 {
        let mut k = 0;
        while k < 64 {
            // Swap the high-half columns of row k with the low-half columns of row k + j.
            let t = ((a[k] >> j) ^ a[k + j]) & m;
            a[k + j] ^= t;
            a[k] ^= t << j;
            k = (k + j + 1) & !j;
        }
        j >>= 1;
        m ^= m << j;
    }
}

/// The plane blocks of `words`: `groups(words.len())` blocks of 64 words, group-major (block
/// `g` at `out[64 g .. 64 g + 64]`); lanes past the end are zero.
pub fn to_planes(words: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; groups(words.len()) * 64];
    for (block, chunk) in out.chunks_exact_mut(64).zip(words.chunks(64)) {
        let block: &mut [u64; 64] = block.try_into().expect("chunks of 64");
        block[..chunk.len()].copy_from_slice(chunk);
        transpose64(block);
    }
    out
}

/// Packs 0/1 values (only bit 0 of each is read) into a packed bit vector.
#[cfg(test)]
pub fn pack(bits: &[u64]) -> Vec<u64> {
    let mut out = vec![0u64; groups(bits.len())];
    for (word, chunk) in out.iter_mut().zip(bits.chunks(64)) {
        for (lane, &b) in chunk.iter().enumerate() {
            *word |= (b & 1) << lane;
        }
    }
    out
}

/// The first `n` elements of a packed bit vector as 0/1 values.
pub fn unpack(packed: &[u64], n: usize) -> Vec<u64> {
    (0..n).map(|i| (packed[i / 64] >> (i % 64)) & 1).collect()
}

/// Element `i` of a packed bit vector.
#[inline]
pub fn bit(packed: &[u64], i: usize) -> u64 {
    (packed[i / 64] >> (i % 64)) & 1
}

/// A packed bit vector whose element `k` is element `indices[k]` of `packed`.
pub fn gather(packed: &[u64], indices: &[usize]) -> Vec<u64> {
    let mut out = vec![0u64; groups(indices.len())];
    for (k, &i) in indices.iter().enumerate() {
        out[k / 64] |= bit(packed, i) << (k % 64);
    }
    out
}

/// Concatenates packed bit vectors of `lens[i]` elements each into one packed vector.
pub fn concat(parts: &[(&[u64], usize)]) -> Vec<u64> {
    let total: usize = parts.iter().map(|&(_, n)| n).sum();
    let mut out = vec![0u64; groups(total)];
    let mut at = 0;
    for &(packed, n) in parts {
        if at % 64 == 0 {
            // Word-aligned: copy whole words, then clear the padding lanes of the last one.
            let words = groups(n);
            out[at / 64..at / 64 + words].copy_from_slice(&packed[..words]);
            if n % 64 != 0 {
                out[at / 64 + words - 1] &= (1u64 << (n % 64)) - 1;
            }
        } else {
            for i in 0..n {
                out[(at + i) / 64] |= bit(packed, i) << ((at + i) % 64);
            }
        }
        at += n;
    }
    out
}

/// Indicator planes of a block of `bits.len()` (at most 4) bit planes: `out[v]` has lane `l`
/// set exactly when the block's bits in lane `l`, read as a number (`bits[0]` least
/// significant), equal `v`. `out` must hold `1 << bits.len()` words.
#[inline]
pub fn indicators(bits: &[u64], out: &mut [u64]) {
    out[0] = !0;
    for (i, &plane) in bits.iter().enumerate() {
        let half = 1 << i;
        for w in 0..half {
            let prev = out[w];
            out[w] = prev & !plane;
            out[w + half] = prev & plane;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Prg;

    #[test]
    fn transpose_matches_the_definition_and_is_an_involution() {
        let mut prg = Prg::from_seed([7; 16]);
        let mut a = [0u64; 64];
        prg.fill_u64(&mut a);
        let orig = a;
        transpose64(&mut a);
        for (i, row) in a.iter().enumerate() {
            for (j, col) in orig.iter().enumerate() {
                assert_eq!((row >> j) & 1, (col >> i) & 1, "bit {j} of word {i}");
            }
        }
        transpose64(&mut a);
        assert_eq!(a, orig);
    }

    #[test]
    fn planes_pad_with_zero_lanes() {
        let words: Vec<u64> = (0..70u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let planes = to_planes(&words);
        assert_eq!(planes.len(), 128);
        for (e, &w) in words.iter().enumerate() {
            for b in 0..64 {
                let plane = planes[(e / 64) * 64 + b];
                assert_eq!((plane >> (e % 64)) & 1, (w >> b) & 1);
            }
        }
        // Lanes 6..64 of the second group are padding.
        assert!(planes[64..].iter().all(|p| p >> 6 == 0));
    }

    #[test]
    fn pack_gather_concat_round_trip() {
        let bits: Vec<u64> = (0..150u64).map(|i| (i * 7 / 3) & 1).collect();
        let packed = pack(&bits);
        assert_eq!(unpack(&packed, 150), bits);
        let idx = [149, 0, 3, 3, 77];
        assert_eq!(
            unpack(&gather(&packed, &idx), 5),
            idx.iter().map(|&i| bits[i]).collect::<Vec<_>>()
        );
        let head = pack(&bits[..70]);
        let joined = concat(&[(&head, 70), (&packed, 150), (&head, 70)]);
        let mut expected = bits[..70].to_vec();
        expected.extend(&bits);
        expected.extend(&bits[..70]);
        assert_eq!(unpack(&joined, 290), expected);
        let aligned = concat(&[(&packed[..1], 64), (&head, 70)]);
        assert_eq!(unpack(&aligned, 134)[64..], bits[..70]);
    }

    #[test]
    fn indicators_select_each_value_once() {
        // Lane v holds the value v (4 bits).
        let bits: Vec<u64> = (0..4)
            .map(|i| (0..16u64).fold(0, |acc, v| acc | (((v >> i) & 1) << v)))
            .collect();
        let mut out = [0u64; 16];
        indicators(&bits, &mut out);
        for (v, &plane) in out.iter().enumerate() {
            assert_eq!(plane & 0xffff, 1 << v, "value {v}");
        }
    }
}
