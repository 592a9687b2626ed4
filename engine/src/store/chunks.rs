//! Content-defined chunking: where a large history record is cut into chunks, so that the
//! parts it shares with other records (the same document entering and leaving a state, a
//! payload carried from state to state) are the same chunks, stored once.
//!
//! A gear hash rolls over the bytes; a chunk ends where its low bits are zero (an average of
//! 8 KiB), never before 2 KiB nor after 64 KiB. A cut depends only on the 64 bytes before it,
//! so an edit moves the cuts near it and no others.
//!
//! JSON text is also cut around every long string ([`split_json`]): the string is chunked
//! from its opening quote to its closing one, so the same long string is the same chunks
//! wherever it appears, whatever surrounds it (a payload's text carried from state to state
//! costs its bytes once, not a chunk's worth of context each time).

use sha2::{Digest, Sha256};

/// No chunk is shorter, except the last.
const MIN_CHUNK: usize = 2 * 1024;
/// No chunk is longer.
const MAX_CHUNK: usize = 64 * 1024;
/// A cut where these bits of the hash are zero: one position in 8,192 on average.
const CUT_MASK: u64 = (1 << 13) - 1;

/// A chunk's name: the SHA-256 of its bytes.
pub(super) type ChunkHash = [u8; 32];

/// The gear table: 256 fixed pseudo-random words (splitmix64 from a constant seed), the
/// same in every build, so that a store's chunks are cut the same way by every sfnlite.
const GEAR: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut state: u64 = 0x5f6e_6c69_7465_6364;
    let mut i = 0;
    while i < 256 {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        table[i] = z ^ (z >> 31);
        i += 1;
    }
    table
};

/// Cuts `bytes` into chunks (consecutive, covering all of it; none when it is empty).
pub(super) fn split(bytes: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::with_capacity(bytes.len() / 8192 + 1);
    let mut rest = bytes;
    while !rest.is_empty() {
        let end = cut(rest);
        let (chunk, tail) = rest.split_at(end);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// A string token of at least this many bytes (quotes included) is chunked on its own.
const LONG_STRING: usize = 4 * 1024;

/// Cuts JSON text like [`split`], and apart from its long strings. Any bytes are cut into
/// consecutive chunks covering them; only the cuts depend on the text being JSON. Each chunk
/// is marked true when it is part of a long string (whose chunks are the same wherever the
/// string appears, so worth storing once even when short).
pub(super) fn split_json(bytes: &[u8]) -> Vec<(&[u8], bool)> {
    let mut chunks = Vec::with_capacity(bytes.len() / 8192 + 1);
    let between = |text| split(text).into_iter().map(|chunk| (chunk, false));
    let mut pending = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'"' {
            i += 1;
            continue;
        }
        let open = i;
        i += 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => break,
                _ => i += 1,
            }
        }
        let close = (i + 1).min(bytes.len());
        if close - open >= LONG_STRING {
            chunks.extend(between(&bytes[pending..open]));
            chunks.extend(split(&bytes[open..close]).into_iter().map(|chunk| (chunk, true)));
            pending = close;
        }
        i = close;
    }
    chunks.extend(between(&bytes[pending..]));
    chunks
}

/// The length of the first chunk of `bytes`.
fn cut(bytes: &[u8]) -> usize {
    if bytes.len() <= MIN_CHUNK {
        return bytes.len();
    }
    let limit = bytes.len().min(MAX_CHUNK);
    let mut hash: u64 = 0;
    // The hash of the 64 bytes before MIN_CHUNK, so that the first possible cut already
    // depends only on the bytes before it.
    for &byte in &bytes[MIN_CHUNK - 64..MIN_CHUNK] {
        hash = (hash << 1).wrapping_add(GEAR[usize::from(byte)]);
    }
    for (i, &byte) in bytes.iter().enumerate().take(limit).skip(MIN_CHUNK) {
        hash = (hash << 1).wrapping_add(GEAR[usize::from(byte)]);
        if hash & CUT_MASK == 0 {
            return i + 1;
        }
    }
    limit
}

