-- 012: the owner's 24 h budget is read as one indexed sum, not recomputed by reading every entry's action.
-- time_added: the seconds an entry adds to its lock's timer (0 for anything else), stored when it is recorded.
-- Entries recorded before this migration get it from their action here, once.
ALTER TABLE outbox ADD COLUMN time_added INTEGER NOT NULL DEFAULT 0 CHECK (time_added >= 0);
UPDATE outbox SET time_added = MAX(0, CAST(json_extract(action_json, '$.action.seconds') AS INTEGER))
 WHERE json_valid(action_json) AND json_extract(action_json, '$.action.kind') = 'add_time'
   AND json_extract(action_json, '$.action.seconds') IS NOT NULL;
