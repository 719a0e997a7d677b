//! A small deterministic PRNG (SplitMix64): the same seed gives the same
//! inputs on every machine, so a failure is reproduced from its seed and index.

/// SplitMix64 state.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// The generator for input `index` of a run seeded with `seed`: each
    /// input can be made again on its own.
    pub fn for_input(seed: u64, target: &str, index: u64) -> Rng {
        let mut salt = Rng { state: seed };
        for b in target.bytes() {
            salt.state ^= u64::from(b);
            salt.next_u64();
        }
        Rng {
            state: salt.next_u64() ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_index_give_the_same_numbers() {
        let mut a = Rng::for_input(7, "sexp", 42);
        let mut b = Rng::for_input(7, "sexp", 42);
        let mut c = Rng::for_input(7, "sexp", 43);
        let xs: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..4).map(|_| b.next_u64()).collect::<Vec<_>>());
        assert_ne!(xs, (0..4).map(|_| c.next_u64()).collect::<Vec<_>>());
        assert_ne!(
            Rng::for_input(7, "sexp", 1).next_u64(),
            Rng::for_input(7, "intake", 1).next_u64()
        );
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::for_input(1, "t", 0);
        assert!((0..1000).all(|_| r.below(7) < 7));
        assert_eq!(r.below(0), 0);
    }
}
