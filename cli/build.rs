//! Links the `sfnlite` executable at a fixed address (not position-independent) on
//! Linux with glibc.
//!
//! A position-independent executable of this size carries about 260,000 relative
//! relocations that the dynamic loader applies at every start, touching every page of
//! `.data.rel.ro`: most of the start-up time of a short command (7 ms of `sfnlite
//! --version`, now 1.9 ms). A fixed-address executable has none. The cost: the
//! executable's own code is not randomised in memory (ASLR still places the heap, the
//! stacks and the shared libraries). Only the binaries of this package are affected, not
//! the libraries or the tests; static (`crt-static`) and musl builds, which rustc links as
//! static-pie, are left alone. See ARCHITECTURE.md, "Build profiles".
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let static_crt = var("CARGO_CFG_TARGET_FEATURE").split(',').any(|f| f == "crt-static");
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" && !static_crt {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
