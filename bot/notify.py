"""Notifications to the people who hold a lock: what happens to it reaches them by Discord DM, by a Chastify
custom notification, or not at all, as each of them chose with ``/chastify notify``.

Who is told: everyone who proved with their own token that they hold the lock (``lock_people``), except whoever
did it (:attr:`~bot.events.LockNews.actor_id`). What: the :class:`~bot.events.LockNews` the core and the votes
publish (a vote opened, with a link to its message; a vote closed, its result and what was applied; a direct
action; the lock paused or resumed; a veto window). An uncertain outcome is told to the link's owner by the core's
``OwnerNotice`` (``cogs/chastify.py``), not here.

How, and when:

* The event handler only queues the news and returns: :meth:`Events.publish` runs on hot paths (the safeword, an
  action), so nothing here is ever awaited there. One background worker does the rest.
* A DM goes at once (news queued together for one person become one DM). During the person's quiet hours (a range
  in their time zone) non-urgent news is held in the database and sent as one digest DM when the quiet hours end;
  urgent news (paused, resumed, a veto window) always goes at once.
* A DM that cannot be delivered (DMs closed) is noted once: ``dm_failed_at`` on the person's choices and one line
  in the lock's audit log (``/chastify history``). No DM about that lock is tried again until the person runs
  ``/chastify notify`` (which clears it); held digests are dropped. So a closed inbox costs one failed request,
  not one per news.
* A Chastify custom notification spends the lock's per-minute action budget (the person's own token, which they
  linked with). News for it is held in the database and sent as ONE notification per batch: no sooner than
  ``gather`` seconds after the first news of the batch (so a burst is one notification) and ``spacing`` seconds
  after the previous one, only while the limiter has more than ``reserve`` free slots (so a direct action, which
  needs two, is never refused or queued because of a notification), and through the guarded path of the client,
  which never waits on the limiter. A full budget keeps the batch for ``retry`` seconds later.
* A timer wakes the worker when the next held batch or digest is due (at the latest every ``TIMER_CAP`` seconds);
  every news wakes it too. Held news survives a restart; news queued in memory but not yet handled does not.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.chastify import (
    ActionLimiter,
    ChastifyClient,
    ChastifyError,
    ChastifyUnavailable,
    CustomNotification,
    OutcomeUnknown,
    RateLimited,
    limiter_key,
)
from bot.clock import Clock
from bot.errors import UserError
from bot.events import Events, LockNews
from bot.store import Store
from bot.store.models import Link
from bot.store.notify_repo import CHASTIFY_TARGETS, ChastifyTarget, HeldNews, NotifyPrefs
from bot.vault import Vault, VaultError

if TYPE_CHECKING:
    from bot.services import Core

__all__ = [
    "CHASTIFY_GATHER",
    "CHASTIFY_RESERVE",
    "CHASTIFY_RETRY",
    "CHASTIFY_SPACING",
    "CHASTIFY_TARGETS",
    "Inbox",
    "Notifier",
    "NotifySettings",
    "chastify_message",
    "check_zone",
    "digest_text",
    "dm_text",
    "in_quiet",
    "parse_quiet",
    "plain",
    "quiet_ends_at",
    "quiet_text",
]

log = logging.getLogger("bot.notify")

CHASTIFY_GATHER = 60.0  # a batch is sent this long after its first news: a burst becomes one notification
CHASTIFY_SPACING = 300.0  # at most one Chastify notification per person and lock in this many seconds
CHASTIFY_RESERVE = 4  # free action slots a notification always leaves to actions (two actions with their logs)
CHASTIFY_RETRY = 60.0  # a batch the budget could not take waits this long (the limiter's window)
TIMER_CAP = 3600.0  # the worker looks at held news at least this often while some is held
MIN_WAKE = 1.0  # never wake sooner than this after the last look (no busy loop on a due-but-blocked batch)
DM_MAX = 2000  # Discord's limit on a message's content
TITLE_MAX, MESSAGE_MAX = 100, 500  # Chastify's limits on a custom notification

ICONS = {"vote_opened": "🗳️", "vote_closed": "🏁", "direct_action": "🔧", "paused": "⏸️", "resumed": "▶️",
         "veto_window": "⏳"}
OFF_WORDS = frozenset({"off", "none", "no", "-"})
_TARGETS: dict[ChastifyTarget, Literal["wearer", "keyholder", "both"]] = {
    "off": "wearer", "wearer": "wearer", "keyholder": "keyholder", "both": "both"}  # "off" never sends


class Inbox(Protocol):
    """The Discord side: a direct message to a user."""

    async def dm(self, user_id: int, text: str) -> bool:
        """Send ``text`` to the user by DM; False when it could not be delivered (DMs closed, user unknown)."""
        ...


@dataclass(frozen=True)
class NotifySettings:
    """What ``/chastify notify`` shows a person about one lock."""

    lock_id: str
    prefs: NotifyPrefs
    own_link: bool  # a link made with their own token exists (Chastify notifications need one)
    held_dm: int  # news held for the digest after their quiet hours
    held_chastify: int  # news waiting for their next Chastify notification
    quiet_now: bool
    dm_failed_since: float | None  # DMs had failed since then (cleared by running the command)


# ============================================================================== quiet hours and time zones
_QUIET = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*[-–]\s*(\d{1,2})(?::(\d{2}))?\s*$")
QUIET_HELP = ("Quiet hours are a range of the 24-hour clock in your time zone, like `22:00-07:00` (or `22-7`), "
              "or `off`.")
ZONE_HELP = ("Time zones are names from the tz database, like `Europe/Berlin`, `America/New_York`, "
             "`Asia/Tokyo` or `UTC`.")


def parse_quiet(text: str) -> tuple[int, int] | None:
    """``"22:00-07:00"`` -> (1320, 420), minutes after midnight; ``"off"`` -> None. UserError otherwise."""
    if text.strip().lower() in OFF_WORDS:
        return None
    m = _QUIET.match(text)
    if m is None:
        raise UserError(f"Nothing was changed: `{_quote(text)}` is not a range of hours. {QUIET_HELP}")
    sh, sm, eh, em = (int(g) if g is not None else 0 for g in m.groups())
    if sh > 23 or eh > 23 or sm > 59 or em > 59:
        raise UserError(f"Nothing was changed: `{_quote(text)}` is not a time of day. {QUIET_HELP}")
    start, end = sh * 60 + sm, eh * 60 + em
    if start == end:
        raise UserError(f"Nothing was changed: quiet hours must start and end at different times. {QUIET_HELP}")
    return start, end


def check_zone(name: str) -> str:
    """The time zone's canonical name as given, if the tz database knows it; UserError otherwise."""
    name = name.strip()
    if name.upper() in ("UTC", "Z", "GMT"):
        return "UTC"
    if not name or len(name) > 64 or not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", name):
        raise UserError(f"Nothing was changed: `{_quote(name)}` is not a time zone. {ZONE_HELP}")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UserError(f"Nothing was changed: `{_quote(name)}` is not a time zone I know. {ZONE_HELP}") from None
    return name


