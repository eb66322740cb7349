//! Tenants and user accounts in SQLite: what the administration routes and the CLI
//! change (docs/API.md, "Administration"). Removing a user or a tenant removes
//! everything stored for it in one transaction: devices, messages, jobs, events,
//! deliveries, webhooks.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::accounts::{AccountChange, AccountRecord, NewAccount, Removed, TenantRecord};
use super::sql_time::{parse_time, timestamp};
use super::{Role, StoreError, StoreResult};

const ACCOUNT_COLUMNS: &str = "id, tenant_id, email, name, role, active, created_at, COALESCE(updated_at, created_at) AS updated_at";
const TENANT_COLUMNS: &str = "id, name, created_at, COALESCE(updated_at, created_at) AS updated_at";

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        id: row.get("id")?,
        tenant_id: row.get("tenant_id")?,
        email: row.get("email")?,
        name: row.get("name")?,
        role: Role::parse(&row.get::<_, String>("role")?),
        active: row.get("active")?,
        created_at: parse_time(&row.get::<_, String>("created_at")?),
        updated_at: parse_time(&row.get::<_, String>("updated_at")?),
    })
}

fn tenant_from_row(row: &Row<'_>) -> rusqlite::Result<TenantRecord> {
    Ok(TenantRecord {
        id: row.get("id")?,
        name: row.get("name")?,
        created_at: parse_time(&row.get::<_, String>("created_at")?),
        updated_at: parse_time(&row.get::<_, String>("updated_at")?),
    })
}

pub fn account(
    connection: &Connection,
    tenant_id: &str,
    user_id: &str,
) -> StoreResult<Option<AccountRecord>> {
    Ok(connection
        .query_row(
            &format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE tenant_id = ?1 AND id = ?2"),
            [tenant_id, user_id],
            account_from_row,
        )
        .optional()?)
}

/// The tenant's users, oldest first.
pub fn accounts(connection: &Connection, tenant_id: &str) -> StoreResult<Vec<AccountRecord>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users WHERE tenant_id = ?1 ORDER BY created_at, id"
    ))?;
    let accounts = statement
        .query_map([tenant_id], account_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(accounts)
}

/// Creates the user and its default device; `Conflict` when the tenant already has a
/// user with this email.
pub fn create_account(
    transaction: &Transaction<'_>,
    new: &NewAccount,
) -> StoreResult<AccountRecord> {
    let email = new.email.as_deref().map(str::to_lowercase);
    if let Some(email) = &email {
        let taken: bool = transaction.query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = ?1 AND email = ?2)",
            params![new.tenant_id, email],
            |row| row.get(0),
        )?;
        if taken {
            return Err(StoreError::Conflict("a user with this email".into()));
        }
    }
    let now = timestamp(Utc::now());
    let user_id = new_id();
    transaction.execute(
        "INSERT INTO users (id, tenant_id, name, role, token_lookup, token_hash, created_at,
                            email, active, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?7)",
        params![
            user_id,
            new.tenant_id,
            new.name,
            new.role.as_str(),
            new.token_lookup,
            new.token_hash,
            now,
            email
        ],
    )?;
    transaction.execute(
        "INSERT INTO devices (id, tenant_id, user_id, name, is_default, created_at)
         VALUES (?1, ?2, ?3, 'default', 1, ?4)",
        params![new_id(), new.tenant_id, user_id, now],
    )?;
    account(transaction, &new.tenant_id, &user_id)?
        .ok_or_else(|| StoreError::NotFound("the user just created".into()))
}

/// Whether the tenant has an active admin.
fn has_active_admin(transaction: &Transaction<'_>, tenant_id: &str) -> StoreResult<bool> {
    Ok(transaction.query_row(
        "SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = ?1 AND role = 'admin' AND active = 1)",
        [tenant_id],
        |row| row.get(0),
    )?)
}

/// Applies `change`; the account before and after, or `None` for an unknown user.
/// `LastAdmin` (and nothing changed) when the tenant would be left without an active
/// admin.
pub fn change_account(
    connection: &mut Connection,
    tenant_id: &str,
    user_id: &str,
    change: AccountChange,
) -> StoreResult<Option<(AccountRecord, AccountRecord)>> {
    let transaction = connection.transaction()?;
    let Some(before) = account(&transaction, tenant_id, user_id)? else {
        return Ok(None);
    };
    let active = change.active.unwrap_or(before.active);
    let role = change.role.unwrap_or(before.role);
    if active == before.active && role == before.role {
        return Ok(Some((before.clone(), before)));
    }
    transaction.execute(
        "UPDATE users SET active = ?3, role = ?4, updated_at = ?5 WHERE tenant_id = ?1 AND id = ?2",
        params![
            tenant_id,
            user_id,
            active,
            role.as_str(),
            timestamp(Utc::now())
        ],
    )?;
    if before.role == Role::Admin && before.active && !has_active_admin(&transaction, tenant_id)? {
        return Err(StoreError::LastAdmin);
    }
    let after = account(&transaction, tenant_id, user_id)?
        .ok_or_else(|| StoreError::NotFound("the user just changed".into()))?;
    transaction.commit()?;
    Ok(Some((before, after)))
}

