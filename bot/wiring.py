"""The composition root: every service of the core, built in one place with its collaborators.

Read this to see the whole object graph. Each part gets what it needs as constructor arguments (a ``Protocol``
where the Discord side provides it); parts tell each other news through one :class:`~bot.events.Events`
dispatcher. Nothing is assigned into another object after it is built.

    Store ─┬─> Consent ──> Outbox ──> Core ──> (VoteService, built by the votes extension)
    Vault ─┤               ^   │
    Client ┘   Events <────┴───┘   (ActionFinished, LinkGone, VotesCancelled, OwnerNotice)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.chastify import ActionLimiter, ChastifyClient
from bot.clock import Clock
from bot.config import Settings
from bot.consent import Consent
from bot.events import Events
from bot.outbox import Outbox
from bot.services import Core, NoPresence, Presence
from bot.store import Store
from bot.vault import Vault


def build_core(settings: Settings, *, store: Store, vault: Vault, client: ChastifyClient, limiter: ActionLimiter,
               clock: Clock, presence: Presence | None = None,
               sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> Core:
    """The core on an open store, a vault and a Chastify client. ``presence`` answers whether a lock's owner is
    still in a server (the Discord side; none: nobody can say); ``sleep`` is what the outbox waits with before a
    retry (tests pass a fake clock's)."""
    events = Events()
    consent = Consent(store, settings.limits, clock)
    outbox = Outbox(store, client, vault, clock, consent, events, sleep=sleep,
                    owns_guild=settings.discord.shards.owns)
    return Core(settings=settings, store=store, vault=vault, client=client, limiter=limiter, clock=clock,
                consent=consent, outbox=outbox, events=events,
                presence=presence if presence is not None else NoPresence())