def _quote(text: str) -> str:
    return text.replace("`", "'")[:64]


def _zone(name: str | None) -> tzinfo:
    if not name or name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # was valid when chosen; the tz database changed since
        log.warning("unknown stored time zone; using UTC")
        return UTC


def in_quiet(prefs: NotifyPrefs, now: float) -> bool:
    """Whether ``now`` lies within the person's quiet hours."""
    quiet = prefs.quiet
    if quiet is None:
        return False
    local = datetime.fromtimestamp(now, _zone(prefs.timezone))
    minute = local.hour * 60 + local.minute
    start, end = quiet
    return start <= minute < end if start < end else (minute >= start or minute < end)


def quiet_ends_at(prefs: NotifyPrefs, now: float) -> float | None:
    """When the quiet hours next end after ``now`` (epoch seconds); None without quiet hours."""
    quiet = prefs.quiet
    if quiet is None:
        return None
    zone = _zone(prefs.timezone)
    local = datetime.fromtimestamp(now, zone)
    hour, minute = divmod(quiet[1], 60)
    for days in (0, 1, 2):
        end = datetime.combine(local.date() + timedelta(days=days), time(hour, minute), tzinfo=zone).timestamp()
        if end > now:
            return end
    return now + 86400  # unreachable: one of the next three days' ends lies ahead


