//! Who may do what to which user (docs/API.md, "Administration", "Roles"). Pure rules,
//! so every user route asks the same questions and the table is tested on its own.
//! Whether a change would leave the tenant without an active admin is the store's
//! check (it needs the other users).

use crate::store::{AccountChange, AccountRecord, Principal, Role};

/// Why a caller may not act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403: the caller's role does not allow it.
    Forbidden(&'static str),
    /// 400: nobody deletes their own account.
    CannotDeleteSelf,
}

fn is_self(caller: &Principal, target: &AccountRecord) -> bool {
    caller.user_id == target.id
}

/// `GET /users`: managers and admins.
pub fn may_list(caller: &Principal) -> Result<(), Refusal> {
    match caller.role {
        Role::Admin | Role::Manager => Ok(()),
        Role::User => Err(Refusal::Forbidden("a user may only view itself")),
    }
}

/// `GET /users/{id}`: oneself, or anyone of the tenant for managers and admins.
pub fn may_view(caller: &Principal, target: &AccountRecord) -> Result<(), Refusal> {
    if is_self(caller, target) {
        return Ok(());
    }
    may_list(caller)
}

/// `POST /users` with `role`: admins create any role, managers users and managers.
pub fn may_create(caller: &Principal, role: Role) -> Result<(), Refusal> {
    match (caller.role, role) {
        (Role::Admin, _) => Ok(()),
        (Role::Manager, Role::Admin) => Err(Refusal::Forbidden("a manager cannot create admins")),
        (Role::Manager, _) => Ok(()),
        (Role::User, _) => Err(Refusal::Forbidden("a user cannot create users")),
    }
}

/// `PUT /users/{id}` and `promote`. A manager sets `active` on users and managers and
/// moves users between `user` and `manager`; it cannot touch an admin or make one. A
/// user changes neither its own role nor its `active` (a change that changes nothing
/// is allowed).
pub fn may_change(
    caller: &Principal,
    target: &AccountRecord,
    change: AccountChange,
) -> Result<(), Refusal> {
    let new_role = change.role.filter(|role| *role != target.role);
    let new_active = change.active.filter(|active| *active != target.active);
    match caller.role {
        Role::Admin => Ok(()),
        Role::Manager if target.role == Role::Admin => {
            Err(Refusal::Forbidden("a manager cannot change an admin"))
        }
        Role::Manager if new_role == Some(Role::Admin) => {
            Err(Refusal::Forbidden("a manager cannot promote to admin"))
        }
        Role::Manager => Ok(()),
        Role::User if new_role.is_none() && new_active.is_none() && is_self(caller, target) => {
            Ok(())
        }
        Role::User => Err(Refusal::Forbidden(
            "a user cannot change roles or activation",
        )),
    }
}

/// `DELETE /users/{id}`: admins, and never oneself.
pub fn may_delete(caller: &Principal, target: &AccountRecord) -> Result<(), Refusal> {
    if is_self(caller, target) {
        return Err(Refusal::CannotDeleteSelf);
    }
    match caller.role {
        Role::Admin => Ok(()),
        Role::Manager | Role::User => Err(Refusal::Forbidden("only an admin deletes users")),
    }
}

/// `POST /users/{id}/token`: one's own token; an admin's for anyone of the tenant, a
/// manager's for users and managers.
pub fn may_rotate_token(caller: &Principal, target: &AccountRecord) -> Result<(), Refusal> {
    if is_self(caller, target) {
        return Ok(());
    }
    match (caller.role, target.role) {
        (Role::Admin, _) => Ok(()),
        (Role::Manager, Role::Admin) => Err(Refusal::Forbidden(
            "a manager cannot rotate an admin's token",
        )),
        (Role::Manager, _) => Ok(()),
        (Role::User, _) => Err(Refusal::Forbidden("a user may only rotate its own token")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(id: &str, role: Role) -> Principal {
        Principal {
            tenant_id: "t".into(),
            user_id: id.into(),
            role,
        }
    }

    fn account(id: &str, role: Role) -> AccountRecord {
        AccountRecord {
            id: id.into(),
            tenant_id: "t".into(),
            email: None,
            name: id.into(),
            role,
            active: true,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn change(active: Option<bool>, role: Option<Role>) -> AccountChange {
        AccountChange { active, role }
    }

    #[test]
    fn users_see_and_change_only_themselves() {
        let me = principal("me", Role::User);
        assert_eq!(may_view(&me, &account("me", Role::User)), Ok(()));
        assert!(may_view(&me, &account("other", Role::User)).is_err());
        assert!(may_list(&me).is_err());
        assert!(may_create(&me, Role::User).is_err());
        assert_eq!(
            may_change(
                &me,
                &account("me", Role::User),
                change(Some(true), Some(Role::User))
            ),
            Ok(()),
            "a change that changes nothing"
        );
        assert!(
            may_change(
                &me,
                &account("me", Role::User),
                change(None, Some(Role::Manager))
            )
            .is_err()
        );
        assert!(may_change(&me, &account("me", Role::User), change(Some(false), None)).is_err());
        assert_eq!(may_rotate_token(&me, &account("me", Role::User)), Ok(()));
        assert!(may_rotate_token(&me, &account("other", Role::User)).is_err());
        assert!(may_delete(&me, &account("other", Role::User)).is_err());
    }

    #[test]
    fn managers_manage_users_and_managers_but_never_admins() {
        let manager = principal("m", Role::Manager);
        assert_eq!(may_list(&manager), Ok(()));
        assert_eq!(may_view(&manager, &account("a", Role::Admin)), Ok(()));
        assert_eq!(may_create(&manager, Role::Manager), Ok(()));
        assert!(may_create(&manager, Role::Admin).is_err());
        let user = account("u", Role::User);
        assert_eq!(
            may_change(&manager, &user, change(Some(false), None)),
            Ok(())
        );
        assert_eq!(
            may_change(&manager, &user, change(None, Some(Role::Manager))),
            Ok(())
        );
        assert!(may_change(&manager, &user, change(None, Some(Role::Admin))).is_err());
        let admin = account("a", Role::Admin);
        assert!(may_change(&manager, &admin, change(Some(false), None)).is_err());
        assert!(may_change(&manager, &admin, change(None, Some(Role::User))).is_err());
        assert!(may_delete(&manager, &user).is_err());
        assert_eq!(may_rotate_token(&manager, &user), Ok(()));
        assert!(may_rotate_token(&manager, &admin).is_err());
    }

    #[test]
    fn admins_do_everything_but_delete_themselves() {
        let admin = principal("a", Role::Admin);
        let other_admin = account("b", Role::Admin);
        assert_eq!(may_create(&admin, Role::Admin), Ok(()));
        assert_eq!(
            may_change(&admin, &other_admin, change(Some(false), Some(Role::User))),
            Ok(())
        );
        assert_eq!(may_delete(&admin, &other_admin), Ok(()));
        assert_eq!(may_rotate_token(&admin, &other_admin), Ok(()));
        assert_eq!(
            may_delete(&admin, &account("a", Role::Admin)),
            Err(Refusal::CannotDeleteSelf)
        );
        assert_eq!(
            may_delete(&principal("u", Role::User), &account("u", Role::User)),
            Err(Refusal::CannotDeleteSelf),
            "nobody deletes themselves, whatever the role"
        );
    }
}
