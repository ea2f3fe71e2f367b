//! A tiny deterministic PRNG (SplitMix64) and stateless hashing.
//!
//! The mock must produce the same world for the same seed on every platform
//! and every build, so it cannot depend on an external RNG whose streams may
//! change between versions. SplitMix64 is a few lines, passes BigCrush, and
//! its finaliser doubles as a good stateless hash for logs and metrics, whose
//! values must be a pure function of (seed, series, timestamp).

/// SplitMix64: a 64-bit state advanced by a Weyl sequence and finalised by a
/// strong mixer.
#[derive(Debug, Clone)]
pub struct Rng(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 finaliser: a bijective avalanche of all 64 bits.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes several words into one, order-sensitively.
pub fn hash(parts: &[u64]) -> u64 {
    parts
        .iter()
        .fold(GOLDEN, |acc, &p| mix64(acc.wrapping_add(GOLDEN) ^ mix64(p)))
}

/// FNV-1a over a string, to turn names (streams, label values) into words
/// for [`hash`].
pub fn hash_str(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A uniform float in [0, 1) from a hash word.
pub fn unit_from(word: u64) -> f64 {
    (word >> 11) as f64 / (1u64 << 53) as f64
}

impl Rng {
    /// An independent stream for one part of the world, so that changing how
    /// (say) tickets are generated does not reshuffle incidents.
    pub fn stream(seed: u64, name: &str) -> Self {
        Rng(hash(&[seed, hash_str(name)]))
    }

    /// A stream started from an already-mixed word, e.g. a per-slot hash.
    pub fn from_word(word: u64) -> Self {
        Rng(word)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// Uniform in `0..n`; `n` must be positive. The modulo bias is below
    /// 2^-40 for the small ranges used here, which is irrelevant for demo data.
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi);
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        unit_from(self.next_u64())
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// [`Rng::pick`] for string tables; spares callers a `*` that type
    /// inference would otherwise need.
    pub fn pick_str(&mut self, items: &[&'static str]) -> &'static str {
        items[self.below(items.len() as u64) as usize]
    }

    /// Picks by integer weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (item, w) in items {
            if roll < u64::from(*w) {
                return item;
            }
            roll -= u64::from(*w);
        }
        &items[items.len() - 1].0
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// `len` lowercase hex digits, e.g. a short commit sha or a trace id.
    pub fn hex(&mut self, len: usize) -> String {
        let mut out = String::with_capacity(len);
        while out.len() < len {
            out.push_str(&format!("{:016x}", self.next_u64()));
        }
        out.truncate(len);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_streams_differ() {
        let a: Vec<u64> = (0..5)
            .scan(Rng::stream(7, "x"), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..5)
            .scan(Rng::stream(7, "x"), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..5)
            .scan(Rng::stream(7, "y"), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::stream(1, "bounds");
        for _ in 0..10_000 {
            let v = r.range(-3, 4);
            assert!((-3..=4).contains(&v));
            let u = r.unit();
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn weighted_respects_zero_weights() {
        let mut r = Rng::stream(1, "w");
        for _ in 0..1000 {
            assert_eq!(*r.weighted(&[("a", 0), ("b", 3), ("c", 0)]), "b");
        }
    }
}