def quiet_text(prefs: NotifyPrefs) -> str:
    quiet = prefs.quiet
    if quiet is None:
        return "off"
    (sh, sm), (eh, em) = divmod(quiet[0], 60), divmod(quiet[1], 60)
    return f"{sh:02d}:{sm:02d}-{eh:02d}:{em:02d} ({prefs.timezone or 'UTC'})"


# ============================================================================== texts
_MARKUP = re.compile(r"\\(.)|\*\*|<t:(\d+)(?::[tTdDfFR])?>|<@!?\d+>|<@&\d+>|<#\d+>", re.S)


def plain(text: str, zone: str | None = None) -> str:
    """A news text (Discord markdown) as plain text for Chastify: escapes undone, bold dropped, Discord timestamps
    written out in the person's time zone, mentions named generically."""
    tz = _zone(zone)

    def one(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1)
        if m.group(2) is not None:
            at = datetime.fromtimestamp(int(m.group(2)), tz)
            return at.strftime("%H:%M ") + (at.tzname() or "UTC")
        found = m.group(0)
        if found == "**":
            return ""
        return "a role" if found.startswith("<@&") else ("a channel" if found.startswith("<#") else "a member")

    return _MARKUP.sub(one, text)


def _line(kind: str, text: str, url: str | None) -> str:
    return f"{ICONS.get(kind, '•')} {text}" + (f"\n{url}" if url else "")


def _fit(head: str, lines: Sequence[str], limit: int, more: Callable[[int], str], sep: str = "\n") -> str:
    """``head`` and as many whole ``lines`` as fit in ``limit`` characters, then ``more(n)`` for the rest."""
    out = head
    for i, line in enumerate(lines):
        rest = len(lines) - i - 1
        tail = more(rest) if rest else ""
        candidate = out + (sep if out else "") + line
        if len(candidate) + (len(sep) + len(tail) if tail else 0) <= limit:
            out = candidate
            continue
        left = len(lines) - i
        note = more(left)
        if not out:  # not even the first line fits: cut it
            return line[: max(0, limit - len(note) - 2)].rstrip() + "…" + sep + note
        return out + sep + note
    return out


def dm_text(news: Sequence[LockNews]) -> str:
    """One DM for news that reached one person together."""
    lines = [_line(n.kind, n.text, n.url) for n in news]
    return _fit("", lines, DM_MAX, lambda n: f"…and {n} more.", sep="\n\n")


def digest_text(items: Sequence[HeldNews]) -> str:
    """The one DM after quiet hours."""
    n = len(items)
    head = f"🌙 **While your quiet hours lasted** ({n} update{'s' if n != 1 else ''}):"
    lines = [_line(i.kind, i.text, i.url).replace("\n", " ") for i in items]
    return _fit(head, lines, DM_MAX, lambda k: f"…and {k} more: `/chastify history` shows the lock's actions.")


def chastify_message(items: Sequence[HeldNews], zone: str | None,
                     target: Literal["wearer", "keyholder", "both"] = "wearer") -> CustomNotification:
    """One Chastify custom notification for a batch (plain text within Chastify's limits)."""
    n = len(items)
    title = "Discord: news about your lock" if n == 1 else f"Discord: {n} updates about your lock"
    lines = [plain(i.text, zone) for i in items]
    message = _fit("", lines, MESSAGE_MAX, lambda k: f"…and {k} more (see Discord).")
    return CustomNotification(title=title[:TITLE_MAX], message=message[:MESSAGE_MAX] or "News on Discord.",
                              target=target)


