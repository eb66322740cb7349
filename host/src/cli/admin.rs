//! `wuts users ...` and `wuts tenants ...`: the administration routes' work at the shell,
//! on the database directly (docs/API.md, "Administration"). On a running server, a
//! change here reaches the server's token cache within `tokens::KNOWN_TTL` (a minute);
//! a deleted device's open session lasts until the server restarts, so the HTTP routes
//! are the better way to delete while it runs.

use std::io::Write as _;

use clap::Subcommand;
use serde_json::json;

use crate::config::Settings;
use crate::store::{AccountChange, NewAccount, Role, SqliteStore, Store, StoreError};

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
    /// Change a user's role or whether it may sign in (a tenant keeps an active admin).
    Update {
        #[arg(long)]
        id: String,
        #[arg(long)]
        active: Option<bool>,
        #[arg(long, value_enum)]
        role: Option<Role>,
    },
    /// Replace a user's token; prints the new one once (the old one stops).
    Token {
        #[arg(long)]
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a user with its devices, messages, jobs, events and webhooks.
    Delete {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TenantsCommand {
    /// Create a tenant and its first admin; prints the admin's token once.
    Create {
        #[arg(long)]
        name: String,
        /// The admin's name.
        #[arg(long, default_value = "admin")]
        admin: String,
        #[arg(long)]
        email: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tenants.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete a tenant with all its users, devices, messages, jobs, events and webhooks.
    Delete {
        #[arg(long)]
        id: String,
    },
}

fn check_text(field: &str, value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control)
    {
        return Err(format!("--{field}: 1 to 100 printable characters"));
    }
    Ok(())
}

fn open(settings: &Settings) -> Result<SqliteStore, String> {
    SqliteStore::open(&settings.store.path).map_err(|error| error.to_string())
}

fn failed(error: StoreError) -> String {
    match error {
        StoreError::LastAdmin => "refused: the tenant must keep an active admin".into(),
        other => other.to_string(),
    }
}

fn print(line: impl std::fmt::Display) -> Result<(), String> {
    writeln!(std::io::stdout().lock(), "{line}").map_err(|error| error.to_string())
}

fn tenant_of(store: &SqliteStore, user_id: &str) -> Result<String, String> {
    store
        .tenant_of_user(user_id)
        .map_err(failed)?
        .ok_or_else(|| format!("no user {user_id}"))
}

pub fn users(settings: &Settings, command: UsersCommand) -> Result<(), String> {
    let store = open(settings)?;
    match command {
        UsersCommand::Create {
            tenant,
            name,
            role,
            json,
        } => {
            check_text("tenant", &tenant)?;
            check_text("name", &name)?;
            let (token, hashed) = crate::auth::mint();
            let user = store
                .create_user(&tenant, &name, role, &hashed.lookup, &hashed.hash)
                .map_err(failed)?;
            if json {
                print(json!({
                    "tenant": user.tenant,
                    "user_id": user.user_id,
                    "name": user.name,
                    "role": user.role,
                    "token": token,
                    "device_id": user.default_device_id,
                }))
            } else {
                print(format!(
                    "Created user {} ({}) in tenant {} with default device {}.\nToken (shown once, keep it secret): {token}",
                    user.name,
                    user.role.as_str(),
                    user.tenant,
                    user.default_device_id
                ))
            }
        }
        UsersCommand::List { json } => {
            let users = store.list_users().map_err(failed)?;
            if json {
                return print(serde_json::to_string(&users).unwrap_or_default());
            }
            for user in users {
                print(format!(
                    "{}\t{}\t{}\t{}\t{}",
                    user.tenant,
                    user.name,
                    user.role.as_str(),
                    user.user_id,
                    user.default_device_id
                ))?;
            }
            Ok(())
        }
        UsersCommand::Update { id, active, role } => {
            let tenant_id = tenant_of(&store, &id)?;
            let (_, after) = store
                .change_account(&tenant_id, &id, AccountChange { active, role })
                .map_err(failed)?
                .ok_or_else(|| format!("no user {id}"))?;
            print(format!(
                "User {id}: role {}, {}.",
                after.role.as_str(),
                if after.active { "active" } else { "inactive" }
            ))
        }
        UsersCommand::Token { id, json } => {
            let tenant_id = tenant_of(&store, &id)?;
            let (token, hashed) = crate::auth::mint();
            if !store
                .set_token(&tenant_id, &id, &hashed.lookup, &hashed.hash)
                .map_err(failed)?
            {
                return Err(format!("no user {id}"));
            }
            if json {
                print(json!({ "user_id": id, "token": token }))
            } else {
                print(format!(
                    "New token for user {id} (shown once, keep it secret): {token}"
                ))
            }
        }
        UsersCommand::Delete { id } => {
            let tenant_id = tenant_of(&store, &id)?;
            let removed = store
                .remove_account(&tenant_id, &id)
                .map_err(failed)?
                .ok_or_else(|| format!("no user {id}"))?;
            print(format!(
                "Deleted user {id} and {} device(s).",
                removed.devices.len()
            ))
        }
    }
}

pub fn tenants(settings: &Settings, command: TenantsCommand) -> Result<(), String> {
    let store = open(settings)?;
    match command {
        TenantsCommand::Create {
            name,
            admin,
            email,
            json,
        } => {
            check_text("name", &name)?;
            check_text("admin", &admin)?;
            let (token, hashed) = crate::auth::mint();
            let first = NewAccount {
                tenant_id: String::new(),
                email,
                name: admin,
                role: Role::Admin,
                token_lookup: hashed.lookup,
                token_hash: hashed.hash,
            };
            let (tenant, user) =
                store
                    .register_tenant(&name, first)
                    .map_err(|error| match error {
                        StoreError::Conflict(_) => format!("tenant {name:?} already exists"),
                        other => failed(other),
                    })?;
            if json {
                print(json!({
                    "tenant_id": tenant.id,
                    "tenant": tenant.name,
                    "user_id": user.id,
                    "token": token,
                }))
            } else {
                print(format!(
                    "Created tenant {} ({}) with admin {} ({}).\nToken (shown once, keep it secret): {token}",
                    tenant.name, tenant.id, user.name, user.id
                ))
            }
        }
        TenantsCommand::List { json } => {
            let tenants = store.tenants().map_err(failed)?;
            if json {
                let listed: Vec<_> = tenants
                    .iter()
                    .map(|tenant| {
                        json!({
                            "id": tenant.id,
                            "name": tenant.name,
                            "created_at": crate::time::rfc3339(tenant.created_at),
                        })
                    })
                    .collect();
                return print(json!(listed));
            }
            for tenant in tenants {
                print(format!("{}\t{}", tenant.id, tenant.name))?;
            }
            Ok(())
        }
        TenantsCommand::Delete { id } => {
            let (tenant, removed) = store
                .remove_tenant(&id)
                .map_err(failed)?
                .ok_or_else(|| format!("no tenant {id}"))?;
            print(format!(
                "Deleted tenant {} with {} user(s) and {} device(s).",
                tenant.name,
                removed.users.len(),
                removed.devices.len()
            ))
        }
    }
}
