//! Paging for the List* operations and GetExecutionHistory: `maxResults` items a page and
//! an opaque `nextToken` (the offset of the next item, tied to the operation's target so
//! that a token is refused elsewhere).

use super::error::ApiError;

/// One page of `items`, starting at the token's offset; the token of the next page.
pub(crate) fn page<T>(
    items: Vec<T>,
    max: usize,
    token: Option<&str>,
    scope: &str,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let start = match token {
        None => 0,
        Some(token) => {
            decode(token, scope).ok_or_else(|| ApiError::new("InvalidToken", "Invalid Token: 'Invalid token'"))?
        }
    };
    let total = items.len();
    let end = start.saturating_add(max).min(total);
    let next = (end < total).then(|| encode(end, scope));
    Ok((items.into_iter().skip(start).take(end.saturating_sub(start)).collect(), next))
}

fn checksum(scope: &str) -> u32 {
    scope.bytes().fold(0x811c_9dc5u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

fn encode(offset: usize, scope: &str) -> String {
    format!("sfnlite-{offset:x}-{:08x}", checksum(scope))
}

fn decode(token: &str, scope: &str) -> Option<usize> {
    let rest = token.strip_prefix("sfnlite-")?;
    let (offset, sum) = rest.split_once('-')?;
    (u32::from_str_radix(sum, 16).ok()? == checksum(scope)).then_some(())?;
    usize::from_str_radix(offset, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_the_items_and_tokens_belong_to_their_scope() {
        let (first, token) = page((0..5).collect(), 2, None, "a").unwrap();
        assert_eq!(first, vec![0, 1]);
        let token = token.unwrap();
        let (second, token2) = page((0..5).collect(), 2, Some(&token), "a").unwrap();
        assert_eq!(second, vec![2, 3]);
        let (last, end) = page((0..5).collect(), 2, token2.as_deref(), "a").unwrap();
        assert_eq!((last, end), (vec![4], None));
        let refused = page((0..5).collect::<Vec<i32>>(), 2, Some(&token), "b").unwrap_err();
        assert_eq!(refused.name, "InvalidToken");
        assert!(page((0..5).collect::<Vec<i32>>(), 2, Some("garbage"), "a").is_err());
    }
}
