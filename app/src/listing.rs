//! What every list and every enum-valued field share: cursor pagination by
//! id (UUIDv7, so creation order) and parsing a closed set of names.

use uuid::Uuid;

use super::CommandError;

/// One page of `items` (sorted by id) after the cursor, and the cursor of
/// the next page when there is one.
pub fn paginate<T>(
    items: impl IntoIterator<Item = (Uuid, T)>,
    after: Option<Uuid>,
    limit: usize,
) -> (Vec<T>, Option<Uuid>) {
    let mut page: Vec<(Uuid, T)> = items
        .into_iter()
        .filter(|(id, _)| after.is_none_or(|after| *id > after))
        .take(limit.saturating_add(1))
        .collect();
    let next = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|(id, _)| *id)
    } else {
        None
    };
    (page.into_iter().map(|(_, item)| item).collect(), next)
}

/// Parses one of a closed set of names for `field`; the error lists them.
pub fn parse_named<T: Copy>(
    field: &'static str,
    text: &str,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<T, CommandError> {
    all.iter()
        .copied()
        .find(|value| name(*value) == text)
        .ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(|value| name(*value)).collect();
            CommandError::invalid(field, format!("must be one of {}", known.join(", ")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor() {
        let ids: Vec<Uuid> = (1..=5u128).map(Uuid::from_u128).collect();
        let (first, next) = paginate(ids.iter().map(|id| (*id, *id)), None, 2);
        assert_eq!(first, ids[..2]);
        assert_eq!(next, Some(ids[1]));
        let (last, next) = paginate(ids.iter().map(|id| (*id, *id)), Some(ids[3]), 2);
        assert_eq!(last, ids[4..]);
        assert_eq!(next, None);
    }

    #[test]
    fn given_a_limit_of_zero_when_paging_then_nothing_and_no_cursor() {
        let ids: Vec<Uuid> = (1..=3u128).map(Uuid::from_u128).collect();
        let (page, next) = paginate(ids.iter().map(|id| (*id, *id)), None, 0);
        assert!(page.is_empty());
        assert_eq!(next, None);
        let (page, next) = paginate(ids.iter().map(|id| (*id, *id)), None, 3);
        assert_eq!((page.len(), next), (3, None));
    }

    #[test]
    fn given_an_unknown_name_when_parsed_then_422_lists_the_known_ones() {
        let all = ["use", "manage"];
        assert_eq!(
            parse_named("level", "use", &all, |name| name).expect("known"),
            "use"
        );
        let refused = parse_named("level", "own", &all, |name| name).expect_err("refused");
        let CommandError::Invalid { field, message } = refused else {
            panic!("not a field error");
        };
        assert_eq!(field, "level");
        assert_eq!(message, "must be one of use, manage");
    }
}
