-- 008 (PostgreSQL): the wearer in the loop, on votes.
-- apply_at: a passed vote (or a board's final change) waits for the lock's veto window until then; NULL when the
-- lock has no veto window. It stays in status 'applying' while it waits, so a restart finds it.
-- remind_at: when the vote reminds before it closes (the server's setting when it was proposed; NULL: never);
-- reminded_at: when the reminder was posted (posted once, also across a restart).
ALTER TABLE votes ADD COLUMN apply_at DOUBLE PRECISION;
ALTER TABLE votes ADD COLUMN remind_at DOUBLE PRECISION;
ALTER TABLE votes ADD COLUMN reminded_at DOUBLE PRECISION;
-- A server's vote reminders: the share of the window before the close at which a vote reminds (NULL: the
-- config's default; 0: off), and the one role a reminder may mention (NULL: it mentions nobody).
ALTER TABLE guild_settings ADD COLUMN reminder_fraction DOUBLE PRECISION
    CHECK (reminder_fraction IS NULL OR (reminder_fraction >= 0 AND reminder_fraction < 1));
ALTER TABLE guild_settings ADD COLUMN reminder_role_id BIGINT;
