//! The command line: `wuts serve | users | plugins | pair`.

pub mod pair;

use std::io::Write as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use crate::store::{Role, SqliteStore, Store};

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

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Create a user (and its tenant on first use); prints the token once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_enum, default_value = "user")]
        role: Role,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List users (never their tokens).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a command; the returned text is the error to print.
pub fn run(cli: Cli) -> Result<(), String> {
    let settings = Settings::load(cli.config.as_deref()).map_err(|error| error.to_string())?;
    let _log = crate::telemetry::init(&settings.log.filter);
    match cli.command {
        Command::Serve => serve(settings),
        Command::Users { command } => users(&settings, command),
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

fn check_text(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control)
    {
        return Err(format!("--{field}: 1 to 100 printable characters"));
    }
    Ok(())
}

fn users(settings: &Settings, command: UsersCommand) -> Result<(), String> {
    let store = SqliteStore::open(&settings.store.path).map_err(|error| error.to_string())?;
    let mut out = std::io::stdout().lock();
    match command {
        UsersCommand::Create {
            tenant,
            name,
            role,
            json,
        } => {
            check_text("tenant", &tenant)?;
            check_text("name", &name)?;
            let token = crate::auth::new_token();
            let hashed = crate::auth::hash_token(&token);
            let user = store
                .create_user(&tenant, &name, role, &hashed.lookup, &hashed.hash)
                .map_err(|error| error.to_string())?;
            if json {
                let body = serde_json::json!({
                    "tenant": user.tenant,
                    "user_id": user.user_id,
                    "name": user.name,
                    "role": user.role,
                    "token": token,
                    "device_id": user.default_device_id,
                });
                writeln!(out, "{body}").map_err(|error| error.to_string())?;
            } else {
                writeln!(
                    out,
                    "Created user {} ({}) in tenant {} with default device {}.\nToken (shown once, keep it secret): {token}",
                    user.name,
                    user.role.as_str(),
                    user.tenant,
                    user.default_device_id
                )
                .map_err(|error| error.to_string())?;
            }
        }
        UsersCommand::List { json } => {
            let users = store.list_users().map_err(|error| error.to_string())?;
            if json {
                writeln!(out, "{}", serde_json::to_string(&users).unwrap_or_default())
                    .map_err(|error| error.to_string())?;
            } else {
                for user in users {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}",
                        user.tenant,
                        user.name,
                        user.role.as_str(),
                        user.user_id,
                        user.default_device_id
                    )
                    .map_err(|error| error.to_string())?;
                }
            }
        }
    }
    Ok(())
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
