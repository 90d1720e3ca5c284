//! Embeds the shipped `workflows/` folder (workflow files and calendars) in the binary, so that
//! `tiendo` runs from any directory without its source tree. It also tells Cargo to rebuild when
//! a migration is added, which `sqlx::migrate!` alone does not on a stable compiler.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    // Read when the script runs, not when it was compiled: a build script binary reused from
    // another checkout's target/ would otherwise embed that checkout's workflows.
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let migrations = Path::new(&manifest).join("../migrations");
    for backend in ["", "sqlite", "postgres"] {
        println!(
            "cargo:rerun-if-changed={}",
            migrations.join(backend).display()
        );
    }
    let root = Path::new(&manifest).join("../workflows");
    let mut files = Vec::new();
    for sub in ["", "calendars"] {
        let dir = root.join(sub);
        println!("cargo:rerun-if-changed={}", dir.display());
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                println!("cargo:rerun-if-changed={}", path.display());
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                let rel = if sub.is_empty() {
                    name
                } else {
                    format!("{sub}/{name}")
                };
                files.push((rel, path.canonicalize().unwrap()));
            }
        }
    }
    files.sort();
    let mut out = String::from("pub(crate) static EMBEDDED: &[(&str, &str)] = &[\n");
    for (rel, path) in files {
        writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("embedded.rs"),
        out,
    )
    .unwrap();
}