/// Replaces the user's token; false for an unknown user.
pub fn set_token(
    connection: &Connection,
    tenant_id: &str,
    user_id: &str,
    token_lookup: &str,
    token_hash: &[u8],
) -> StoreResult<bool> {
    let changed = connection.execute(
        "UPDATE users SET token_lookup = ?3, token_hash = ?4, updated_at = ?5
         WHERE tenant_id = ?1 AND id = ?2",
        params![
            tenant_id,
            user_id,
            token_lookup,
            token_hash,
            timestamp(Utc::now())
        ],
    )?;
    Ok(changed == 1)
}

/// Deletes every row of the devices `devices_where` selects (a condition on `devices`
/// with `?1`), and of their users' jobs and user webhooks by `owner_where` (a condition
/// with `?1` on a table's `user_id`/`tenant_id`).
fn remove_devices_of(
    transaction: &Transaction<'_>,
    devices_where: &str,
    owner_where: &str,
    key: &str,
) -> StoreResult<Vec<(String, String)>> {
    let devices: Vec<(String, String)> = transaction
        .prepare(&format!(
            "SELECT id, user_id FROM devices WHERE {devices_where}"
        ))?
        .query_map([key], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let selected = format!("SELECT id FROM devices WHERE {devices_where}");
    for table in [
        "deliveries",
        "events",
        "webhooks",
        "messages",
        "received_messages",
    ] {
        transaction.execute(
            &format!("DELETE FROM {table} WHERE device_id IN ({selected})"),
            [key],
        )?;
    }
    for table in ["jobs", "user_webhooks"] {
        transaction.execute(&format!("DELETE FROM {table} WHERE {owner_where}"), [key])?;
    }
    transaction.execute(&format!("DELETE FROM devices WHERE {devices_where}"), [key])?;
    Ok(devices)
}

/// Deletes the user and everything stored for it; `None` for an unknown user,
/// `LastAdmin` for the tenant's last active admin.
pub fn remove_account(
    connection: &mut Connection,
    tenant_id: &str,
    user_id: &str,
) -> StoreResult<Option<Removed>> {
    let transaction = connection.transaction()?;
    let Some(account) = account(&transaction, tenant_id, user_id)? else {
        return Ok(None);
    };
    let devices = remove_devices_of(&transaction, "user_id = ?1", "user_id = ?1", user_id)?;
    transaction.execute("DELETE FROM users WHERE id = ?1", [user_id])?;
    if account.role == Role::Admin && account.active && !has_active_admin(&transaction, tenant_id)?
    {
        return Err(StoreError::LastAdmin);
    }
    transaction.commit()?;
    Ok(Some(Removed {
        devices,
        users: vec![user_id.to_owned()],
    }))
}

/// Creates a tenant and its first user; `Conflict` when a tenant of that name exists.
pub fn register_tenant(
    connection: &mut Connection,
    name: &str,
    first: NewAccount,
) -> StoreResult<(TenantRecord, AccountRecord)> {
    let transaction = connection.transaction()?;
    let exists: bool = transaction.query_row(
        "SELECT EXISTS (SELECT 1 FROM tenants WHERE name = ?1)",
        [name],
        |row| row.get(0),
    )?;
    if exists {
        return Err(StoreError::Conflict("tenant".into()));
    }
    let tenant_id = new_id();
    let now = timestamp(Utc::now());
    transaction.execute(
        "INSERT INTO tenants (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
        params![tenant_id, name, now],
    )?;
    let account = create_account(
        &transaction,
        &NewAccount {
            tenant_id: tenant_id.clone(),
            ..first
        },
    )?;
    let tenant = tenant(&transaction, &tenant_id)?
        .ok_or_else(|| StoreError::NotFound("the tenant just created".into()))?;
    transaction.commit()?;
    Ok((tenant, account))
}

pub fn tenants(connection: &Connection) -> StoreResult<Vec<TenantRecord>> {
    let mut statement = connection.prepare(&format!(
        "SELECT {TENANT_COLUMNS} FROM tenants ORDER BY created_at, id"
    ))?;
    let tenants = statement
        .query_map([], tenant_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(tenants)
}

pub fn tenant(connection: &Connection, tenant_id: &str) -> StoreResult<Option<TenantRecord>> {
    Ok(connection
        .query_row(
            &format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?1"),
            [tenant_id],
            tenant_from_row,
        )
        .optional()?)
}

/// Deletes the tenant and everything stored for it; `None` for an unknown tenant.
pub fn remove_tenant(
    connection: &mut Connection,
    tenant_id: &str,
) -> StoreResult<Option<(TenantRecord, Removed)>> {
    let transaction = connection.transaction()?;
    let Some(tenant) = tenant(&transaction, tenant_id)? else {
        return Ok(None);
    };
    let devices = remove_devices_of(&transaction, "tenant_id = ?1", "tenant_id = ?1", tenant_id)?;
    let users: Vec<String> = transaction
        .prepare("SELECT id FROM users WHERE tenant_id = ?1")?
        .query_map([tenant_id], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    transaction.execute("DELETE FROM users WHERE tenant_id = ?1", [tenant_id])?;
    transaction.execute("DELETE FROM tenants WHERE id = ?1", [tenant_id])?;
    transaction.commit()?;
    Ok(Some((tenant, Removed { devices, users })))
}
