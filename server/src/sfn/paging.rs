//! Paging for the List* operations and GetExecutionHistory: `maxResults` items a page and
//! an opaque `nextToken` naming the last item given (so that items added meanwhile, such
//! as a new execution at the head of a newest-first list, neither repeat nor vanish), tied
//! to the operation and its target so that a token is refused elsewhere.

use super::error::ApiError;

/// One page of `items` (in their final order), after the item the token names; the token
/// of the next page. `key` names an item uniquely and stably.
pub(crate) fn page<T>(
    items: Vec<T>,
    max: usize,
    token: Option<&str>,
    scope: &str,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let invalid = || ApiError::new("InvalidToken", "Invalid Token: 'Invalid token'");
    let start = match token {
        None => 0,
        Some(token) => {
            let last = decode(token, scope).ok_or_else(invalid)?;
            items.iter().position(|item| key(item) == last).ok_or_else(invalid)? + 1
        }
    };
    let total = items.len();
    let end = start.saturating_add(max).min(total);
    let next = (end < total && end > start).then(|| encode(&key(&items[end - 1]), scope));
    Ok((items.into_iter().skip(start).take(end.saturating_sub(start)).collect(), next))
}

/// A List* answer: the items under `key`, and `nextToken` when there is a next page.
pub(crate) fn listing(key: &str, items: Vec<serde_json::Value>, next: Option<String>) -> serde_json::Value {
    let mut out = serde_json::json!({ key: items });
    if let Some(next) = next {
        out["nextToken"] = serde_json::json!(next);
    }
    out
}

fn checksum(scope: &str) -> u32 {
    scope.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn encode(last: &str, scope: &str) -> String {
    let hex: String = last.bytes().map(|b| format!("{b:02x}")).collect();
    format!("sfnlite-{:08x}-{hex}", checksum(scope))
}

fn decode(token: &str, scope: &str) -> Option<String> {
    let rest = token.strip_prefix("sfnlite-")?;
    let (sum, hex) = rest.split_once('-')?;
    (u32::from_str_radix(sum, 16).ok()? == checksum(scope)).then_some(())?;
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: &i32) -> String {
        n.to_string()
    }

    #[test]
    fn pages_walk_the_items_and_tokens_belong_to_their_scope() {
        let (first, token) = page((0..5).collect(), 2, None, "a", key).unwrap();
        assert_eq!(first, vec![0, 1]);
        let token = token.unwrap();
        let (second, token2) = page((0..5).collect(), 2, Some(&token), "a", key).unwrap();
        assert_eq!(second, vec![2, 3]);
        let (last, end) = page((0..5).collect(), 2, token2.as_deref(), "a", key).unwrap();
        assert_eq!((last, end), (vec![4], None));
        let refused = page((0..5).collect::<Vec<i32>>(), 2, Some(&token), "b", key).unwrap_err();
        assert_eq!(refused.name, "InvalidToken");
        assert!(page((0..5).collect::<Vec<i32>>(), 2, Some("garbage"), "a", key).is_err());
    }

    #[test]
    fn an_item_added_at_the_head_neither_repeats_nor_shifts_the_next_page() {
        let (first, token) = page(vec![3, 2, 1, 0], 2, None, "a", key).unwrap();
        assert_eq!(first, vec![3, 2]);
        let (second, _) = page(vec![4, 3, 2, 1, 0], 2, token.as_deref(), "a", key).unwrap();
        assert_eq!(second, vec![1, 0]);
    }
}
