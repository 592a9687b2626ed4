//! Links the `sfnlite` executable at a fixed address (not position-independent).
//!
//! A position-independent executable of this size carries about 260,000 relative
//! relocations that the dynamic loader applies at every start, touching every page of
//! `.data.rel.ro`: most of the start-up time of a short command. A fixed-address
//! executable has none (see ARCHITECTURE.md, "Build profiles"). Only the binaries of this
//! package are affected, not the libraries or the tests.
fn main() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
