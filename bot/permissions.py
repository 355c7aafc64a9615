"""Who may do what: every permission rule of the bot, in one place. The services ask these before they act; a
refusal names who may. (Discord's ``default_permissions`` on a command is only a hint for the client's menus:
the rules here are what hold.)"""

from __future__ import annotations

from bot.errors import NotAllowed
from bot.members import Member
from bot.store.models import Link


def require_manage_server(actor: Member) -> None:
    """Server settings and unlinking someone else's lock need the Manage Server permission."""
    if not actor.manage_guild:
        raise NotAllowed("You need the Manage Server permission for this.")


def require_unlink(actor: Member, owner_id: int) -> None:
    if actor.id != owner_id and not actor.manage_guild:
        raise NotAllowed("Only the lock's owner, or someone with Manage Server, can unlink it.")


def require_act(acts: bool) -> None:
    """``acts``: the member owns the link or is trusted on it (``Core.may_act``)."""
    if not acts:
        raise NotAllowed("Only the lock's owner and the people they trust can act on this lock. "
                         "The owner can trust you with `/chastify trust`.")


def require_history(actor: Member, acts: bool) -> None:
    if not (acts or actor.manage_guild):
        raise NotAllowed("Only the owner, people they trust and members with Manage Server can read the "
                         "history of this lock.")


def require_cancel_vote(actor: Member, proposer_id: int, link: Link | None) -> None:
    if not (actor.id == proposer_id or actor.manage_guild or (link is not None and link.owner_id == actor.id)):
        raise NotAllowed("Only the member who proposed the vote, the lock's owner or someone with Manage "
                         "Server can cancel it.")


def require_voter_role(actor: Member, voter_role_id: int | None) -> None:
    if voter_role_id is not None and voter_role_id not in actor.role_ids:
        raise NotAllowed(f"Only members with the <@&{voter_role_id}> role can propose votes here.")


def require_schedule(actor: Member, holds_lock: bool) -> None:
    """Scheduling a vote on a lock, or removing a schedule: Manage Server, or one of the lock's own people
    (``Core.is_holder``)."""
    if not (actor.manage_guild or holds_lock):
        raise NotAllowed("Only members with Manage Server and the lock's own people (its owner, or whoever linked "
                         "it) can schedule votes on it or remove its schedules.")
