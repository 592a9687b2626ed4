//! The fuzz targets (`fuzz/src/targets.rs`) over their kept corpora and crash reproducers
//! (`fuzz/corpus/TARGET/`, `fuzz/artifacts/TARGET/`), plus a few thousand seeded mutations of
//! them: a short, deterministic fuzz run on the stable toolchain, in `cargo test`. The long
//! runs use libFuzzer (`fuzz/run.sh`).

use std::path::{Path, PathBuf};

use super::fuzz_targets::TARGETS;

/// Mutations tried per target, after the kept inputs.
const MUTATIONS: usize = 1500;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    out.sort();
    out
}

/// A small xorshift generator: the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b"$",
    b"$$",
    b"(",
    b")",
    b",",
    b"'",
    b"\\",
    b"..",
    b"[*]",
    b"?(@",
    b"9999999999999999999",
    b"-1",
    b"1e308",
    b"null",
    b"States.Array(",
    b"{%",
    b"%}",
    b"\0",
    b"\n",
];

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(out.len() + 1);
        match rng.below(5) {
            0 if !out.is_empty() => {
                let i = at.min(out.len() - 1);
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            3 if !other.is_empty() => {
                let from = rng.below(other.len());
                let end = (from + rng.below(64)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                let end = (at + rng.below(32)).min(out.len());
                let copy = out[at..end].to_vec();
                out.splice(end..end, copy);
            }
        }
    }
    out
}

#[test]
fn fuzz_targets_survive_their_corpora_and_mutations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (name, target) in TARGETS {
        let kept: Vec<Vec<u8>> = files(&root.join("corpus").join(name))
            .iter()
            .chain(files(&root.join("artifacts").join(name)).iter())
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        assert!(!kept.is_empty(), "fuzz/corpus/{name} is empty");
        for input in &kept {
            run(name, *target, input);
        }
        let mut rng = Rng(0x5EED_0000 ^ name.len() as u64);
        for _ in 0..MUTATIONS {
            let input = &kept[rng.below(kept.len())];
            let other = &kept[rng.below(kept.len())];
            run(name, *target, &mutate(&mut rng, input, other));
        }
    }
}

fn run(name: &str, target: super::fuzz_targets::Target, input: &[u8]) {
    if std::panic::catch_unwind(|| target(input)).is_err() {
        panic!("fuzz target {name} panicked on {:?}", String::from_utf8_lossy(input));
    }
}
