//! Finds plugin libraries and loads them through `abi_stable`, refusing any that is
//! missing, not a library, or built against an incompatible plugin API.

use std::path::{Path, PathBuf};

use abi_stable::library::{LibraryError, lib_header_from_path};
use wuts_plugin_api::abi::PluginModuleRef;

/// A library that was not loaded, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub name: String,
    pub path: PathBuf,
    pub reason: String,
}

/// The outcome of loading the configured plugins.
pub struct LoadReport {
    pub loaded: Vec<(String, PathBuf, PluginModuleRef)>,
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
        match load(&path) {
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

/// Loads one library. Libraries are never unloaded (abi_stable leaks them by design).
pub fn load(path: &Path) -> Result<PluginModuleRef, String> {
    if !path.is_file() {
        return Err("no such file".to_string());
    }
    // `init_root_module` (not `RootModule::load_from*`, which caches one module per
    // type) so that every library gets its own root module.
    let header = lib_header_from_path(path).map_err(describe)?;
    header
        .init_root_module::<PluginModuleRef>()
        .map_err(describe)
}

/// A one-line reason; abi_stable's layout errors span many lines.
fn describe(error: LibraryError) -> String {
    let summary = match &error {
        LibraryError::OpenError { .. } => "not a loadable library".to_string(),
        LibraryError::GetSymbolError { .. } => {
            "not a WUTS plugin (no root module symbol)".to_string()
        }
        LibraryError::ParseVersionError(_) | LibraryError::IncompatibleVersionNumber { .. } => {
            "built against an incompatible plugin API version".to_string()
        }
        LibraryError::AbiInstability(_) => {
            "built against an incompatible plugin API (type layouts differ)".to_string()
        }
        LibraryError::InvalidAbiHeader(_) => {
            "built with an incompatible abi_stable version".to_string()
        }
        LibraryError::RootModule { .. } => "its root module failed to initialise".to_string(),
        _ => "could not be loaded".to_string(),
    };
    // Only the loader's own words say something short and useful (e.g. "invalid ELF
    // header"); abi_stable's layout dumps run to hundreds of lines.
    match &error {
        LibraryError::OpenError { err, .. } => {
            let text = err.to_string();
            let reason = first_line(&text);
            format!(
                "{summary}: {}",
                reason.rsplit(": ").next().unwrap_or(reason)
            )
        }
        _ => summary,
    }
}

fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("")
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
