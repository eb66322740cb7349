//! What the administration routes read and change (docs/API.md, "Administration"):
//! tenants, and users as accounts (email, active, role), apart from the token and
//! device records the request path uses.

use chrono::{DateTime, Utc};

use super::Role;

/// A tenant as the super-admin routes show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRecord {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user as the user routes show it (never its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: String,
    pub tenant_id: String,
    pub email: Option<String>,
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user to create in an existing tenant. `email` is stored lowercased; it is unique
/// within the tenant.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub tenant_id: String,
    pub email: Option<String>,
    pub name: String,
    pub role: Role,
    pub token_lookup: String,
    pub token_hash: Vec<u8>,
}

/// What `PUT /users/{id}` and `promote` may change; `None` leaves a field as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountChange {
    pub active: Option<bool>,
    pub role: Option<Role>,
}

/// What removing a user or a tenant removed: the devices whose sessions must go too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// `(device_id, user_id)` of every device deleted.
    pub devices: Vec<(String, String)>,
    /// Ids of the users deleted.
    pub users: Vec<String>,
}
