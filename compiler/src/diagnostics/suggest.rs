//! "Did you mean ...?": the closest known name to a misspelt one.

/// The candidate closest to `name`, if it is close enough to be a likely typo.
///
/// Case-insensitive equality wins outright; otherwise the smallest
/// Damerau-Levenshtein distance within a third of the name's length (at
/// least 1, at most 3), ties broken by the candidate order.
pub fn closest<'a, I>(name: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = name.to_lowercase();
    let limit = (name.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == name {
            continue;
        }
        let distance = if candidate.to_lowercase() == lower {
            0
        } else {
            strsim::damerau_levenshtein(&lower, &candidate.to_lowercase())
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::closest;

    #[test]
    fn finds_typos_and_case() {
        let names = ["birthday", "first_name", "email"];
        assert_eq!(closest("birthdya", names), Some("birthday"));
        assert_eq!(closest("Birthday", names), Some("birthday"));
        assert_eq!(closest("frist_name", names), Some("first_name"));
        assert_eq!(closest("zzz", names), None);
        assert_eq!(closest("x", ["y"]), Some("y"));
        assert_eq!(closest("ab", ["xy"]), None);
    }
}
