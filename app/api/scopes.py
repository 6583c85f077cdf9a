"""Which scope each operation needs: by the resource its path names, and whether it reads or writes.

Every authenticated route has one (the route class refuses to be built without), and the OpenAPI
document names it on the operation. A key with scopes may only do what they cover, within its role; a
key without any may do all its role may; agent tokens are governed by the agent's role alone.
"""

from app.api.permissions import PRIVACY_PATHS, REFERENCE_DATA
from app.models.enums import Scope

_READS = frozenset({"GET", "HEAD"})

# (path prefix, scope to read, scope to write): the first prefix the path starts with decides.
_BY_PATH: tuple[tuple[str, Scope, Scope], ...] = (
    ("/v1/tickets/{ticket_id}/comments", Scope.tickets_read, Scope.comments_write),
    ("/v1/tickets", Scope.tickets_read, Scope.tickets_write),
    ("/v1/views", Scope.tickets_read, Scope.tickets_write),
    ("/v1/comments", Scope.tickets_read, Scope.comments_write),
    ("/v1/search", Scope.tickets_read, Scope.tickets_read),
    ("/v1/tags", Scope.tickets_read, Scope.tickets_read),
    ("/v1/attachments", Scope.tickets_read, Scope.tickets_write),
    ("/v1/uploads", Scope.tickets_read, Scope.tickets_write),
    # A customer's whole data, or its erasure: the admin's.
    *((f"/v1/contacts/{{contact_id}}/{path}", Scope.admin, Scope.admin) for path in PRIVACY_PATHS),
    ("/v1/contacts", Scope.contacts_read, Scope.contacts_write),
    ("/v1/organizations", Scope.contacts_read, Scope.contacts_write),
    ("/v1/agents", Scope.settings_read, Scope.agents_write),
    ("/v1/events", Scope.events_read, Scope.events_read),
    # An agent's own feed: marking it read is part of reading it.
    ("/v1/notifications", Scope.tickets_read, Scope.tickets_read),
    ("/v1/reports", Scope.reports_read, Scope.reports_read),
    ("/v1/export", Scope.tickets_read, Scope.tickets_read),
    ("/v1/channels", Scope.channels_manage, Scope.channels_manage),
    ("/v1/webhooks", Scope.webhooks_manage, Scope.webhooks_manage),
    ("/v1/api-keys", Scope.admin, Scope.admin),
    ("/v1/agent-token-secret", Scope.admin, Scope.admin),
    *(
        (prefix, Scope.settings_read, Scope.admin)
        for prefix in ("/v1/workspace", "/v1/roles", *REFERENCE_DATA)
    ),
)


def scope_of(path: str, methods: set[str]) -> Scope:
    """The scope an operation needs; a path no prefix covers is an error of the code, found at start."""
    for prefix, read, write in _BY_PATH:
        if path == prefix or path.startswith(prefix + "/"):
            return read if methods <= _READS else write
    raise LookupError(f"no scope covers {path}: add its prefix to app/api/scopes.py")
