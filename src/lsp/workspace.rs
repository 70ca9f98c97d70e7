//! What one document is checked with, found as `flowc check` finds it: the
//! nearest `flow.toml` upward, its templates from disk, and the other
//! `.flow` files of that project (checked together: flow names, priorities).
//! Open documents are read from the editor, everything else from disk.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flowc_compiler::diagnostics::Diagnostic;
use flowc_compiler::project::Project;
use flowc_compiler::source::{SourceId, Sources};
use flowc_compiler::ZoneDb;

use lsp_types::Uri;

use super::convert::uri_to_path;
use super::documents::Documents;
use crate::cli::inputs;

/// A checked document and everything it was checked with.
pub struct Analysis {
    pub sources: Sources,
    pub project: Project,
    /// The folder of `flow.toml`, when there is one.
    pub project_dir: Option<PathBuf>,
    pub flow_files: Vec<SourceId>,
    /// The analysed document among `flow_files`, and its URI (which may
    /// name no file: `untitled:...`).
    pub document: SourceId,
    pub uri: Uri,
    /// Every diagnostic of the project's inputs and flows, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// The folder the source paths are relative to.
    base: PathBuf,
    /// The compiled program, built on the first hover that needs it and
    /// kept until the next edit (`None` inside: the flows have errors).
    program: std::cell::OnceCell<Option<flowc_runtime::bytecode::Program>>,
}

impl Analysis {
    /// The program of these flows, compiled once per analysis.
    pub fn program(&self, zones: &ZoneDb) -> Option<&flowc_runtime::bytecode::Program> {
        self.program
            .get_or_init(|| {
                flowc_compiler::build_flows(&self.sources, &self.flow_files, &self.project, zones).0
            })
            .as_ref()
    }

    /// The absolute path a source was read from.
    pub fn path_of(&self, id: SourceId) -> PathBuf {
        self.base.join(self.sources.path(id))
    }

    pub fn text(&self) -> &str {
        self.sources.text(self.document)
    }
}

/// Checks `text`, the content of the document at `uri` (a document that
/// is not a file is checked alone, with no project).
pub fn analyse(uri: &Uri, text: &str, documents: &Documents, zones: &ZoneDb) -> Analysis {
    let base = std::env::current_dir().unwrap_or_default();
    let path = uri_to_path(uri).map(|p| canonical(&p));
    let project_file = path.as_deref().and_then(project_of);
    let mut sources = Sources::new();
    let mut diagnostics = Vec::new();
    let mut project = Project::default();
    let open: HashMap<PathBuf, &str> = documents
        .iter()
        .filter_map(|d| {
            Some((
                canonical(&super::convert::uri_to_path(&d.uri)?),
                d.text.as_str(),
            ))
        })
        .collect();
    let project_dir = project_file
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf);
    if let Some(file) = &project_file {
        if let Some(id) = read(&mut sources, file, &open, &mut diagnostics) {
            let (parsed, mut found) = Project::parse(&sources, id);
            diagnostics.append(&mut found);
            project = parsed;
        }
    }
    let templates_base = project_dir.clone().or_else(|| {
        path.as_deref()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
    });
    if let Some(dir) = templates_base.map(|b| b.join(&project.templates_dir)) {
        if dir.is_dir() {
            match inputs::load_templates(&dir, &mut sources, &mut diagnostics) {
                Ok(templates) => project.templates = Some(templates),
                Err(message) => eprintln!("flowc lsp: {message}"),
            }
        }
    }
    let mut flow_files = Vec::new();
    let mut document = None;
    for file in project_flows(project_file.as_deref(), path.as_deref()) {
        if Some(&file) == path.as_ref() {
            let id = sources.add(shown(&file), text);
            flow_files.push(id);
            document = Some(id);
        } else if let Some(id) = read(&mut sources, &file, &open, &mut diagnostics) {
            flow_files.push(id);
        }
    }
    let document = document.unwrap_or_else(|| {
        let id = sources.add(path.as_deref().map_or("untitled.flow".into(), shown), text);
        flow_files.push(id);
        id
    });
    let (_, mut found) = flowc_compiler::check_flows(&sources, &flow_files, &project, zones);
    diagnostics.append(&mut found);
    flowc_compiler::diagnostics::sort(&mut diagnostics);
    Analysis {
        sources,
        project,
        project_dir,
        flow_files,
        document,
        uri: uri.clone(),
        diagnostics,
        base,
        program: std::cell::OnceCell::new(),
    }
}

/// The path as `flowc check` shows it (relative to the current folder).
fn shown(path: &Path) -> String {
    inputs::display_path(path).display().to_string()
}

/// A file's text: the editor's when it is open, else the disk's (a file
/// that is not UTF-8 is reported, as by `flowc check`). `None` when it
/// cannot be read.
fn read(
    sources: &mut Sources,
    path: &Path,
    open: &HashMap<PathBuf, &str>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<SourceId> {
    if let Some(text) = open.get(path) {
        return Some(sources.add(shown(path), *text));
    }
    match inputs::read_text(sources, path, diagnostics) {
        Ok(Ok(id)) => Some(id),
        Ok(Err(_)) => None,
        Err(message) => {
            eprintln!("flowc lsp: {message}");
            None
        }
    }
}

/// The nearest `flow.toml` at or above the folder of `file`.
fn project_of(file: &Path) -> Option<PathBuf> {
    let folder = file.parent()?;
    inputs::find_project(folder).map(|p| canonical(&p))
}

/// The flow files checked together with `document`: every `.flow` under
/// the project's folder whose nearest project is the same one, or the
/// document alone when there is no project.
fn project_flows(project_file: Option<&Path>, document: Option<&Path>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(dir) = project_file.and_then(Path::parent) {
        if let Err(message) = inputs::collect_files(dir, "flow", &mut files) {
            eprintln!("flowc lsp: {message}");
        }
        let mut project_of_folder: HashMap<PathBuf, Option<PathBuf>> = HashMap::new();
        files.retain(|file| {
            let folder = file.parent().map(Path::to_path_buf).unwrap_or_default();
            let project = project_of_folder
                .entry(folder)
                .or_insert_with(|| project_of(file));
            project.as_deref() == project_file
        });
    }
    if let Some(document) = document {
        if !files.iter().any(|f| f == document) {
            files.push(document.to_path_buf());
        }
    }
    files
}

/// The canonical form of a path (symbolic links resolved), also for a file
/// not yet saved (its folder is resolved).
pub fn canonical(path: &Path) -> PathBuf {
    if let Ok(path) = std::fs::canonicalize(path) {
        return path;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|p| p.join(name))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}
