//! The server loop: JSON-RPC over stdio (lsp-server, synchronous, the crate
//! rust-analyzer uses). Notifications update the open texts and mark them
//! for a re-check; checks run when no message is waiting (a burst of edits
//! is checked once) or before a request needs their result. No handler can
//! bring the server down: a panic is caught, logged to stderr and answered
//! with an error.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use flowc_compiler::ZoneDb;
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{self, Notification as _};
use lsp_types::request::{self, Request as _};
use lsp_types::{
    CompletionOptions, CompletionResponse, DocumentSymbolResponse, GotoDefinitionResponse, Hover,
    HoverContents, HoverProviderCapability, MarkupContent, MarkupKind, OneOf,
    PublishDiagnosticsParams, SaveOptions, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Uri,
};

use super::convert::LineIndex;
use super::documents::Documents;
use super::workspace::{analyse, Analysis};
use super::{completion, definition, diagnostics, formatting, hover, symbols};

pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::SaveOptions(SaveOptions {
                    include_text: Some(false),
                })),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![" ".into(), ".".into(), "\"".into()]),
            ..CompletionOptions::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

pub struct Server<'a> {
    connection: &'a Connection,
    zones: &'a ZoneDb,
    documents: Documents,
    /// Open documents whose text changed since their last check.
    dirty: HashSet<String>,
    /// The last check of each open document.
    analyses: HashMap<String, Analysis>,
    /// URIs last published with at least one diagnostic.
    published: HashSet<String>,
}

/// How the loop ended: `shutdown` then `exit` (0), or `exit` alone or a
/// closed input (1), as the protocol asks.
pub enum End {
    Clean,
    Abrupt,
}