/// The name of a chunk.
pub(super) fn hash(chunk: &[u8]) -> ChunkHash {
    Sha256::digest(chunk).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed;
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (state >> 33) as u8
            })
            .collect()
    }

    #[test]
    fn chunks_cover_the_bytes_within_bounds() {
        assert!(split(b"").is_empty());
        assert_eq!(split(b"small"), vec![&b"small"[..]]);
        let bytes = noise(1_000_000, 7);
        let chunks = split(&bytes);
        assert_eq!(chunks.concat(), bytes);
        let (last, others) = chunks.split_last().unwrap();
        assert!(others.iter().all(|c| (MIN_CHUNK..=MAX_CHUNK).contains(&c.len())));
        assert!(last.len() <= MAX_CHUNK);
        // About 8 KiB on average (plus the 2 KiB that no cut may fall in).
        let average = bytes.len() / chunks.len();
        assert!((6_000..14_000).contains(&average), "average chunk {average}");
        // A run of one byte has no cuts but the maximum.
        assert!(split(&vec![b'x'; 200_000]).iter().rev().skip(1).all(|c| c.len() == MAX_CHUNK));
    }

    #[test]
    fn a_long_string_is_the_same_chunks_wherever_it_is() {
        let text: String = noise(100_000, 3).iter().map(|b| char::from(b'a' + b % 26)).collect();
        let json = |n: usize| serde_json::json!({"step": n, "data": &text, "more": vec![n; 50]}).to_string();
        let first: std::collections::HashSet<ChunkHash> =
            split_json(json(1).as_bytes()).into_iter().map(|(chunk, _)| hash(chunk)).collect();
        let second = json(123_456);
        let chunks: Vec<&[u8]> = split_json(second.as_bytes()).into_iter().map(|(chunk, _)| chunk).collect();
        assert_eq!(chunks.concat(), second.as_bytes());
        let new: usize = chunks.iter().filter(|c| !first.contains(&hash(c))).map(|c| c.len()).sum();
        assert!(new < 1_000, "{new} new bytes");
        // Escaped quotes do not end a string; unterminated text is still covered.
        let tricky = format!(r#"{{"a":"{}\"{}"}}"#, "x".repeat(5_000), "y".repeat(5_000));
        let joined =
            |text: &[u8]| split_json(text).into_iter().flat_map(|(chunk, _)| chunk.to_vec()).collect::<Vec<u8>>();
        assert_eq!(joined(tricky.as_bytes()), tricky.as_bytes());
        assert_eq!(joined(br#"{"a":"unterminated\"#), br#"{"a":"unterminated\"#);
        // The long string's chunks are marked, and only they.
        let marked = split_json(tricky.as_bytes());
        assert_eq!(marked.first().map(|&(chunk, long)| (chunk, long)), Some((&b"{\"a\":"[..], false)));
        assert_eq!(marked.last().map(|&(chunk, long)| (chunk, long)), Some((&b"}"[..], false)));
        assert!(marked[1..marked.len() - 1].iter().all(|&(_, long)| long));
    }

    #[test]
    fn an_edit_changes_only_the_chunks_near_it() {
        let original = noise(500_000, 11);
        let mut edited = original.clone();
        edited.splice(250_000..250_010, b"a different text here".iter().copied());
        let before: std::collections::HashSet<ChunkHash> = split(&original).into_iter().map(hash).collect();
        let after: Vec<ChunkHash> = split(&edited).into_iter().map(hash).collect();
        let new = after.iter().filter(|h| !before.contains(*h)).count();
        assert!(new <= 2, "{new} of {} chunks changed", after.len());
        // The same bytes after a different prefix are cut the same way once past it.
        let shifted = [b"prefix".as_slice(), &original].concat();
        let shared = split(&shifted).into_iter().map(hash).filter(|h| before.contains(h)).count();
        assert!(shared + 2 >= before.len(), "{shared} of {} shared", before.len());
    }
}
