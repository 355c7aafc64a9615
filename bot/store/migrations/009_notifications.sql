-- 009: notifications to the people who hold a lock (bot/notify.py).
-- One row per person and lock once they chose something with `/chastify notify` (no row: the defaults, DMs on,
-- Chastify off, no quiet hours). quiet_start / quiet_end are minutes after midnight in `timezone` (an IANA name);
-- both NULL: no quiet hours. dm_failed_at: the last DM could not be delivered (DMs closed); DMs about this lock
-- wait until the person runs `/chastify notify` again. chastify_sent_at: when their last Chastify notification
-- about this lock was sent (at most one per batch period).
CREATE TABLE notify_prefs (
    lock_id          TEXT    NOT NULL CHECK (length(lock_id) = 24),
    user_id          INTEGER NOT NULL,
    dm               INTEGER NOT NULL DEFAULT 1 CHECK (dm IN (0, 1)),
    chastify         TEXT    NOT NULL DEFAULT 'off' CHECK (chastify IN ('off', 'wearer', 'keyholder', 'both')),
    quiet_start      INTEGER CHECK (quiet_start IS NULL OR (quiet_start >= 0 AND quiet_start < 1440)),
    quiet_end        INTEGER CHECK (quiet_end IS NULL OR (quiet_end >= 0 AND quiet_end < 1440)),
    timezone         TEXT,
    dm_failed_at     REAL,
    chastify_sent_at REAL,
    updated_at       REAL    NOT NULL,
    PRIMARY KEY (lock_id, user_id),
    CHECK ((quiet_start IS NULL) = (quiet_end IS NULL))
) WITHOUT ROWID;

-- News held for one person: non-urgent DMs during their quiet hours (one digest when they end) and everything
-- waiting for their next Chastify notification (one per batch). Kept here so a restart loses none of it.
CREATE TABLE notify_pending (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    lock_id    TEXT    NOT NULL CHECK (length(lock_id) = 24),
    user_id    INTEGER NOT NULL,
    channel    TEXT    NOT NULL CHECK (channel IN ('dm', 'chastify')),
    guild_id   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    text       TEXT    NOT NULL,
    url        TEXT,
    urgent     INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    created_at REAL    NOT NULL
);
CREATE INDEX notify_pending_by_person ON notify_pending (lock_id, user_id, channel, id);