# ============================================================================== the service
class Notifier:
    """Tells the people who hold a lock what happens to it. Built by the notify extension with its Discord
    ``inbox``; :meth:`start` subscribes to :class:`LockNews` and looks at held news, :meth:`aclose` stops."""

    def __init__(self, *, store: Store, events: Events, clock: Clock, client: ChastifyClient,
                 limiter: ActionLimiter, vault: Vault, inbox: Inbox, gather: float = CHASTIFY_GATHER,
                 spacing: float = CHASTIFY_SPACING, reserve: int = CHASTIFY_RESERVE,
                 retry: float = CHASTIFY_RETRY) -> None:
        self.store, self.events, self.clock = store, events, clock
        self.client, self.limiter, self.vault, self.inbox = client, limiter, vault, inbox
        self.gather, self.spacing, self.reserve, self.retry = gather, spacing, reserve, retry
        self._queue: deque[LockNews] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._more = False
        self._retry_at: dict[tuple[str, int], float] = {}  # a batch the budget or Chastify could not take
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False

    @classmethod
    def for_core(cls, core: Core, inbox: Inbox) -> Notifier:
        """The notifier on the core's collaborators (what the notify extension builds)."""
        return cls(store=core.store, events=core.events, clock=core.clock, client=core.client, limiter=core.limiter,
                   vault=core.vault, inbox=inbox)

    # ------------------------------------------------------------------ life
    def start(self) -> None:
        """Listen for news from now on, and send what was held (a restart's digests and batches) when due."""
        if self._unsubscribe is None and not self._closed:
            self._unsubscribe = self.events.subscribe(LockNews, self._on_news)
            self._kick()

    async def aclose(self) -> None:
        """Stop listening; stop the timer and the worker (held news stays in the database)."""
        self._closed = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = [t for t in (self._timer, self._worker) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._timer = self._worker = None

    async def settle(self) -> None:
        """Wait until the worker has handled everything queued (tests)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def run_due(self) -> None:
        """Look at held news now and wait for it (what the timer does; tests with a fake clock call it)."""
        self._kick()
        await self.settle()

    async def _on_news(self, news: LockNews) -> None:
        # runs inside Events.publish, on hot paths: queue it and return, never await anything here
        self._queue.append(news)
        self._kick()

    def _kick(self) -> None:
        if self._closed:
            return
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="notify-worker")
        else:
            self._more = True

    def _arm(self, when: float | None) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        self._timer = None
        if when is None or self._closed:
            return
        delay = min(max(MIN_WAKE, when - self.clock()), TIMER_CAP)
        self._timer = asyncio.create_task(self._wake_after(delay), name="notify-timer")

    async def _wake_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self._timer = None
        self._kick()

    async def _work(self) -> None:
        while True:
            self._more = False
            try:
                batch = list(self._queue)
                self._queue.clear()
                if batch:
                    await self._route(batch)
                self._arm(await self._flush())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifications failed; held news is looked at again later")
                self._arm(self.clock() + self.retry)
            if not self._more and not self._queue:
                return

    # ------------------------------------------------------------------ news in
    async def _route(self, batch: Iterable[LockNews]) -> None:
        """Each news to each person who holds the lock (not to whoever did it), by the ways they chose."""
        now = self.clock()
        at_once: dict[int, list[LockNews]] = {}
        for news in batch:
            for person in await self.store.consent.people(news.lock_id):
                if person.user_id == news.actor_id:
                    continue
                prefs = await self.store.notify.get(news.lock_id, person.user_id)
                if prefs.chastify != "off":
                    await self._hold(news, person.user_id, "chastify")
                if not prefs.dm or prefs.dm_failed_at is not None:
                    continue
                if not news.urgent and in_quiet(prefs, now):
                    await self._hold(news, person.user_id, "dm")
                else:
                    at_once.setdefault(person.user_id, []).append(news)
        for user_id, items in at_once.items():
            if not await self.inbox.dm(user_id, dm_text(items)):
                for news in {n.lock_id: n for n in items}.values():
                    await self._dm_failed(news.lock_id, user_id, news.guild_id)

    async def _hold(self, news: LockNews, user_id: int, channel: Literal["dm", "chastify"]) -> None:
        await self.store.notify.hold(lock_id=news.lock_id, user_id=user_id, channel=channel, guild_id=news.guild_id,
                                     kind=news.kind, text=news.text, url=news.url, urgent=news.urgent)

    async def _dm_failed(self, lock_id: str, user_id: int, guild_id: int) -> None:
        """Note once that DMs to this person about this lock fail; none is tried again until they run
        /chastify notify."""
        if not await self.store.notify.note_dm_failed(lock_id, user_id):
            return
        log.info("a notification DM could not be delivered; DMs about this lock wait for /chastify notify",
                 extra={"guild": guild_id, "lock": lock_id})
        links = await self.store.links.find_in_guild(guild_id, lock_id)
        link = next((x for x in links if x.owner_id == user_id), links[0] if links else None)
        await self.store.audit.add(
            guild_id=guild_id, link_id=link.id if link else None, actor_id=user_id, source="bot",
            action_summary="notify by DM", outcome="undelivered",
            detail=f"Direct messages to <@{user_id}> could not be delivered: notifications about this lock by DM "
                   "wait until they run /chastify notify again.")

    # ------------------------------------------------------------------ held news out
    async def _flush(self) -> float | None:
        """Send every digest and batch that is due; returns when the next one is."""
        now = self.clock()
        nxt: float | None = None
        for lock_id, user_id, channel in await self.store.notify.waiting():
            prefs = await self.store.notify.get(lock_id, user_id)
            if channel == "dm":
                at = await self._flush_digest(prefs, now)
            else:
                at = await self._flush_chastify(prefs, now)
            if at is not None:
                nxt = at if nxt is None else min(nxt, at)
        return nxt

    async def _flush_digest(self, prefs: NotifyPrefs, now: float) -> float | None:
        items = await self.store.notify.held(prefs.lock_id, prefs.user_id, "dm")
        if not items:
            return None
        if not prefs.dm or prefs.dm_failed_at is not None:  # DMs off or failing since: nobody will read it
            await self.store.notify.drop(i.id for i in items)
            return None
        if in_quiet(prefs, now):
            return quiet_ends_at(prefs, now)
        delivered = await self.inbox.dm(prefs.user_id, digest_text(items))
        await self.store.notify.drop(i.id for i in items)
        if not delivered:
            await self._dm_failed(prefs.lock_id, prefs.user_id, items[-1].guild_id)
        return None

    async def _flush_chastify(self, prefs: NotifyPrefs, now: float) -> float | None:
        lock_id, user_id = prefs.lock_id, prefs.user_id
        items = await self.store.notify.held(lock_id, user_id, "chastify")
        if not items:
            return None
        if prefs.chastify == "off":
            await self.store.notify.drop(i.id for i in items)
            return None
        urgent = any(i.urgent for i in items)
        if not urgent and in_quiet(prefs, now):
            return quiet_ends_at(prefs, now)
        due = items[0].created_at + (0.0 if urgent else self.gather)
        if prefs.chastify_sent_at is not None:
            due = max(due, prefs.chastify_sent_at + self.spacing)
        due = max(due, self._retry_at.get((lock_id, user_id), due))
        if now < due:
            return due
        link = await self._own_link(lock_id, user_id)
        if link is None:
            log.info("chastify notifications dropped: the person has no link of their own for the lock",
                     extra={"lock": lock_id})
            await self.store.notify.drop(i.id for i in items)
            return None
        try:
            token = self.vault.decrypt(link.token_ciphertext)
        except VaultError:
            await self.store.notify.drop(i.id for i in items)
            return None
        if self.limiter.remaining(limiter_key(token, lock_id)) <= self.reserve:
            return self._later(lock_id, user_id, now)  # the budget belongs to actions first
        # the lock's budget as every bot process shares it: a notification takes a slot too
        if await self.store.outbox.reserve_budget(lock_id, 1, per_minute=self.limiter.per_minute) > 0:
            return self._later(lock_id, user_id, now)
        note = chastify_message(items, prefs.timezone, _TARGETS[prefs.chastify])
        # guarded: never waits on the limiter, never retried after a 429; the guard itself never refuses
        api = self.client.dev(token, lock_id, guard=lambda: None)
        try:
            await api.notify(note)
        except (RateLimited, ChastifyUnavailable):
            return self._later(lock_id, user_id, now)
        except OutcomeUnknown:
            log.info("a chastify notification may not have arrived; not sent again", extra={"lock": lock_id})
        except ChastifyError as err:  # a revoked token, an ended lock, a refusal: this batch can never go
            log.warning("chastify notification refused (%s); dropped", type(err).__name__, extra={"lock": lock_id})
        await self.store.notify.drop(i.id for i in items)
        await self.store.notify.mark_chastify_sent(lock_id, user_id, now)
        self._retry_at.pop((lock_id, user_id), None)
        if await self.store.notify.held(lock_id, user_id, "chastify"):  # news that came while it was sent
            return now + self.spacing
        return None

    def _later(self, lock_id: str, user_id: int, now: float) -> float:
        at = now + self.retry
        self._retry_at[(lock_id, user_id)] = at
        return at

    async def _own_link(self, lock_id: str, user_id: int) -> Link | None:
        """A link of this lock made with this person's own token (any server), active ones first."""
        mine = [x for x in await self.store.links.list_for_owner(user_id) if x.lock_id == lock_id
                and x.state in ("active", "paused")]
        mine.sort(key=lambda x: x.state != "active")
        return mine[0] if mine else None

    # ------------------------------------------------------------------ the person's choices
    async def settings(self, lock_id: str, user_id: int) -> NotifySettings:
        prefs = await self.store.notify.get(lock_id, user_id)
        return NotifySettings(
            lock_id=lock_id, prefs=prefs, own_link=await self._own_link(lock_id, user_id) is not None,
            held_dm=len(await self.store.notify.held(lock_id, user_id, "dm")),
            held_chastify=len(await self.store.notify.held(lock_id, user_id, "chastify")),
            quiet_now=in_quiet(prefs, self.clock()), dm_failed_since=prefs.dm_failed_at)

    async def change(self, lock_id: str, user_id: int, *, dm: bool | None = None, chastify: str | None = None,
                     quiet: str | None = None, timezone: str | None = None) -> NotifySettings:
        """Change a person's choices for a lock (every option checked before anything is saved: a bad one changes
        nothing and says what is accepted). Running it also lifts a DM failure: DMs are tried again. Returns what
        ``/chastify notify`` shows, with ``dm_failed_since`` as it was before."""
        before = await self.store.notify.get(lock_id, user_id)
        fields: dict[str, object] = {"dm_failed_at": None}
        if dm is not None:
            fields["dm"] = dm
        if chastify is not None:
            target = chastify.strip().lower()
            if target not in CHASTIFY_TARGETS:
                raise UserError(f"Nothing was changed: Chastify notifications go to one of "
                                f"{', '.join(CHASTIFY_TARGETS)}.")
            if target != "off" and await self._own_link(lock_id, user_id) is None:
                raise UserError("Nothing was changed: Chastify notifications are sent with your own DEV token, and "
                                "the bot keeps it only for a lock you linked yourself. Link this lock with "
                                "`/chastify link` (in a server where it is not linked yet) first.")
            fields["chastify"] = target
        if timezone is not None:
            fields["timezone"] = None if timezone.strip().lower() in OFF_WORDS else check_zone(timezone)
        if quiet is not None:
            span = parse_quiet(quiet)
            fields["quiet_start"], fields["quiet_end"] = span if span else (None, None)
            zone = fields.get("timezone", before.timezone)
            if span is not None and zone is None:
                raise UserError(f"Nothing was changed: quiet hours need your time zone too, e.g. "
                                f"`timezone: Europe/Berlin`. {ZONE_HELP}")
        if len(fields) > 1 or before.dm_failed_at is not None:
            await self.store.notify.update(lock_id, user_id, **fields)
        self._retry_at.pop((lock_id, user_id), None)
        self._kick()  # held news may be due now (quiet hours lifted, DMs or Chastify turned off)
        shown = await self.settings(lock_id, user_id)
        return NotifySettings(shown.lock_id, shown.prefs, shown.own_link, shown.held_dm, shown.held_chastify,
                              shown.quiet_now, before.dm_failed_at)

