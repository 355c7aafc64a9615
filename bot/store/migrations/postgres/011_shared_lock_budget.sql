-- 011: Chastify's per-minute action budget of a lock, shared by every bot process (shards) that acts on it.
-- One row per slot taken (an action and its custom log take two), kept for a minute; a process reserves slots
-- in one transaction, under an advisory lock per lock, before it claims an entry.
CREATE TABLE lock_sends (
    lock_id TEXT NOT NULL,
    at      DOUBLE PRECISION NOT NULL
);
CREATE INDEX lock_sends_by_lock ON lock_sends (lock_id, at);
