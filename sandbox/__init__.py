"""Offline tools: the local Chastify stand-in (``sandbox.chastify``) and the demo."""