impl<'a> Server<'a> {
    pub fn new(connection: &'a Connection, zones: &'a ZoneDb) -> Server<'a> {
        Server {
            connection,
            zones,
            documents: Documents::default(),
            dirty: HashSet::new(),
            analyses: HashMap::new(),
            published: HashSet::new(),
        }
    }

    pub fn run(&mut self) -> End {
        while let Ok(message) = self.connection.receiver.recv() {
            match message {
                Message::Request(request) => {
                    match self.connection.handle_shutdown(&request) {
                        Ok(true) => return End::Clean,
                        Ok(false) => {}
                        Err(error) => {
                            eprintln!("flowc lsp: {error}");
                            return End::Abrupt;
                        }
                    }
                    self.check_dirty();
                    let id = request.id.clone();
                    let response = catch_unwind(AssertUnwindSafe(|| self.request(request)))
                        .unwrap_or_else(|_| {
                            eprintln!("flowc lsp: internal error answering a request");
                            Response::new_err(
                                id,
                                ErrorCode::InternalError as i32,
                                "internal error in flowc lsp".into(),
                            )
                        });
                    self.send(response.into());
                }
                Message::Notification(n) if n.method == notification::Exit::METHOD => {
                    return End::Abrupt;
                }
                Message::Notification(n) => {
                    if catch_unwind(AssertUnwindSafe(|| self.notification(n))).is_err() {
                        eprintln!("flowc lsp: internal error handling a notification");
                    }
                }
                Message::Response(_) => {}
            }
            if self.connection.receiver.is_empty() {
                self.check_dirty();
            }
        }
        End::Abrupt
    }

    fn send(&self, message: Message) {
        if self.connection.sender.send(message).is_err() {
            eprintln!("flowc lsp: the client is gone");
        }
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            notification::DidOpenTextDocument::METHOD => {
                if let Ok(p) = n.extract::<lsp_types::DidOpenTextDocumentParams>(
                    notification::DidOpenTextDocument::METHOD,
                ) {
                    let doc = p.text_document;
                    self.dirty.insert(doc.uri.as_str().to_string());
                    self.documents.open(doc.uri, doc.text, doc.version);
                }
            }
            notification::DidChangeTextDocument::METHOD => {
                if let Ok(p) = n.extract::<lsp_types::DidChangeTextDocumentParams>(
                    notification::DidChangeTextDocument::METHOD,
                ) {
                    let doc = p.text_document;
                    self.documents
                        .change(&doc.uri, doc.version, p.content_changes);
                    self.dirty.insert(doc.uri.as_str().to_string());
                }
            }
            notification::DidCloseTextDocument::METHOD => {
                if let Ok(p) = n.extract::<lsp_types::DidCloseTextDocumentParams>(
                    notification::DidCloseTextDocument::METHOD,
                ) {
                    let uri = p.text_document.uri;
                    self.documents.close(&uri);
                    self.dirty.remove(uri.as_str());
                    self.analyses.remove(uri.as_str());
                    self.publish(uri, Vec::new(), None);
                }
            }
            // A saved file may be a template or `flow.toml` that open flows
            // are checked against: check them all again.
            notification::DidSaveTextDocument::METHOD
            | notification::DidChangeWatchedFiles::METHOD => {
                self.dirty
                    .extend(self.documents.iter().map(|d| d.uri.as_str().to_string()));
            }
            _ => {}
        }
    }

    /// Checks every document changed since its last check and publishes.
    fn check_dirty(&mut self) {
        let mut dirty: Vec<String> = self.dirty.drain().collect();
        dirty.sort();
        for key in dirty {
            let Some(document) = self.documents.iter().find(|d| d.uri.as_str() == key) else {
                continue;
            };
            let checked = catch_unwind(AssertUnwindSafe(|| {
                analyse(&document.uri, &document.text, &self.documents, self.zones)
            }));
            match checked {
                Ok(analysis) => {
                    self.publish_analysis(&analysis);
                    self.analyses.insert(key, analysis);
                }
                Err(_) => eprintln!("flowc lsp: internal error checking {key}"),
            }
        }
    }

    fn publish_analysis(&mut self, analysis: &Analysis) {
        let found = diagnostics::by_uri(analysis);
        // Files of this analysis that had problems and have none now.
        let cleared: Vec<Uri> = analysis
            .sources
            .iter()
            .filter_map(|(id, _)| diagnostics::uri_of(analysis, id))
            .filter(|uri| {
                self.published.contains(uri.as_str()) && !found.contains_key(uri.as_str())
            })
            .collect();
        for uri in cleared {
            self.publish(uri, Vec::new(), None);
        }
        for (_, (uri, list)) in found {
            let version = self.documents.get(&uri).map(|d| d.version);
            self.publish(uri, list, version);
        }
    }

    fn publish(&mut self, uri: Uri, list: Vec<lsp_types::Diagnostic>, version: Option<i32>) {
        if list.is_empty() {
            self.published.remove(uri.as_str());
        } else {
            self.published.insert(uri.as_str().to_string());
        }
        let params = PublishDiagnosticsParams::new(uri, list, version);
        self.send(
            Notification::new(notification::PublishDiagnostics::METHOD.into(), params).into(),
        );
    }

    fn request(&mut self, request: Request) -> Response {
        let id = request.id.clone();
        let result = match request.method.as_str() {
            request::HoverRequest::METHOD => self.hover(request),
            request::Completion::METHOD => self.completion(request),
            request::GotoDefinition::METHOD => self.definition(request),
            request::DocumentSymbolRequest::METHOD => self.symbols(request),
            request::Formatting::METHOD => self.formatting(request),
            _ => {
                return Response::new_err(
                    id,
                    ErrorCode::MethodNotFound as i32,
                    format!("flowc lsp does not handle {}", request.method),
                )
            }
        };
        match result {
            Ok(value) => Response::new_ok(id, value),
            Err(message) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
        }
    }

    /// The analysis of an open document and the byte offset of a position.
    fn at(&self, params: &lsp_types::TextDocumentPositionParams) -> Option<(&Analysis, usize)> {
        let analysis = self.analyses.get(params.text_document.uri.as_str())?;
        let offset = LineIndex::new(analysis.text()).offset(params.position);
        Some((analysis, offset))
    }

    fn hover(&self, request: Request) -> Result<serde_json::Value, String> {
        let params: lsp_types::HoverParams = extract(request)?;
        let hover =
            self.at(&params.text_document_position_params)
                .and_then(|(analysis, offset)| {
                    let (file, _) =
                        flowc_compiler::syntax::parse(analysis.document, analysis.text());
                    let (text, span) = hover::hover(analysis, &file, offset, self.zones)?;
                    Some(Hover {
                        contents: HoverContents::Markup(MarkupContent {
                            kind: MarkupKind::Markdown,
                            value: text,
                        }),
                        range: Some(LineIndex::new(analysis.text()).range(span)),
                    })
                });
        to_json(hover)
    }

    fn completion(&self, request: Request) -> Result<serde_json::Value, String> {
        let params: lsp_types::CompletionParams = extract(request)?;
        let items = self
            .at(&params.text_document_position)
            .map(|(analysis, offset)| completion::complete(analysis, offset))
            .unwrap_or_default();
        to_json(CompletionResponse::Array(items))
    }

    fn definition(&self, request: Request) -> Result<serde_json::Value, String> {
        let params: lsp_types::GotoDefinitionParams = extract(request)?;
        let locations = self
            .at(&params.text_document_position_params)
            .map(|(analysis, offset)| {
                let (file, _) = flowc_compiler::syntax::parse(analysis.document, analysis.text());
                definition::definition(analysis, &file, offset)
            })
            .unwrap_or_default();
        to_json(GotoDefinitionResponse::Array(locations))
    }

    fn symbols(&self, request: Request) -> Result<serde_json::Value, String> {
        let params: lsp_types::DocumentSymbolParams = extract(request)?;
        let symbols = self
            .analyses
            .get(params.text_document.uri.as_str())
            .map(|analysis| {
                let (file, _) = flowc_compiler::syntax::parse(analysis.document, analysis.text());
                let path = analysis.sources.path(analysis.document);
                symbols::symbols(path, analysis.text(), &file)
            })
            .unwrap_or_default();
        to_json(DocumentSymbolResponse::Nested(symbols))
    }
}

impl Server<'_> {
    fn formatting(&self, request: Request) -> Result<serde_json::Value, String> {
        let params: lsp_types::DocumentFormattingParams = extract(request)?;
        let Some(document) = self.documents.get(&params.text_document.uri) else {
            return to_json(Vec::<lsp_types::TextEdit>::new());
        };
        let uri = params.text_document.uri.as_str();
        let edits = formatting::format(&document.text)
            .map_err(|e| format!("{uri}: {e}"))
            .inspect_err(|e| eprintln!("flowc lsp: {e}"))?;
        to_json(edits)
    }
}

fn extract<P: serde::de::DeserializeOwned>(request: Request) -> Result<P, String> {
    serde_json::from_value(request.params).map_err(|e| format!("invalid parameters: {e}"))
}

fn to_json(value: impl serde::Serialize) -> Result<serde_json::Value, String> {
    serde_json::to_value(value).map_err(|e| e.to_string())
}
