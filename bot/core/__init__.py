"""The core's parts (linking, the people who hold a lock, acting, history), joined by ``bot.services.Core``."""
