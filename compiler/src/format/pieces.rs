//! One item of a file (a rule, a setting, a policy line, a block header)
//! as a row of tokens with the places where a long line may break.
//! Spacing is decided here: one space between tokens, none inside
//! brackets, before `,` `:` `)` `]` or around `.`, none after a unary `-`.

use super::comments::find_punctuation;
use crate::syntax::{SyntaxKind as K, SyntaxNode};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    Token {
        text: String,
        /// Where the token stands in the source: comments before it are
        /// printed before it.
        start: usize,
        end: usize,
        /// A space before it, when on the same line as the previous token.
        space: bool,
    },
    /// Where a rule that does not fit on one line breaks: before `if`,
    /// before its first action and before each `then`.
    Part,
    /// Where a condition that does not fit breaks: before `and` and `or`.
    Operator,
}

pub struct Pieces<'t> {
    text: &'t str,
    pub list: Vec<Piece>,
    glue_next: bool,
    last_end: usize,
}

impl<'t> Pieces<'t> {
    pub fn new(text: &'t str, start: usize) -> Pieces<'t> {
        Pieces {
            text,
            list: Vec::new(),
            glue_next: false,
            last_end: start,
        }
    }

    fn push(&mut self, text: &str, start: usize, end: usize, space: bool) {
        let space = space && !self.glue_next && !self.list.is_empty();
        self.list.push(Piece::Token {
            text: text.to_string(),
            start,
            end,
            space,
        });
        self.glue_next = false;
        self.last_end = end;
    }

    /// A token from the tree, as written.
    pub fn token(&mut self, node: &SyntaxNode) {
        let text = &self.text[node.span.start..node.span.end];
        if node.kind == K::duration && text.contains([' ', '\t']) {
            // `15   days` → `15 days`: one space before a unit in words.
            let words: Vec<&str> = text.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            self.push(&words.join(" "), node.span.start, node.span.end, true);
            return;
        }
        self.push(text, node.span.start, node.span.end, true);
    }

    /// Unnamed punctuation of the grammar, found in the source after the
    /// previous token. `space` says whether a space precedes it.
    pub fn punctuation(&mut self, punctuation: char, space: bool) {
        let start = find_punctuation(self.text, self.last_end, punctuation);
        let end = start + punctuation.len_utf8();
        self.push(&punctuation.to_string(), start, end, space);
    }

    /// The next token follows without a space (after `(`, `[`, `.`, unary `-`).
    fn glue(&mut self) {
        self.glue_next = true;
    }

    fn break_here(&mut self, piece: Piece) {
        if !self.list.is_empty() {
            self.list.push(piece);
        }
    }

    /// Every token of `node`, with its punctuation and break points.
    pub fn node(&mut self, node: &SyntaxNode) {
        match node.kind {
            K::op_neg => {
                self.token(node);
                self.glue();
            }
            _ if node.is_token() => self.token(node),
            K::rule_label => {
                self.children(node);
                self.punctuation(':', false);
            }
            K::setting => {
                for (i, child) in node.children.iter().enumerate() {
                    if i == 1 {
                        self.punctuation(':', false);
                    }
                    self.node(child);
                }
            }
            K::rule_decl => self.rule(node),
            K::condition | K::event_filter => {
                for child in &node.children {
                    match child.kind {
                        K::expr => self.expr(child, true),
                        _ => self.node(child),
                    }
                }
            }
            K::expr => self.expr(node, false),
            K::list | K::literal_list => self.list(node),
            K::name_or_test | K::path => {
                let mut previous_was_name = false;
                for child in &node.children {
                    if child.kind == K::ident && previous_was_name {
                        self.punctuation('.', false);
                        self.glue();
                    }
                    previous_was_name = child.kind == K::ident;
                    self.node(child);
                }
            }
            K::assignment | K::set_field => {
                for child in &node.children {
                    if child.kind == K::expr {
                        self.punctuation('=', true);
                    }
                    self.node(child);
                }
            }
            K::with_clause => {
                for (i, child) in node.children.iter().enumerate() {
                    if i > 1 {
                        self.punctuation(',', false);
                    }
                    self.node(child);
                }
            }
            K::priority => {
                for (i, child) in node.children.iter().enumerate() {
                    if i > 1 {
                        self.punctuation('>', true);
                    }
                    self.node(child);
                }
            }
            K::quiet_hours => {
                let has_to = node.child(K::kw_to).is_some();
                let mut times = 0;
                for child in &node.children {
                    if child.kind == K::time {
                        times += 1;
                        if times == 2 && !has_to {
                            self.punctuation('-', true);
                        }
                    }
                    self.node(child);
                }
            }
            _ => self.children(node),
        }
    }

    fn children(&mut self, node: &SyntaxNode) {
        for child in &node.children {
            self.node(child);
        }
    }

    /// `[label:] when TRIGGER [at TIME] | if CONDITION | ACTION | then ACTION`
    fn rule(&mut self, node: &SyntaxNode) {
        let mut in_actions = false;
        for child in &node.children {
            match child.kind {
                K::condition => self.break_here(Piece::Part),
                K::actions => in_actions = true,
                _ => {}
            }
            if in_actions {
                for (i, part) in child.children.iter().enumerate() {
                    if i == 0 || part.kind == K::kw_then {
                        self.break_here(Piece::Part);
                    }
                    self.node(part);
                }
                in_actions = false;
            } else {
                self.node(child);
            }
        }
    }

    /// An expression: a nested `expr` is one in brackets. At the top of a
    /// condition, `and` and `or` are places to break.
    fn expr(&mut self, node: &SyntaxNode, breakable: bool) {
        for child in &node.children {
            match child.kind {
                K::op_and | K::op_or if breakable => {
                    self.break_here(Piece::Operator);
                    self.node(child);
                }
                K::expr => {
                    self.punctuation('(', true);
                    self.glue();
                    self.expr(child, false);
                    self.punctuation(')', false);
                }
                _ => self.node(child),
            }
        }
    }

    /// `[a, b, c]`
    fn list(&mut self, node: &SyntaxNode) {
        self.punctuation('[', true);
        self.glue();
        for (i, item) in node.children.iter().enumerate() {
            if i > 0 {
                self.punctuation(',', false);
            }
            self.node(item);
        }
        self.punctuation(']', false);
    }
}
