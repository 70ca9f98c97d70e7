//! Finding and reading what a command checks: the flow files named on the
//! command line (folders are searched for `*.flow`), the project file
//! (`flow.toml`, searched upward) and the templates folder.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use flowc_compiler::diagnostics::{Code, Diagnostic};
use flowc_compiler::project::templates::{template_file_name, Templates};
use flowc_compiler::project::{Project, PROJECT_FILE};
use flowc_compiler::source::{SourceId, Sources};
use flowc_compiler::syntax::Span;

pub struct Inputs {
    pub sources: Sources,
    /// Flow files grouped by the project they belong to.
    pub groups: Vec<Group>,
    /// Problems found while reading (invalid UTF-8, bad flow.toml, templates).
    pub diagnostics: Vec<Diagnostic>,
    /// Flow files read but left unparsed (not UTF-8; already reported).
    pub unparsed_files: usize,
}

/// Flow files checked together, against one project.
pub struct Group {
    pub project: Project,
    pub flow_files: Vec<SourceId>,
}

impl Inputs {
    pub fn flow_file_count(&self) -> usize {
        self.groups
            .iter()
            .map(|g| g.flow_files.len())
            .sum::<usize>()
            + self.unparsed_files
    }
}

/// Reads everything `paths` need. An `Err` is a usage or IO problem, with
/// the message to print.
pub fn load(paths: &[PathBuf], project_file: Option<&Path>) -> Result<Inputs, String> {
    let mut files = Vec::new();
    for path in paths {
        collect_files(path, "flow", &mut files)?;
    }
    if files.is_empty() {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(format!("no .flow file found in {}", shown.join(", ")));
    }
    let mut inputs = Inputs {
        sources: Sources::new(),
        groups: Vec::new(),
        diagnostics: Vec::new(),
        unparsed_files: 0,
    };
    // Each file belongs to the nearest flow.toml above it (or the one given).
    let mut by_project: Vec<(Option<PathBuf>, Vec<PathBuf>)> = Vec::new();
    // Files of one folder share a project: search upward once per folder.
    let mut project_of_folder: HashMap<PathBuf, Option<PathBuf>> = HashMap::new();
    for file in files {
        let project = match project_file {
            Some(p) => Some(p.to_path_buf()),
            None => project_of_folder
                .entry(file.parent().map(Path::to_path_buf).unwrap_or_default())
                .or_insert_with(|| find_project(&file))
                .clone(),
        };
        match by_project.iter_mut().find(|(p, _)| *p == project) {
            Some((_, group)) => group.push(file),
            None => by_project.push((project, vec![file])),
        }
    }
    for (project_path, files) in by_project {
        let mut project = Project::default();
        let templates_base = match &project_path {
            Some(path) => {
                let id = read_source(&mut inputs.sources, path, &mut inputs.diagnostics)?;
                let (parsed, mut found) = Project::parse(&inputs.sources, id);
                inputs.diagnostics.append(&mut found);
                project = parsed;
                path.parent().map(Path::to_path_buf).unwrap_or_default()
            }
            None => files[0].parent().map(Path::to_path_buf).unwrap_or_default(),
        };
        let templates_dir = templates_base.join(&project.templates_dir);
        if templates_dir.is_dir() {
            project.templates = Some(load_templates(
                &templates_dir,
                &mut inputs.sources,
                &mut inputs.diagnostics,
            )?);
        }
        let mut flow_files = Vec::new();
        for file in &files {
            match read_text(&mut inputs.sources, file, &mut inputs.diagnostics)? {
                Ok(id) => flow_files.push(id),
                Err(_) => inputs.unparsed_files += 1,
            }
        }
        inputs.groups.push(Group {
            project,
            flow_files,
        });
    }
    Ok(inputs)
}

/// `path` itself, or every file under it ending in `.{extension}` (sorted;
/// hidden folders, `target` and `node_modules` left out).
pub fn collect_files(path: &Path, extension: &str, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = fs::metadata(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    if meta.is_file() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = fs::read_dir(path)
        .map_err(|e| format!("cannot read folder {}: {}", path.display(), io_reason(&e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if entry.is_dir() {
            collect_files(&entry, extension, out)?;
        } else if name.ends_with(&format!(".{extension}")) {
            out.push(entry);
        }
    }
    Ok(())
}

/// `flow.toml` in the folder of `start` or any folder above it.
pub fn find_project(start: &Path) -> Option<PathBuf> {
    let absolute = fs::canonicalize(start).ok()?;
    let mut dir = if absolute.is_dir() {
        Some(absolute.as_path())
    } else {
        absolute.parent()
    };
    while let Some(d) = dir {
        let candidate = d.join(PROJECT_FILE);
        if candidate.is_file() {
            return Some(display_path(&candidate));
        }
        dir = d.parent();
    }
    None
}

/// Every template file of `dir` (sorted), read into `sources`.
pub fn load_templates(
    dir: &Path,
    sources: &mut Sources,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Templates, String> {
    let mut templates = Templates::default();
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| format!("cannot read folder {}: {}", dir.display(), io_reason(&e)))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_string)
        else {
            continue;
        };
        let Some((template, channel)) = template_file_name(&name) else {
            continue;
        };
        let id = read_source(sources, &path, diagnostics)?;
        templates.add(sources, id, template, channel, diagnostics);
    }
    Ok(templates)
}

/// Reads a file as text. Bytes that are not UTF-8 become a diagnostic
/// pointing at the first bad byte; the text is then read lossily.
pub fn read_source(
    sources: &mut Sources,
    path: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<SourceId, String> {
    match read_text(sources, path, diagnostics)? {
        Ok(id) | Err(id) => Ok(id),
    }
}

/// Like `read_source`, but a file that is not UTF-8 comes back as `Err(id)`
/// (already reported) so that callers can leave it unparsed.
pub fn read_text(
    sources: &mut Sources,
    path: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Result<SourceId, SourceId>, String> {
    let bytes =
        fs::read(path).map_err(|e| format!("cannot read {}: {}", path.display(), io_reason(&e)))?;
    let shown = display_path(path).display().to_string();
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Ok(sources.add(shown, text))),
        Err(error) => {
            let at = error.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(error.as_bytes()).into_owned();
            let id = sources.add(shown, text);
            // The lossy text holds U+FFFD (3 bytes) where the bad byte was.
            let span = Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8());
            diagnostics.push(
                Diagnostic::new(Code::NotUtf8, id, span, format!("byte {at} is not UTF-8"))
                    .with_help("save the file as UTF-8"),
            );
            Ok(Err(id))
        }
    }
}

/// The path relative to the current folder when it is inside it.
pub fn display_path(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().ok();
    let absolute = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    match cwd.as_deref().and_then(|c| absolute.strip_prefix(c).ok()) {
        Some(relative) if !relative.as_os_str().is_empty() => relative.to_path_buf(),
        _ if path.is_relative() => path.to_path_buf(),
        _ => absolute,
    }
}

fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => error.to_string(),
    }
}
