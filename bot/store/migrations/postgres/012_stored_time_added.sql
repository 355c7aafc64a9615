-- 012: the owner's 24 h budget is read as one indexed sum, not recomputed by reading every entry's action.
-- time_added: the seconds an entry adds to its lock's timer (0 for anything else), stored when it is recorded.
-- Entries recorded before this migration get it from their action here, once.
ALTER TABLE outbox ADD COLUMN time_added BIGINT NOT NULL DEFAULT 0 CHECK (time_added >= 0);
UPDATE outbox SET time_added = GREATEST(0, (action_json::jsonb #>> '{action,seconds}')::BIGINT)
 WHERE action_json::jsonb #>> '{action,kind}' = 'add_time'
   AND action_json::jsonb #>> '{action,seconds}' IS NOT NULL;
