"""Community votes: decision votes (✅ ❌) and time boards (🔼 🔽).

- ``bot.voting.rules``: pure counting, verdicts and board nets (no Discord, no storage);
- ``bot.voting.state``: a running vote in memory (``OpenVote``) and what is drawn of it (``Snapshot``);
- ``bot.voting.display``: the port the Discord side fills (draw, place, reactions after a restart);
- ``bot.voting.service``: ``VoteService``: proposals, ballots, deadlines, closing, catching up after a restart.

Import from the module that holds a name: this package imports nothing itself, so the core may use the pure
rules (``bot.services`` words cancelled votes with ``rules.cancelled_text``) without loading the service.
"""
