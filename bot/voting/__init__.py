"""Community votes: decision votes (✅ ❌) and time boards (🔼 🔽).

- ``bot.voting.rules``: pure counting, verdicts and board nets (no Discord, no storage);
- ``bot.voting.state``: a running vote in memory (``OpenVote``) and what is drawn of it (``Snapshot``);
- ``bot.voting.display``: the port the Discord side fills (draw, place, reactions after a restart);
- ``bot.voting.service``: ``VoteService``, the facade the Discord side calls, over one part per job:
  ``proposals`` (checks, recording), ``registry`` (the open votes in memory), ``ballots`` (eligibility, one ballot
  per member, writes), ``live`` (the message kept up to date), ``deadlines`` (one timer), ``catchup`` (reactions
  read back after a restart) and ``closing`` (the decision and what is applied).

Import from the module that holds a name: this package imports nothing itself. The core below it never imports
it (the wording of a cancelled vote is ``bot.outcomes.cancelled_text``, the one ``Tally`` is a store model).
"""
