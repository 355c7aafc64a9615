"""SQLite storage: the connection, migrations and typed repositories. No SQL lives outside this package."""

from .db import MEMORY, Database, Migration, StoreError, load_migrations
from .models import (
    AuditEntry,
    Ballot,
    BallotChange,
    GuildSettings,
    Link,
    LinkState,
    OutboxEntry,
    OutboxSource,
    OutboxStatus,
    TrustEntry,
    TrustKind,
    Vote,
    VoteKind,
    VoteStatus,
)
from .repos import AuditRepo, BallotRepo, Clock, GuildSettingsRepo, LinkRepo, OutboxRepo, TrustRepo, VoteRepo
from .store import Store

__all__ = [
    "MEMORY",
    "AuditEntry",
    "AuditRepo",
    "Ballot",
    "BallotChange",
    "BallotRepo",
    "Clock",
    "Database",
    "GuildSettings",
    "GuildSettingsRepo",
    "Link",
    "LinkRepo",
    "LinkState",
    "Migration",
    "OutboxEntry",
    "OutboxRepo",
    "OutboxSource",
    "OutboxStatus",
    "Store",
    "StoreError",
    "TrustEntry",
    "TrustKind",
    "TrustRepo",
    "Vote",
    "VoteKind",
    "VoteRepo",
    "VoteStatus",
    "load_migrations",
]
