//! Which files `fleetsh test` runs: `*_test.lua` under the given paths (a file given by name
//! runs whatever its name), sorted, each once.

use std::path::{Path, PathBuf};

pub const SUFFIX: &str = "_test.lua";

pub fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
            continue;
        }
        if !p.is_dir() {
            return Err(format!("{}: no such file or directory", p.display()));
        }
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            let entry = entry.map_err(|e| e.to_string())?;
            if entry.file_type().is_file() && is_test(entry.path()) && !hidden(entry.path(), p) {
                out.push(entry.into_path());
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn is_test(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(SUFFIX))
}

/// Under a dot-directory or `target/` (build output, VCS data) below the root given.
fn hidden(p: &Path, root: &Path) -> bool {
    p.strip_prefix(root).unwrap_or(p).components().any(|c| {
        let s = c.as_os_str().to_string_lossy();
        (s.starts_with('.') && s != "." && s != "..") || s == "target"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_files_below_a_folder_and_skips_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for f in [
            "a_test.lua",
            "sub/b_test.lua",
            "c.lua",
            ".git/x_test.lua",
            "target/y_test.lua",
        ] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        let found = test_files(&[d.to_path_buf()]).unwrap();
        let names: Vec<_> = found
            .iter()
            .map(|p| p.strip_prefix(d).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            names,
            [PathBuf::from("a_test.lua"), PathBuf::from("sub/b_test.lua")]
        );
        assert!(test_files(&[d.join("nope")]).is_err());
        assert_eq!(test_files(&[d.join("c.lua")]).unwrap(), [d.join("c.lua")]);
    }
}
