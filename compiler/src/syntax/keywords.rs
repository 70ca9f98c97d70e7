//! The words of the language, read from `grammar/flow.pest` itself (each
//! `kw_*` rule), so that an editor's completion list cannot drift from what
//! the parser accepts.

use std::sync::OnceLock;

/// Every keyword of the grammar, reserved and contextual, in grammar order.
pub fn keywords() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| words_of(include_str!("../../../grammar/flow.pest")))
}

/// The string of each `kw_NAME = @{ "word" ~ ... }` line.
fn words_of(grammar: &'static str) -> Vec<&'static str> {
    grammar
        .lines()
        .filter(|line| line.trim_start().starts_with("kw_"))
        .filter_map(|line| line.split('"').nth(1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::keywords;
    use crate::syntax::grammar::{FlowParser, Rule};
    use pest::Parser;

    #[test]
    fn every_keyword_is_one_the_parser_knows() {
        let words = keywords();
        assert!(words.contains(&"when") && words.contains(&"anniversary"));
        assert!(words.contains(&"priority"), "contextual words too");
        for word in words {
            // A reserved word is matched by `keyword`; a contextual one is not
            // reserved but still a `kw_*` rule of its own name.
            let reserved = FlowParser::parse(Rule::keyword, word).is_ok();
            let contextual = [
                "of", "as", "for", "before", "after", "at", "with", "from", "coupon", "valid",
                "link", "note", "due", "to", "most", "per", "priority", "quiet", "hours",
            ]
            .contains(word);
            assert!(reserved != contextual, "`{word}`");
        }
        assert_eq!(words.len(), 36 + 19);
    }
}
