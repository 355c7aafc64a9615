"""Core of the Chastify Discord bot. Nothing in this package imports discord except the entry points
(`bot.app`, `bot.__main__`)."""

__version__ = "0.1.0"
