//! Byte-level mutations of seed inputs, aimed at what binary formats trust:
//! length and count fields (overwritten with boundary values), type bytes,
//! truncation, duplication and splicing of ranges from other seeds.

use crate::rng::Rng;

/// Values that break length arithmetic: zero, one, around the 24-bit and
/// 32-bit limits, and the sizes of this input.
fn interesting_u32(rng: &mut Rng, len: usize) -> u32 {
    let len = len as u32;
    *rng.pick(&[
        0,
        1,
        3,
        4,
        8,
        0x7f,
        0xff,
        0x100,
        0xfff0,
        0xffff,
        0x00ff_fff0,
        0x00ff_ffff,
        0x0100_0000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
        len,
        len.wrapping_add(4),
        len.wrapping_sub(4),
        len.wrapping_mul(2),
        len << 8,
    ])
}

/// Applies one to four mutations to `data`, keeping it at most `max_len`
/// bytes long. `others` are seeds to splice from.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>], max_len: usize) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        mutate_once(rng, data, others);
    }
    data.truncate(max_len);
}

fn mutate_once(rng: &mut Rng, data: &mut Vec<u8>, others: &[Vec<u8>]) {
    let len = data.len();
    match rng.below(11) {
        // Flip one bit.
        0 if len > 0 => {
            let at = rng.below(len);
            data[at] ^= 1 << rng.below(8);
        }
        // Set one byte to a random or boundary value.
        1 if len > 0 => {
            let at = rng.below(len);
            let random = rng.byte();
            data[at] = *rng.pick(&[0, 1, 0x7f, 0x80, 0xff, random]);
        }
        // Overwrite a little-endian word: a length or count field,
        // at a 4-byte boundary half of the time.
        2 | 3 if len >= 4 => {
            let mut at = rng.below(len - 3);
            if rng.one_in(2) {
                at &= !3;
            }
            let word = interesting_u32(rng, len).to_le_bytes();
            data[at..at + 4].copy_from_slice(&word);
        }
        // Add or subtract a little from a byte (small length changes).
        4 if len > 0 => {
            let at = rng.below(len);
            let delta = rng.below(9) as u8;
            data[at] = if rng.one_in(2) {
                data[at].wrapping_add(delta)
            } else {
                data[at].wrapping_sub(delta)
            };
        }
        // Cut the end off.
        5 if len > 0 => data.truncate(rng.below(len)),
        // Remove a range.
        6 if len > 0 => {
            let from = rng.below(len);
            let to = from + rng.below(len - from + 1);
            data.drain(from..to);
        }
        // Repeat a range in place.
        7 if len > 0 => {
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(256));
            let chunk = data[from..from + n].to_vec();
            let times = 1 + rng.below(8);
            for _ in 0..times {
                data.splice(from..from, chunk.iter().copied());
            }
        }
        // Insert random bytes.
        8 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(32);
            let bytes = rng.bytes(n);
            data.splice(at..at, bytes);
        }
        // Splice in a range of another seed.
        9 if !others.is_empty() => {
            let other = rng.pick(others);
            if !other.is_empty() {
                let from = rng.below(other.len());
                let n = 1 + rng.below(other.len() - from);
                let at = rng.below(len + 1);
                data.splice(at..at, other[from..from + n].iter().copied());
            }
        }
        // Append random bytes.
        _ => {
            let n = rng.below(16);
            let bytes = rng.bytes(n);
            data.extend(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_change_inputs_and_respect_the_size_limit() {
        let seed: Vec<u8> = (0..64).collect();
        let mut changed = 0;
        for i in 0..200 {
            let mut rng = Rng::for_input(3, "m", i);
            let mut data = seed.clone();
            mutate(&mut rng, &mut data, &[vec![9; 300]], 100);
            assert!(data.len() <= 100);
            if data != seed {
                changed += 1;
            }
        }
        assert!(changed > 180, "only {changed} of 200 inputs changed");
    }
}
