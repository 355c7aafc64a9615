-- 006 (PostgreSQL): the people of a lock. Everyone who proved with their own DEV token that they hold a lock (its
-- wearer or its keyholder), whether their link was kept, refused (the lock was already linked in that server by the
-- other) or removed since. They are who may say the safeword on the lock, and whose limits count: a person who never
-- chose a limit stands for the config default, so one person alone can never loosen the lock's limits past the
-- defaults.
CREATE TABLE lock_people (
    lock_id    TEXT   NOT NULL CHECK (length(lock_id) = 24),
    user_id    BIGINT NOT NULL,
    role       TEXT   NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (lock_id, user_id)
);
CREATE INDEX lock_people_by_user ON lock_people (user_id);

-- SQLite's `SELECT lock_id, owner_id, role, MIN(created_at) ... GROUP BY lock_id, owner_id` takes `role` from the
-- row holding the minimum: DISTINCT ON ... ORDER BY created_at does the same here (ties: the lowest link id).
INSERT INTO lock_people (lock_id, user_id, role, created_at)
    SELECT DISTINCT ON (lock_id, owner_id) lock_id, owner_id, role, created_at
    FROM links ORDER BY lock_id, owner_id, created_at, id
    ON CONFLICT DO NOTHING;
INSERT INTO lock_people (lock_id, user_id, role, created_at)
    SELECT lock_id, setter_id, 'unknown', MIN(updated_at) FROM lock_limits GROUP BY lock_id, setter_id
    ON CONFLICT DO NOTHING;
INSERT INTO lock_people (lock_id, user_id, role, created_at)
    SELECT lock_id, user_id, 'unknown', MIN(created_at) FROM lock_pauses GROUP BY lock_id, user_id
    ON CONFLICT DO NOTHING;
