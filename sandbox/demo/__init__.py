"""The offline demo: ``make demo`` (browser) and ``make demo SCRIPT=1`` (headless story with a transcript).

Both start the Chastify stand-in with one demo lock (DEV token ``dev-token-demo``) and the real bot inside
simcord, with a throw-away database and key. Nothing leaves 127.0.0.1.
"""
