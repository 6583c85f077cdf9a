"""Which permission of a custom role each operation needs (agents with a custom role only).

For such an agent the permission takes the place of the built-in role's check on the operations it
covers: a role may give an agent more than their built-in role (a team lead who manages reference data)
or less (a switchboard operator who opens tickets and replies, but edits nothing). Operations no
permission covers — channels, webhooks, keys, the workspace, agents, roles, the change feed — stay
governed by the built-in role: no permission lets an agent change roles, their own included. Reading
reference data is every agent's.
"""

from app.models.enums import Permission, Role

_TICKET = "/v1/tickets/{ticket_id}"
_READS = frozenset({"GET", "HEAD"})

# The operations a permission of their own covers, by method and path.
_OPERATIONS: dict[tuple[str, str], Permission] = {
    ("POST", "/v1/tickets"): Permission.tickets_create,
    ("POST", f"{_TICKET}/children"): Permission.tickets_create,
    ("DELETE", _TICKET): Permission.tickets_delete,
    ("POST", f"{_TICKET}/assign"): Permission.tickets_assign,
    ("POST", f"{_TICKET}/unassign"): Permission.tickets_assign,
    ("POST", f"{_TICKET}/merge"): Permission.tickets_merge,
    ("POST", f"{_TICKET}/comments"): Permission.comments_create,
    ("POST", f"{_TICKET}/comments/with-files"): Permission.comments_create,
    ("POST", "/v1/uploads"): Permission.comments_create,
    ("POST", "/v1/contacts"): Permission.contacts_create,
    ("DELETE", "/v1/contacts/{contact_id}"): Permission.contacts_delete,
}
# The reference data of a workspace: every agent reads it; changing it is `reference_data.manage`.
REFERENCE_DATA = (
    "/v1/statuses",
    "/v1/groups",
    "/v1/categories",
    "/v1/custom-fields",
    "/v1/triggers",
    "/v1/automations",
    "/v1/sla-policies",
    "/v1/calendars",
    "/v1/macros",
)
# A customer's data requests (export, erasure): no permission covers them, the built-in role (admin) decides.
PRIVACY_PATHS = ("export", "erase", "data-requests")
# The rest, by path prefix: (to read, to write); None: the built-in role decides.
_BY_PATH: tuple[tuple[str, Permission | None, Permission | None], ...] = (
    ("/v1/tickets", Permission.tickets_access, Permission.tickets_edit),
    ("/v1/comments", Permission.tickets_access, None),
    ("/v1/search", Permission.tickets_access, None),
    ("/v1/tags", Permission.tickets_access, None),
    # Saving views is every agent's; which views may be shared, the views service decides.
    ("/v1/views", Permission.tickets_access, None),
    ("/v1/attachments", Permission.tickets_access, None),
    *((f"/v1/contacts/{{contact_id}}/{path}", None, None) for path in PRIVACY_PATHS),
    ("/v1/contacts", Permission.contacts_access, Permission.contacts_edit),
    ("/v1/organizations", Permission.contacts_access, Permission.reference_data_manage),
    ("/v1/reports", Permission.reports_see, None),
    *((prefix, None, Permission.reference_data_manage) for prefix in REFERENCE_DATA),
)

# The built-in role whose agents have each permission (the presets a custom role starts from).
LEAST_ROLES: dict[Permission, Role] = {
    Permission.tickets_access: Role.viewer,
    Permission.contacts_access: Role.viewer,
    Permission.reports_see: Role.viewer,
    Permission.reference_data_manage: Role.admin,
}


def least_role(permission: Permission) -> Role:
    return LEAST_ROLES.get(permission, Role.agent)


def preset(role: Role) -> list[Permission]:
    """The permissions of a built-in role."""
    return sorted(permission for permission in Permission if least_role(permission).rank <= role.rank)


def permission_of(path: str, methods: set[str]) -> Permission | None:
    """The permission an operation needs, if one covers it."""
    for method in methods:
        if (method, path) in _OPERATIONS:
            return _OPERATIONS[method, path]
    for prefix, read, write in _BY_PATH:
        if path == prefix or path.startswith(prefix + "/"):
            return read if methods <= _READS else write
    return None
