# syntax=docker/dockerfile:1
# The Chastify Discord bot. Build: docker build -t chastify-bot .
# Run:   docker run -d --restart unless-stopped -e DISCORD_TOKEN=... -v botdata:/data chastify-bot
# The SQLite database and the token key file live in the /data volume: back up /data/bot.key.
# The bot runs as uid 10001: a bind mount instead of a named volume must be writable by it
# (e.g. mkdir data && sudo chown 10001:10001 data && docker run ... -v "$PWD/data:/data" ...).
# A config file is optional (env vars are enough): mount it at /app/config.toml.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: install the bot and its dependencies into a virtualenv --------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# only what the package needs (see .dockerignore): no tests, no sandbox, no local config or data
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-cache-dir . \
    && python -c "import bot.app, cogs.votes" \
    && find /opt/venv -name '__pycache__' -prune -exec rm -rf {} +

# ---- runtime: the virtualenv only, as an unprivileged user ---------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CHASTIFY_BOT_STORAGE__DATABASE_PATH=/data/bot.db
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin bot \
    && mkdir -p /data \
    && chown bot:bot /data \
    && chmod 0700 /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
# config, database and key file, without contacting Chastify; exits 1 with the problem printed when unhealthy
HEALTHCHECK --interval=60s --timeout=20s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot", "check", "--offline"]
# SIGTERM (docker stop) closes the bot cleanly
STOPSIGNAL SIGTERM
CMD ["python", "-m", "bot", "run"]
