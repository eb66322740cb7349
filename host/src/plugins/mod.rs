//! Message-type plugins: loading the libraries, and calling them safely.

pub mod loader;
pub mod registry;
pub mod services;

pub use loader::{LoadReport, Refusal};
pub use registry::{LoadedPlugin, PluginRegistry, PluginRoute};
