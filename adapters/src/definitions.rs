//! Where workflows and calendars come from: a directory an administrator controls
//! (`--workflows DIR`, `TIENDO_WORKFLOWS`), or the copy of `workflows/` embedded at build time.

use std::path::{Path, PathBuf};

use engine::workflow::{Catalog, LoadError, Source};

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

#[derive(Debug, thiserror::Error)]
pub enum DefinitionsError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} error(s) in the workflow definitions:\n{}", .0.len(), list(.0))]
    Invalid(Vec<LoadError>),
}

fn list(errors: &[LoadError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The shipped definitions, as embedded in the binary.
pub fn embedded() -> Vec<Source> {
    EMBEDDED
        .iter()
        .map(|(path, text)| Source {
            path: (*path).to_string(),
            text: (*text).to_string(),
        })
        .collect()
}

fn read(path: &Path) -> Result<String, DefinitionsError> {
    std::fs::read_to_string(path).map_err(|source| DefinitionsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Every `*.toml` in `dir` and in `dir/calendars`, in name order.
pub fn read_dir(dir: &Path) -> Result<Vec<Source>, DefinitionsError> {
    let mut sources = Vec::new();
    for sub in ["", "calendars"] {
        let d = dir.join(sub);
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // A workflows folder without calendars is reported by the catalog ("unknown calendar").
            Err(e) if !sub.is_empty() && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(DefinitionsError::Io { path: d, source }),
        };
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let path = if sub.is_empty() {
                name
            } else {
                format!("{sub}/{name}")
            };
            sources.push(Source {
                text: read(&p)?,
                path,
            });
        }
    }
    Ok(sources)
}

/// The definitions in `dir`, or the embedded ones when `dir` is `None`.
pub fn sources(dir: Option<&Path>) -> Result<Vec<Source>, DefinitionsError> {
    match dir {
        Some(d) => read_dir(d),
        None => Ok(embedded()),
    }
}

/// Loads and checks the whole catalog.
pub fn load(dir: Option<&Path>) -> Result<Catalog, DefinitionsError> {
    Catalog::load(&sources(dir)?).map_err(DefinitionsError::Invalid)
}

/// Checks the given workflow files against the calendars of `dir` (or the embedded ones).
/// Files are named as given on the command line, so errors point where the user looks.
pub fn check_files(
    dir: Option<&Path>,
    files: &[PathBuf],
) -> Result<Vec<engine::workflow::Workflow>, DefinitionsError> {
    let base = sources(dir)?;
    let calendars = Catalog::load_calendars(&base).map_err(DefinitionsError::Invalid)?;
    let mut errors = Vec::new();
    let mut ok = Vec::new();
    for f in files {
        let text = read(f)?;
        match engine::workflow::parse_workflow(&f.display().to_string(), &text, &calendars) {
            Ok(w) => ok.push(w),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(ok)
    } else {
        Err(DefinitionsError::Invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_definitions_load() {
        let catalog = load(None).expect("shipped workflows are valid");
        for name in [
            "mua-sam",
            "thue-dich-vu",
            "bao-cao-ktkt",
            "dau-tu-cong",
            "hoat-dong",
        ] {
            assert!(catalog.latest(name).is_some(), "{name} is shipped");
        }
        assert!(catalog.calendar("vn").is_some());
    }

    #[test]
    fn the_shipped_folder_matches_the_embedded_copy() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows");
        let on_disk = read_dir(&dir).unwrap();
        let embedded = embedded();
        let names = |s: &[Source]| {
            let mut v: Vec<String> = s.iter().map(|x| x.path.clone()).collect();
            v.sort();
            v
        };
        assert_eq!(names(&on_disk), names(&embedded));
    }
}
