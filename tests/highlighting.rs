//! The editor grammars follow `grammar/flow.pest`, the one source of the
//! syntax: every word of its `kw_*` rules, read from the file's text, must
//! be highlighted by the TextMate grammar (`grammar/flow.tmLanguage.json`,
//! used by VS Code and many other editors) and the Vim syntax
//! (`editors/vim/syntax/flow.vim`). Adding a reserved word to the pest
//! grammar without them fails here.
//!
//! The TextMate patterns are Oniguruma regexes; fancy-regex understands the
//! subset they use (look-around, `\p{..}`). The real engine runs in
//! `editors/vscode/test/tokenize.test.js`.

use fancy_regex::Regex;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

fn read(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The words of the `kw_*` rules of flow.pest: (reserved, contextual).
/// Reserved ones are those before the "Contextual words" comment.
fn pest_keywords() -> (Vec<String>, Vec<String>) {
    let pest = read("grammar/flow.pest");
    let contextual_from = pest
        .find("// Contextual words")
        .expect("flow.pest has a `// Contextual words` section");
    let rule = Regex::new(r#"(?m)^kw_\w+\s*=\s*@\{\s*"([^"]+)"\s*~\s*!XID_CONTINUE\s*\}"#).unwrap();
    let (mut reserved, mut contextual) = (Vec::new(), Vec::new());
    for found in rule.captures_iter(&pest) {
        let found = found.unwrap();
        let word = found.get(1).unwrap().as_str().to_string();
        if found.get(0).unwrap().start() < contextual_from {
            reserved.push(word);
        } else {
            contextual.push(word);
        }
    }
    // Every `kw_` rule is of that shape: a new one written differently
    // must not slip past this test.
    let rules = pest.lines().filter(|l| l.starts_with("kw_")).count();
    assert_eq!(
        reserved.len() + contextual.len(),
        rules,
        "a kw_* rule of another shape"
    );
    assert!(reserved.len() >= 36 && contextual.len() >= 19);
    (reserved, contextual)
}

fn grammar() -> Value {
    serde_json::from_str(&read("grammar/flow.tmLanguage.json")).expect("the grammar is JSON")
}

/// The scope and regex of each pattern of a repository entry.
fn patterns(grammar: &Value, entry: &str) -> Vec<(String, Regex)> {
    grammar["repository"][entry]["patterns"]
        .as_array()
        .unwrap_or_else(|| panic!("repository entry `{entry}` has patterns"))
        .iter()
        .map(|p| {
            let source = p["match"].as_str().expect("a match pattern");
            let regex = Regex::new(source).unwrap_or_else(|e| panic!("{source}: {e}"));
            (p["name"].as_str().expect("a scope").to_string(), regex)
        })
        .collect()
}

/// The scope of the reserved-word pattern that matches exactly `word` at
/// byte `at` of `text`, if one does.
fn keyword_scope(
    reserved: &[(String, Regex)],
    text: &str,
    at: usize,
    word: &str,
) -> Option<String> {
    reserved.iter().find_map(|(scope, regex)| {
        let m = regex.find_from_pos(text, at).ok().flatten()?;
        (m.start() == at && m.as_str() == word).then(|| scope.clone())
    })
}

const KEYWORD_SCOPES: [&str; 3] = ["keyword.", "storage.type.", "constant.language."];

#[test]
fn every_reserved_word_of_the_pest_grammar_is_a_textmate_keyword() {
    let grammar = grammar();
    let reserved = patterns(&grammar, "reserved-words");
    let (words, _) = pest_keywords();
    for word in &words {
        for (text, at) in [
            (word.clone(), 0),
            (format!("on x if {word} y"), 8),
            (format!("{word};"), 0),
        ] {
            let scope = keyword_scope(&reserved, &text, at, word).unwrap_or_else(|| {
                panic!("`{word}` is not a keyword of the TextMate grammar in {text:?}")
            });
            assert!(
                KEYWORD_SCOPES.iter().any(|p| scope.starts_with(p)),
                "`{word}` has scope {scope}"
            );
        }
        // Only whole words: a name that contains one is a name.
        for name in [
            format!("{word}_x"),
            format!("{word}é"),
            format!("é{word}"),
            format!("x{word}"),
            format!("{word}1"),
        ] {
            for (scope, regex) in &reserved {
                assert!(
                    !regex.is_match(&name).unwrap(),
                    "{scope} matches inside the name `{name}`"
                );
            }
        }
    }
}

#[test]
fn plain_names_in_any_language_are_not_keywords() {
    let reserved = patterns(&grammar(), "reserved-words");
    for name in [
        "birthday",
        "prénom",
        "cumpleaños",
        "oferta_día",
        "onboarding",
        "settings",
        "whenever",
        "été_on",
        "名前",
    ] {
        for (scope, regex) in &reserved {
            assert!(
                !regex.is_match(name).unwrap(),
                "{scope} matches in the name `{name}`"
            );
        }
    }
}

#[test]
fn the_reserved_words_are_reached_from_the_top_of_the_grammar() {
    let grammar = grammar();
    let includes = |patterns: &Value| -> Vec<String> {
        patterns
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["include"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(grammar["scopeName"], "source.flow");
    assert!(includes(&grammar["patterns"]).contains(&"#expression".to_string()));
    assert!(includes(&grammar["repository"]["expression"]["patterns"])
        .contains(&"#reserved-words".to_string()));
}

/// Every string of the grammar under one of `keys`, with the scopes its
/// pattern gives (`name` and every capture's).
fn regexes_with_scopes(value: &Value, keys: &[&str], out: &mut Vec<(String, Vec<String>)>) {
    match value {
        Value::Object(map) => {
            let mut scopes: Vec<String> = map
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .into_iter()
                .collect();
            for captures in ["captures", "beginCaptures", "endCaptures"] {
                if let Some(Value::Object(c)) = map.get(captures) {
                    scopes.extend(
                        c.values()
                            .filter_map(|v| v["name"].as_str().map(str::to_string)),
                    );
                }
            }
            for key in keys {
                if let Some(Value::String(source)) = map.get(*key) {
                    out.push((source.clone(), scopes.clone()));
                }
            }
            map.values().for_each(|v| regexes_with_scopes(v, keys, out));
        }
        Value::Array(items) => items.iter().for_each(|v| regexes_with_scopes(v, keys, out)),
        _ => {}
    }
}

/// The lower-case words standing as whole alternatives or groups in a regex
/// source: `of` in `(anniversary)\s+(of)`, `per` in `(?:per|priority|to)`.
fn words_in_regex(source: &str) -> BTreeSet<String> {
    let word = Regex::new(r"(?<=[(|:])[a-z]+(?=[)|])").unwrap();
    word.find_iter(source)
        .map(|m| m.unwrap().as_str().to_string())
        .collect()
}

#[test]
fn every_contextual_word_of_the_pest_grammar_has_a_contextual_keyword_pattern() {
    let mut all = Vec::new();
    regexes_with_scopes(&grammar(), &["match", "begin"], &mut all);
    let contextual: BTreeSet<String> = all
        .iter()
        .filter(|(_, scopes)| scopes.iter().any(|s| s == "keyword.other.contextual.flow"))
        .flat_map(|(source, _)| words_in_regex(source))
        .collect();
    let (_, words) = pest_keywords();
    for word in &words {
        assert!(
            contextual.contains(word),
            "no keyword.other.contextual.flow pattern names `{word}`"
        );
    }
}

#[test]
fn names_taken_by_place_exclude_exactly_the_reserved_words() {
    // `send NAME`, `flow NAME`, ... capture a name only if it is not a
    // reserved word: `(?!(?:when|on|...)...)`. Each such list is complete.
    let mut all = Vec::new();
    regexes_with_scopes(&grammar(), &["match", "begin"], &mut all);
    let list = Regex::new(r"\(\?!\(\?:((?:[a-z]+\|)+[a-z]+)\)").unwrap();
    let (reserved, _) = pest_keywords();
    let reserved: BTreeSet<String> = reserved.into_iter().collect();
    let mut lists = 0;
    for (source, _) in &all {
        for found in list.captures_iter(source) {
            let found = found.unwrap();
            let words: BTreeSet<String> = found
                .get(1)
                .unwrap()
                .as_str()
                .split('|')
                .map(str::to_string)
                .collect();
            assert_eq!(words, reserved, "the reserved words excluded in {source}");
            lists += 1;
        }
    }
    assert!(lists >= 5, "only {lists} lists of excluded words");
}

#[test]
fn the_vscode_extension_ships_the_grammar_unchanged() {
    assert!(
        read("editors/vscode/syntaxes/flow.tmLanguage.json")
            == read("grammar/flow.tmLanguage.json"),
        "editors/vscode/syntaxes/flow.tmLanguage.json differs from grammar/flow.tmLanguage.json: \
         cp grammar/flow.tmLanguage.json editors/vscode/syntaxes/"
    );
}

#[test]
fn the_reserved_word_patterns_name_no_other_word() {
    // A word there that flow.pest does not reserve would paint a valid name.
    let grammar = grammar();
    let (reserved, _) = pest_keywords();
    for pattern in grammar["repository"]["reserved-words"]["patterns"]
        .as_array()
        .unwrap()
    {
        let source = pattern["match"].as_str().unwrap();
        for word in words_in_regex(source) {
            assert!(
                reserved.contains(&word),
                "`{word}` is highlighted as reserved but flow.pest does not reserve it"
            );
        }
    }
}

/// The words of each `syn keyword GROUP word... [option=...]` line of the
/// Vim syntax, as (group, word).
fn vim_keywords() -> Vec<(String, String)> {
    let syntax = read("editors/vim/syntax/flow.vim");
    let mut out = Vec::new();
    for line in syntax.lines() {
        let mut fields = line.split_whitespace();
        if fields.next() != Some("syn") || fields.next() != Some("keyword") {
            continue;
        }
        let group = fields.next().expect("a group").to_string();
        for word in fields
            .take_while(|f| !f.contains('=') && !["contained", "skipwhite", "skipnl"].contains(f))
        {
            out.push((group.clone(), word.to_string()));
        }
    }
    out
}

#[test]
fn the_vim_syntax_has_every_keyword_of_the_pest_grammar_and_no_other() {
    let keywords = vim_keywords();
    let (reserved, contextual) = pest_keywords();
    let groups_of = |word: &str| -> Vec<&str> {
        keywords
            .iter()
            .filter(|(_, w)| w == word)
            .map(|(g, _)| g.as_str())
            .collect()
    };
    // Groups that are not reserved words: contextual words, channels, TODO.
    let other = ["flowContextual", "flowChannel", "flowTodo"];
    for word in &reserved {
        let groups = groups_of(word);
        assert!(
            groups.len() == 1 && !other.contains(&groups[0]),
            "`{word}` must be in exactly one reserved-word group of flow.vim: {groups:?}"
        );
    }
    for word in &contextual {
        assert_eq!(groups_of(word), ["flowContextual"], "`{word}` in flow.vim");
    }
    for (group, word) in &keywords {
        let known = match group.as_str() {
            "flowContextual" => contextual.contains(word),
            "flowChannel" => ["email", "sms", "push"].contains(&word.as_str()),
            "flowTodo" => true,
            _ => reserved.contains(word),
        };
        assert!(
            known,
            "{group} `{word}` of flow.vim is not a word of flow.pest"
        );
    }
}
