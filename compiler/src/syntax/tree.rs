//! The concrete syntax tree: every token of a file that parsed, by grammar
//! rule, with its span. The formatter and the language server read it when
//! they need the text as written (`on` or `when`, `15d` or `15 days`),
//! which the AST does not keep. Comments and `;` are not in it.

use pest::iterators::Pair;
use pest::Parser;

use super::grammar::FlowParser;
pub use super::grammar::Rule as SyntaxKind;
use super::span::Span;
use crate::diagnostics::Diagnostic;
use crate::source::SourceId;

/// One grammar rule matched in the text. A token (a keyword, a name, a
/// literal, an operator) has no children.
#[derive(Clone, Debug)]
pub struct SyntaxNode {
    pub kind: SyntaxKind,
    pub span: Span,
    pub children: Vec<SyntaxNode>,
}

impl SyntaxNode {
    /// A token: no children. A string is one token, quotes included.
    pub fn is_token(&self) -> bool {
        (self.children.is_empty() && self.kind != SyntaxKind::file)
            || self.kind == SyntaxKind::string
    }

    /// Where its last token ends. A rule's own span may run on over the
    /// blanks and comments after it; this does not.
    pub fn end(&self) -> usize {
        self.tokens().last().map_or(self.span.start, |t| t.span.end)
    }

    /// The child of `kind`, if any.
    pub fn child(&self, kind: SyntaxKind) -> Option<&SyntaxNode> {
        self.children.iter().find(|c| c.kind == kind)
    }

    /// Every token in source order.
    pub fn tokens(&self) -> Vec<&SyntaxNode> {
        let mut out = Vec::new();
        self.collect_tokens(&mut out);
        out
    }

    fn collect_tokens<'a>(&'a self, out: &mut Vec<&'a SyntaxNode>) {
        if self.is_token() {
            out.push(self);
        } else {
            for child in &self.children {
                child.collect_tokens(out);
            }
        }
    }
}

/// The tree of `text`, or every syntax error in it (as `parse` reports
/// them) when it does not parse.
pub fn tree(source: SourceId, text: &str) -> Result<SyntaxNode, Vec<Diagnostic>> {
    if let Some(d) = super::too_deep(source, text) {
        return Err(vec![d]);
    }
    match FlowParser::parse(SyntaxKind::file, text) {
        Ok(mut pairs) => match pairs.next() {
            Some(file) => Ok(node(file)),
            None => Err(super::parse(source, text).1),
        },
        Err(_) => {
            let (_, diagnostics) = super::parse(source, text);
            Err(diagnostics)
        }
    }
}

fn node(pair: Pair<SyntaxKind>) -> SyntaxNode {
    let kind = pair.as_rule();
    let span = Span::from(pair.as_span());
    let children = if kind == SyntaxKind::string {
        Vec::new()
    } else {
        pair.into_inner()
            .filter(|p| p.as_rule() != SyntaxKind::EOI)
            .map(node)
            .collect()
    };
    SyntaxNode {
        kind,
        span,
        children,
    }
}
