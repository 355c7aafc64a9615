"""Test support, each helper once. tests/conftest.py registers the modules with fixtures as pytest plugins.

- ``clock``     the one fake clock (``FakeClock``), the stand-in's simcord-following ``SharedClock``; fixtures
                ``fake_clock``, ``shared_clock``
- ``settings``  the one settings factory (``make_settings``, ``vote_settings``); fixture ``bot_settings``, which
                a module overrides to change its settings
- ``standin``   the Chastify stand-in: API paths, what it applied or received; fixtures ``chastify``,
                ``standin``, ``make_standin``, ``within_rate_limit`` (opt in with ``usefixtures``)
- ``simcord``   the simcord ``world`` and readers of what members see; fixtures ``world``, ``simcord_bot``,
                ``started_bots``
- ``builders``  changing the world: members, reactions, proposals, restarts (no fixtures)
"""
