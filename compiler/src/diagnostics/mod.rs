//! One diagnostic type for every stage, the registry of codes, and the
//! renderers (ariadne for people, JSON and GitHub annotations for tools).

pub mod codes;
pub mod render;
pub mod suggest;

pub use codes::Code;

use crate::source::SourceId;
use crate::syntax::Span;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span in one source, with what to say about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    pub source: SourceId,
    pub span: Span,
    pub message: String,
    /// The primary label marks the place of the problem; others give context.
    pub primary: bool,
}

/// A problem found in a flow, its project or its templates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic of `code` (its severity comes from the registry), placed
    /// at `span` in `source` with a primary label.
    pub fn new(code: Code, source: SourceId, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic {
            code,
            severity: code.severity(),
            message: code.title().to_string(),
            labels: vec![Label {
                source,
                span,
                message: label.into(),
                primary: true,
            }],
            help: None,
            notes: Vec::new(),
        }
    }

    pub fn with_message(mut self, message: impl Into<String>) -> Diagnostic {
        self.message = message.into();
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// A secondary label giving context, possibly in another source.
    pub fn with_context(
        mut self,
        source: SourceId,
        span: Span,
        message: impl Into<String>,
    ) -> Diagnostic {
        self.labels.push(Label {
            source,
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Adds "did you mean `x`?" as help when a suggestion exists.
    pub fn with_suggestion(self, suggestion: Option<&str>) -> Diagnostic {
        match suggestion {
            Some(s) => self.with_help(format!("did you mean `{s}`?")),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The primary label (every diagnostic has one).
    pub fn primary(&self) -> &Label {
        self.labels
            .iter()
            .find(|l| l.primary)
            .unwrap_or(&self.labels[0])
    }
}

/// Orders diagnostics by source, then position, then code: stable output.
pub fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        let (pa, pb) = (a.primary(), b.primary());
        (pa.source, pa.span.start, pa.span.end, a.code.id()).cmp(&(
            pb.source,
            pb.span.start,
            pb.span.end,
            b.code.id(),
        ))
    });
}
