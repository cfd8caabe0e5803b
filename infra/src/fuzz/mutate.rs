//! The mutator: byte-level edits chosen for text formats.

/// A fixed-seed xorshift: reproducible runs without a dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// Tokens that change how a CSV, JSON or YAML reader sees what follows.
const TOKENS: &[&[u8]] = &[
    b"\"",
    b",",
    b";",
    b"\t",
    b"|",
    b"\n",
    b"\r\n",
    b"\r",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\x00",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xC3",
    b"\xE2\x82",
    b"null",
    b"true",
    b"1e400",
    b"-0",
    b"9223372036854775808",
    b"0.000000000000000000000000000000000000001",
    b"2026-02-30",
    b"2026-11-01T25:61:61Z",
    b"\"\"\"",
    b": ",
    b"- ",
    b"&a ",
    b"*a",
    b"!!",
    b"---\n",
    b"{{{{{{{{{{{{{{{{",
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b"\x1f\x8b",
    b"\x28\xb5\x2f\xfd",
];

#[derive(Debug, Clone)]
pub struct Mutator {
    rng: Rng,
}

impl Mutator {
    pub fn new(seed: u64) -> Mutator {
        Mutator { rng: Rng::new(seed) }
    }

    /// A new input from the seeds: one to eight edits of one seed, sometimes
    /// spliced with another.
    pub fn mutate(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let base = seeds.get(self.rng.below(seeds.len())).cloned().unwrap_or_default();
        let mut out = base;
        for _ in 0..1 + self.rng.below(8) {
            self.edit(&mut out, seeds);
        }
        // Bounded, so one input never costs much more than the seeds do.
        out.truncate(1 << 18);
        out
    }

    fn edit(&mut self, out: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let at = self.rng.below(out.len() + 1);
        match self.rng.below(9) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << self.rng.below(8);
            }
            1 => out.truncate(at),
            2 => {
                let t = TOKENS[self.rng.below(TOKENS.len())];
                splice_in(out, at, t);
            }
            3 => {
                let junk: Vec<u8> = (0..self.rng.below(32)).map(|_| self.rng.next_u64() as u8).collect();
                splice_in(out, at, &junk);
            }
            4 if !out.is_empty() => {
                // Repeat a slice: long fields, many columns, deep nesting.
                let start = at.min(out.len() - 1);
                let len = 1 + self.rng.below((out.len() - start).min(64));
                let piece = out[start..start + len].to_vec();
                for _ in 0..1 + self.rng.below(16) {
                    splice_in(out, start, &piece);
                }
            }
            5 if !out.is_empty() => {
                let start = at.min(out.len() - 1);
                let len = 1 + self.rng.below((out.len() - start).min(64));
                out.drain(start..start + len);
            }
            6 => {
                if let Some(other) = seeds.get(self.rng.below(seeds.len())) {
                    let from = self.rng.below(other.len() + 1);
                    let piece = other[from..].iter().take(256).copied().collect::<Vec<u8>>();
                    out.truncate(at);
                    out.extend_from_slice(&piece);
                }
            }
            7 => splice_in(out, at, b"\n2026-11-01,12,\"a,b\"\n"),
            _ => splice_in(out, at, b"{\"a\":{\"b\":[1,2,{\"c\":\"d\"}]},\"e\":null}\n"),
        }
    }
}

fn splice_in(out: &mut Vec<u8>, at: usize, bytes: &[u8]) {
    let at = at.min(out.len());
    let tail = out.split_off(at);
    out.extend_from_slice(bytes);
    out.extend_from_slice(&tail);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_mutates_the_same_way() {
        let seeds = vec![b"a,b\n1,2\n".to_vec(), b"{\"a\":1}".to_vec()];
        let (mut a, mut b) = (Mutator::new(9), Mutator::new(9));
        for _ in 0..100 {
            assert_eq!(a.mutate(&seeds), b.mutate(&seeds));
        }
    }
}
