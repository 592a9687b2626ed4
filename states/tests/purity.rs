//! `states` is pure: no IO, no clock, no environment, no OS randomness. This test fails when
//! its code reaches for one, or when its dependencies change (a new one must be read and
//! added below, with what it may reach and why that is unreachable from `states`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What the code of `states` must not name (outside its `#[cfg(test)]` modules).
const FORBIDDEN: &[&str] = &[
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::thread",
    "std::io::stdin",
    "std::io::stdout",
    "SystemTime",
    "Instant",
    "Utc::now",
    "Local::now",
    "tokio",
    "rand::",
    "getrandom",
    "env::var",
    "File::",
    "unsafe ",
];

/// The crates `states` depends on, directly or not, as Cargo.lock resolves them.
const DEPENDENCIES: &[&str] = &[
    // Ours, serde and JSON.
    "sfnlite-states",
    "serde",
    "serde_core",
    "serde_derive",
    "serde_json",
    "itoa",
    "memchr",
    "zmij",
    "thiserror",
    "thiserror-impl",
    "proc-macro2",
    "quote",
    "syn",
    "unicode-ident",
    // Hashes ($hash, States.Hash): cpufeatures reads CPU flags, nothing else.
    "md-5",
    "sha1",
    "sha2",
    "digest",
    "block-buffer",
    "crypto-common",
    "generic-array",
    "typenum",
    "cfg-if",
    "cpufeatures",
    // The graph of states.
    "petgraph",
    "fixedbitset",
    "hashbrown",
    "foldhash",
    "equivalent",
    "indexmap",
    // JSONPath.
    "jsonpath-rust",
    "pest",
    "pest_derive",
    "pest_generator",
    "pest_meta",
    "ucd-trie",
    "regex",
    "regex-automata",
    "regex-syntax",
    "aho-corasick",
    "base64",
    "percent-encoding",
    // JSONata. jsonata-core reaches the OS's randomness (rand, getrandom, chacha20) only in
    // $shuffle and $random, and the wall clock (chrono's clock, iana-time-zone, libc) only in
    // $now, $millis and $toMillis with a picture: `states` overrides all five with the
    // runtime's entropy and time (tested in `jsonata.rs`). Its evaluation timeout reads
    // `Instant`: the one clock `states` lets be read, as a bound on runaway expressions
    // (`jsonata::TIME_LIMIT_MS`), never by one that works. psm and stacker grow the stack.
    "jsonata-core",
    "rand",
    "rand_core",
    "chacha20",
    "getrandom",
    "libc",
    "chrono",
    "iana-time-zone",
    "num-traits",
    "psm",
    "stacker",
    "pest_stack_guard",
];

fn crate_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn states_code_reaches_for_no_io_clock_environment_or_randomness() {
    let mut files = Vec::new();
    sources(&crate_root().join("src"), &mut files);
    assert!(files.len() > 10, "the sources of states are found");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Tests may read files (the AWS-recorded corpus); the library may not.
        let library = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (number, line) in library.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for forbidden in FORBIDDEN {
                // At the start of a name: `Operand::` is not `rand::`.
                let named = code
                    .match_indices(forbidden)
                    .any(|(at, _)| !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
                if named {
                    found.push(format!("{}:{}: {forbidden}", file.display(), number + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "states must stay pure; found:\n{}", found.join("\n"));
    let lib = std::fs::read_to_string(crate_root().join("src/lib.rs")).unwrap();
    assert!(lib.contains("#![forbid(unsafe_code)]"), "states forbids unsafe code");
}

#[test]
fn states_depends_only_on_reviewed_crates() {
    // What Linux builds for `states` (normal dependencies, not build or dev ones), as Cargo
    // resolves it from Cargo.lock; the same answer on any machine that runs the test.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-p", "sfnlite-states", "-e", "normal", "--prefix", "none"])
        .args(["--target", "x86_64-unknown-linux-gnu"])
        .current_dir(crate_root())
        .output()
        .expect("cargo tree runs");
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    let reached: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(reached.contains("jsonata-core") && reached.contains("serde_json"), "{reached:?}");
    let reviewed: BTreeSet<String> = DEPENDENCIES.iter().map(|s| (*s).to_owned()).collect();
    let new: Vec<&String> = reached.difference(&reviewed).collect();
    assert!(new.is_empty(), "states reaches crates nobody reviewed for purity: {new:?}");
}
