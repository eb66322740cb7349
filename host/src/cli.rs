//! The command line: `wuts serve | users | tenants | plugins | pair`.

pub mod admin;
pub mod pair;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::Settings;
pub use admin::{TenantsCommand, UsersCommand};

#[derive(Parser, Debug)]
#[command(name = "wuts", version, about = "A multi-tenant WhatsApp HTTP gateway")]
pub struct Cli {
    /// A TOML file read on top of the embedded defaults.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP server.
    Serve,
    /// Manage users and their API tokens.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Manage tenants (each with its first admin).
    Tenants {
        #[command(subcommand)]
        command: TenantsCommand,
    },
    /// List the plugins, their routes, and why any was refused.
    Plugins {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pair a device with a phone: asks the running server for QR codes and draws them here.
    Pair {
        /// The device to pair; default: the token's default device.
        #[arg(long, value_name = "ID")]
        device: Option<String>,
        /// The API token; default: the WUTS_TOKEN environment variable.
        #[arg(long, value_name = "T")]
        token: Option<String>,
        /// The server's base URL; default: http:// and `[server] bind`.
        #[arg(long, value_name = "URL")]
        url: Option<String>,
        /// Give up after this many seconds without a pairing.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        timeout: u64,
        /// Draw the dark modules: for terminals with dark text on a light background.
        #[arg(long)]
        light_background: bool,
    },
}

/// Runs a command; the returned text is the error to print.
pub fn run(cli: Cli) -> Result<(), String> {
    let settings = Settings::load(cli.config.as_deref()).map_err(|error| error.to_string())?;
    let _log = crate::telemetry::init(&settings.log.filter, &settings.log.format);
    match cli.command {
        Command::Serve => serve(settings),
        Command::Users { command } => admin::users(&settings, command),
        Command::Tenants { command } => admin::tenants(&settings, command),
        Command::Plugins { json } => plugins(&settings, json),
        Command::Pair {
            device,
            token,
            url,
            timeout,
            light_background,
        } => pair::run(
            &settings,
            pair::PairOptions {
                device,
                token,
                url,
                timeout: Duration::from_secs(timeout.max(1)),
                dark_on_light_text: light_background,
            },
        ),
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    let listener = TcpListener::bind(settings.server.bind)
        .map_err(|error| format!("cannot listen on {}: {error}", settings.server.bind))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("wuts-host")
        // Tokio's default, 512, would let a burst of requests pile up threads; past this
        // bound blocking work waits in the pool's queue.
        .max_blocking_threads(settings.blocking_threads())
        .build()
        .map_err(|error| format!("cannot start the runtime: {error}"))?;
    runtime
        .block_on(crate::server::run(listener, settings))
        .map_err(|error| error.to_string())
}

fn plugins(settings: &Settings, json: bool) -> Result<(), String> {
    let registry = crate::server::load_plugins(settings);
    let mut out = std::io::stdout().lock();
    let write_error = |error: std::io::Error| error.to_string();
    if json {
        let body = serde_json::json!({
            "plugins": registry.plugins.iter().map(|plugin| serde_json::json!({
                "name": plugin.name,
                "version": plugin.version,
                "path": plugin.path,
                "routes": registry.routes.values().filter(|route| route.plugin.name == plugin.name)
                    .map(|route| serde_json::json!({
                        "method": route.method,
                        "path": route.path,
                        "operation": route.operation,
                        "summary": route.summary,
                        "envelope": match route.envelope {
                            wuts_plugin_api::Envelope::Legacy => "legacy",
                            wuts_plugin_api::Envelope::Standard => "standard",
                        },
                        "success_message": route.success_message,
                        "failure_prefix": route.failure_prefix,
                        "body_limit": route.body_limit,
                        "quick": route.quick,
                        "request_schema": route.request_schema,
                    }))
                    .collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "disabled_routes": registry.disabled_routes,
            "refused": registry.refused.iter().map(|refusal| serde_json::json!({
                "name": refusal.name, "path": refusal.path, "reason": refusal.reason,
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{body}").map_err(write_error)?;
        return Ok(());
    }
    for plugin in &registry.plugins {
        writeln!(
            out,
            "{} {} ({})",
            plugin.name,
            plugin.version,
            plugin.path.display()
        )
        .map_err(write_error)?;
        for route in registry
            .routes
            .values()
            .filter(|route| route.plugin.name == plugin.name)
        {
            writeln!(out, "  {} {}  {}", route.method, route.path, route.summary)
                .map_err(write_error)?;
        }
    }
    for path in &registry.disabled_routes {
        writeln!(out, "disabled: {path}").map_err(write_error)?;
    }
    for refusal in &registry.refused {
        writeln!(
            out,
            "refused: {}: {}",
            refusal.path.display(),
            refusal.reason
        )
        .map_err(write_error)?;
    }
    Ok(())
}
