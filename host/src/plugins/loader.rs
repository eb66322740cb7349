//! Finds plugin libraries and loads them, refusing any that is missing, not a library,
//! or built against an incompatible plugin API (the checks are `wuts-plugin-api`'s).

use std::path::{Path, PathBuf};

use wuts_plugin_api::library::PluginLibrary;

/// A library that was not loaded, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub name: String,
    pub path: PathBuf,
    pub reason: String,
}

/// The outcome of loading the configured plugins.
pub struct LoadReport {
    pub loaded: Vec<(String, PathBuf, PluginLibrary)>,
    pub refused: Vec<Refusal>,
}

/// Where plugin `name` is expected: `<dir>/libwuts_plugin_<name>.so` (dashes as
/// underscores), else `<dir>/lib<name>.so`, else `name` itself as a path.
pub fn resolve(dir: &Path, name: &str) -> PathBuf {
    let prefix = std::env::consts::DLL_PREFIX;
    let suffix = std::env::consts::DLL_SUFFIX;
    let candidates = [
        dir.join(format!(
            "{prefix}wuts_plugin_{}{suffix}",
            name.replace('-', "_")
        )),
        dir.join(format!("{prefix}{name}{suffix}")),
        dir.join(name),
        PathBuf::from(name),
    ];
    let fallback = candidates[0].clone();
    candidates
        .into_iter()
        .find(|path| path.is_file())
        .unwrap_or(fallback)
}

/// Loads every named plugin; failures become refusals, never a crash.
pub fn load_all(dir: &Path, names: &[String]) -> LoadReport {
    let mut report = LoadReport {
        loaded: Vec::new(),
        refused: Vec::new(),
    };
    for name in names {
        let path = resolve(dir, name);
        match PluginLibrary::load(&path) {
            Ok(module) => report.loaded.push((name.clone(), path, module)),
            Err(reason) => report.refused.push(Refusal {
                name: name.clone(),
                path,
                reason,
            }),
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_and_a_non_library_are_refused() {
        let dir = std::env::temp_dir().join(format!("wuts-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libjunk.so"), b"not an ELF file at all").unwrap();
        let report = load_all(&dir, &["absent".to_string(), "junk".to_string()]);
        assert!(report.loaded.is_empty());
        assert_eq!(report.refused.len(), 2);
        assert_eq!(report.refused[0].reason, "no such file");
        assert!(
            report.refused[1]
                .reason
                .starts_with("not a loadable library"),
            "{}",
            report.refused[1].reason
        );
        assert!(report.refused[1].path.ends_with("libjunk.so"));
        assert!(!report.refused[1].reason.contains('\n'));
    }

    #[test]
    fn names_resolve_to_the_conventional_file_first() {
        let dir = std::env::temp_dir().join(format!("wuts-resolve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(resolve(&dir, "buttons-response").ends_with("libwuts_plugin_buttons_response.so"));
        std::fs::write(dir.join("libcustom.so"), b"x").unwrap();
        assert!(resolve(&dir, "custom").ends_with("libcustom.so"));
    }
}
