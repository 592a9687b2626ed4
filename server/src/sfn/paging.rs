//! Paging for the List* operations and GetExecutionHistory: `maxResults` items a page and
//! an opaque `nextToken` holding the sort key of the last item given. The next page starts
//! at the first item whose key sorts after it, so items added meanwhile (a new execution
//! at the head of a newest-first list) neither repeat nor shift the page, and items
//! deleted meanwhile (a cleanup loop) do not invalidate the token. Tokens are tied to the
//! operation and its target, so that one is refused elsewhere.

use super::error::ApiError;

/// One page of `items`, ordered by `key` (a string whose order is the list's order: e.g.
/// a zero-padded, inverted timestamp for newest-first), after the token's item; and the
/// token of the next page.
pub(crate) fn page<T>(
    mut items: Vec<T>,
    max: usize,
    token: Option<&str>,
    scope: &str,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut keyed: Vec<(String, T)> = items.drain(..).map(|item| (key(&item), item)).collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let start = match token {
        None => 0,
        Some(token) => {
            let last =
                decode(token, scope).ok_or_else(|| ApiError::new("InvalidToken", "Invalid Token: 'Invalid token'"))?;
            keyed.partition_point(|(k, _)| *k <= last)
        }
    };
    let total = keyed.len();
    let end = start.saturating_add(max).min(total);
    let next = (end < total && end > start).then(|| encode(&keyed[end - 1].0, scope));
    Ok((keyed.into_iter().skip(start).take(end.saturating_sub(start)).map(|(_, item)| item).collect(), next))
}

/// A sort key that orders epoch milliseconds newest first.
pub(crate) fn newest_first(millis: i64) -> String {
    format!("{:020}", i64::MAX.saturating_sub(millis))
}

/// A sort key that orders epoch milliseconds (or ids) oldest first.
pub(crate) fn oldest_first(value: i64) -> String {
    format!("{:020}", value.max(0))
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
        oldest_first(i64::from(*n))
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
    fn items_added_or_deleted_between_pages_neither_repeat_nor_vanish() {
        let newest = |n: &i32| newest_first(i64::from(*n));
        let (first, token) = page(vec![3, 2, 1, 0], 2, None, "a", newest).unwrap();
        assert_eq!(first, vec![3, 2]);
        let (second, _) = page(vec![4, 3, 2, 1, 0], 2, token.as_deref(), "a", newest).unwrap();
        assert_eq!(second, vec![1, 0], "a new head does not shift the next page");
        let (after_cleanup, _) = page(vec![1, 0], 2, token.as_deref(), "a", newest).unwrap();
        assert_eq!(after_cleanup, vec![1, 0], "the given page deleted: the token still works");
    }
}
