-- 003 (PostgreSQL): the custom log written on the lock after an action is applied gets its own small state, so a
-- crash between "applied" and "logged" neither loses the log nor writes it twice.
-- NULL: no log for this entry (not applied). pending: to write. sending: on the wire (a crash here leaves it
-- unknown: never re-sent). written | failed | unknown: final.
ALTER TABLE outbox ADD COLUMN log_state TEXT
    CHECK (log_state IS NULL OR log_state IN ('pending', 'sending', 'written', 'failed', 'unknown'));
