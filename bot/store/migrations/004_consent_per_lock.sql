-- 004: consent belongs to the Chastify lock, not to a link. One lock is reached from several servers and links
-- (the wearer's token in one server, the keyholder's in another): its pause, its limits and its 24 h budget are
-- now keyed by the pinned lock id, so no second server, link, relink or restart opens a side door.

-- The safeword. One row per person who paused the lock (their Discord id); the lock is paused while any row
-- stands, and only that person's `/chastify resume` removes their row. Unlink, relink and restarts never touch it.
CREATE TABLE lock_pauses (
    lock_id    TEXT    NOT NULL CHECK (length(lock_id) = 24),
    user_id    INTEGER NOT NULL,
    guild_id   INTEGER,
    created_at REAL    NOT NULL,
    PRIMARY KEY (lock_id, user_id)
) WITHOUT ROWID;

-- The owner limits. One row per person (wearer or keyholder) who set limits on the lock, holding only the
-- fields they set; for each field the strictest value across the rows applies (config defaults where nobody set
-- one). Rows carried over from links keep their link id in `origin_link_id` so two links of one person merge
-- strictly too; a person's next change replaces all of their rows.
CREATE TABLE lock_limits (
    id             INTEGER PRIMARY KEY,
    lock_id        TEXT    NOT NULL CHECK (length(lock_id) = 24),
    setter_id      INTEGER NOT NULL,
    limits_json    TEXT    NOT NULL,
    origin_link_id INTEGER,
    updated_at     REAL    NOT NULL
);
CREATE INDEX lock_limits_by_lock ON lock_limits (lock_id, setter_id);

-- Carry over: a lock any of whose links was paused is paused, by that link's owner. A link's own 'paused'
-- state now means only "this server's link is held" (its owner left the server).
INSERT OR IGNORE INTO lock_pauses (lock_id, user_id, guild_id, created_at)
    SELECT lock_id, owner_id, guild_id, updated_at FROM links WHERE state = 'paused';
UPDATE links SET state = 'active' WHERE state = 'paused';

INSERT INTO lock_limits (lock_id, setter_id, limits_json, origin_link_id, updated_at)
    SELECT lock_id, owner_id, limits_json, id, updated_at FROM links WHERE limits_json IS NOT NULL;
ALTER TABLE links DROP COLUMN limits_json;

-- The outbox keeps its rows when a link is removed (they are the lock's 24 h budget): the link reference
-- becomes NULL instead of deleting them, and every row names its lock.
CREATE TABLE outbox_new (
    id              INTEGER PRIMARY KEY,
    link_id         INTEGER REFERENCES links (id) ON DELETE SET NULL,
    lock_id         TEXT    NOT NULL,
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
    idempotency_key TEXT    NOT NULL UNIQUE,
    log_state       TEXT
                    CHECK (log_state IS NULL OR log_state IN ('pending', 'sending', 'written', 'failed', 'unknown'))
);
INSERT INTO outbox_new (id, link_id, lock_id, guild_id, source, source_id, actor_id, action_json, reason, status,
                        attempts, error_code, error_message, created_at, updated_at, idempotency_key, log_state)
    SELECT o.id, o.link_id, l.lock_id, o.guild_id, o.source, o.source_id, o.actor_id, o.action_json, o.reason,
           o.status, o.attempts, o.error_code, o.error_message, o.created_at, o.updated_at, o.idempotency_key,
           o.log_state
    FROM outbox o JOIN links l ON l.id = o.link_id;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_by_status ON outbox (status, id);
CREATE INDEX outbox_by_link ON outbox (link_id, created_at);
CREATE INDEX outbox_by_lock ON outbox (lock_id, updated_at);

-- Which links share a lock, and how many of the lock's votes are open.
CREATE INDEX links_by_lock ON links (lock_id);
