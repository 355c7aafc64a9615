"""Thin Discord glue: slash commands, modals, reaction listeners and embeds. Every rule lives in ``bot/``."""
