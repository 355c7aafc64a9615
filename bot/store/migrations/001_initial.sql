-- 001: initial schema. Times are epoch seconds (REAL). Discord ids are INTEGER (snowflakes fit in 64 bits).

-- Per-server settings. NULL in any column = use the config default.
CREATE TABLE guild_settings (
    guild_id                  INTEGER PRIMARY KEY,
    vote_channel_id           INTEGER,
    voter_role_id             INTEGER,
    window_seconds            INTEGER CHECK (window_seconds IS NULL OR window_seconds > 0),
    quorum                    INTEGER CHECK (quorum IS NULL OR quorum >= 1),
    majority                  REAL    CHECK (majority IS NULL OR (majority >= 0.5 AND majority < 1)),
    instant_pass              INTEGER CHECK (instant_pass IS NULL OR instant_pass >= 0),
    proposal_cooldown_seconds INTEGER CHECK (proposal_cooldown_seconds IS NULL OR proposal_cooldown_seconds >= 0),
    max_open_per_lock         INTEGER CHECK (max_open_per_lock IS NULL OR max_open_per_lock >= 1),
    min_account_age_days      INTEGER CHECK (min_account_age_days IS NULL OR min_account_age_days >= 0),
    allow_owner_vote          INTEGER CHECK (allow_owner_vote IS NULL OR allow_owner_vote IN (0, 1)),
    updated_at                REAL NOT NULL
);

-- One linked lock per (server, owner). The DEV token is stored encrypted (bot/vault.py).
CREATE TABLE links (
    id               INTEGER PRIMARY KEY,
    guild_id         INTEGER NOT NULL,
    owner_id         INTEGER NOT NULL,
    token_ciphertext BLOB    NOT NULL,
    lock_id          TEXT    NOT NULL CHECK (length(lock_id) = 24 AND lock_id NOT GLOB '*[^0-9a-fA-F]*'),
    role             TEXT    NOT NULL,
    title            TEXT,
    state            TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'ended', 'broken')),
    limits_json      TEXT,
    created_at       REAL    NOT NULL,
    updated_at       REAL    NOT NULL,
    UNIQUE (guild_id, owner_id)
);

-- Who may act on a link directly: a role or a member.
CREATE TABLE trust (
    link_id   INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL CHECK (kind IN ('role', 'member')),
    target_id INTEGER NOT NULL,
    PRIMARY KEY (link_id, kind, target_id)
) WITHOUT ROWID;

-- Votes: 'decision' (one action, pass/fail) or 'board' (running up/down time counter).
CREATE TABLE votes (
    id                  INTEGER PRIMARY KEY,
    guild_id            INTEGER NOT NULL,
    link_id             INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    kind                TEXT    NOT NULL CHECK (kind IN ('decision', 'board')),
    action_json         TEXT,
    proposer_id         INTEGER NOT NULL,
    channel_id          INTEGER NOT NULL,
    message_id          INTEGER UNIQUE,
    created_at          REAL    NOT NULL,
    deadline            REAL    NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'applying', 'passed', 'failed', 'cancelled', 'refused')),
    outcome_reason      TEXT,
    quorum              INTEGER NOT NULL CHECK (quorum >= 1),
    majority            REAL    NOT NULL CHECK (majority >= 0.5 AND majority < 1),
    instant_pass        INTEGER NOT NULL DEFAULT 0 CHECK (instant_pass >= 0),
    add_per_vote        INTEGER,
    remove_per_vote     INTEGER,
    last_flush_at       REAL,
    applied_net_seconds INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX votes_open_by_deadline ON votes (deadline) WHERE status = 'open';
CREATE INDEX votes_by_link_status ON votes (link_id, status);
CREATE INDEX votes_by_guild_status ON votes (guild_id, status);
CREATE INDEX votes_by_proposer ON votes (guild_id, proposer_id, created_at);

-- One ballot per (vote, voter); the latest choice wins. The primary key is also the "ballots by vote" index.
CREATE TABLE ballots (
    vote_id    INTEGER NOT NULL REFERENCES votes (id) ON DELETE CASCADE,
    voter_id   INTEGER NOT NULL,
    choice     INTEGER NOT NULL CHECK (choice IN (1, -1)),
    updated_at REAL    NOT NULL,
    PRIMARY KEY (vote_id, voter_id)
) WITHOUT ROWID;

-- Every change sent to Chastify is recorded here first, then sent once.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    link_id         INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    guild_id        INTEGER NOT NULL,
    source          TEXT    NOT NULL CHECK (source IN ('direct', 'vote', 'board')),
    source_id       INTEGER,
    actor_id        INTEGER,
    action_json     TEXT    NOT NULL,
    reason          TEXT,
    status          TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'done', 'failed', 'uncertain', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    error_code      TEXT,
    error_message   TEXT,
    created_at      REAL    NOT NULL,
    updated_at      REAL    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE
);
CREATE INDEX outbox_by_status ON outbox (status, id);
CREATE INDEX outbox_by_link ON outbox (link_id, created_at);

-- What happened, for owners and admins. No foreign key: history outlives an unlinked lock.
CREATE TABLE audit (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    link_id        INTEGER,
    actor_id       INTEGER,
    source         TEXT    NOT NULL,
    action_summary TEXT    NOT NULL,
    outcome        TEXT    NOT NULL,
    detail         TEXT,
    created_at     REAL    NOT NULL
);
CREATE INDEX audit_by_link ON audit (link_id, created_at);
CREATE INDEX audit_by_guild ON audit (guild_id, created_at);
