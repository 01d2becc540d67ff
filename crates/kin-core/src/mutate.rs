//! Random damage for the property tests of kin's parsers and file readers: a small seeded
//! generator and one mutation at a time (bits flipped, cut short, bytes inserted, a stretch
//! overwritten or zeroed), the same sequence for the same seed on every machine.

/// A seeded linear congruential generator (Knuth's MMIX constants), its high bits taken.
pub struct Mutator(u64);

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Mutator(seed)
    }

    /// The next 31 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() as usize) % n.max(1)
    }

    /// One random change to `bytes`.
    pub fn mutate(&mut self, bytes: &mut Vec<u8>) {
        let len = bytes.len().max(1);
        match self.below(5) {
            0 => {
                for _ in 0..1 + self.below(8) {
                    let at = self.below(len).min(bytes.len().saturating_sub(1));
                    let bit = self.below(8);
                    if let Some(b) = bytes.get_mut(at) {
                        *b ^= 1 << bit;
                    }
                }
            }
            1 => bytes.truncate(self.below(len)),
            2 => {
                let at = self.below(len).min(bytes.len());
                let junk: Vec<u8> = (0..1 + self.below(64)).map(|_| self.next() as u8).collect();
                bytes.splice(at..at, junk);
            }
            3 => {
                let at = self.below(len).min(bytes.len());
                let end = (at + 1 + self.below(256)).min(bytes.len());
                bytes[at..end].iter_mut().for_each(|b| *b = self.next() as u8);
            }
            _ => {
                let at = self.below(len).min(bytes.len());
                let end = (at + 1 + self.below(4096)).min(bytes.len());
                bytes[at..end].iter_mut().for_each(|b| *b = 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_damage_and_every_kind_happens() {
        let original: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        let run = |seed| {
            let mut m = Mutator::new(seed);
            (0..50)
                .map(|_| {
                    let mut b = original.clone();
                    m.mutate(&mut b);
                    b
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        let outcomes = run(7);
        assert!(outcomes.iter().any(|b| b.len() < original.len()), "something cut short");
        assert!(outcomes.iter().any(|b| b.len() > original.len()), "something inserted");
        assert!(outcomes.iter().any(|b| b.len() == original.len() && *b != original), "something changed in place");
        let mut empty = Vec::new();
        Mutator::new(1).mutate(&mut empty);
    }
}
