//! Randomness from the operating system, for what must differ between runs: execution
//! seeds (then fixed in the record, so a resume draws the same values), default execution
//! names, query and revision ids. The interpreter itself only draws from a seeded
//! `Entropy`, so a run is reproducible from its seed.

use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use sfnlite_states::entropy::{Entropy, SeededEntropy};

/// A seed from the operating system's randomness (the standard library's hasher keys,
/// mixed with the time).
pub fn os_seed() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}

/// A fresh UUID (version 4) from the operating system's randomness.
pub fn new_uuid() -> String {
    SeededEntropy::new(os_seed()).uuid_v4()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_values_differ() {
        assert_ne!(os_seed(), os_seed());
        let (a, b) = (new_uuid(), new_uuid());
        assert_ne!(a, b);
        assert_eq!((a.len(), &a[14..15]), (36, "4"));
    }
}
