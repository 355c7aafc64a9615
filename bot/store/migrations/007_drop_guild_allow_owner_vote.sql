-- 007: whether the owner's own reactions count is the owner's choice (their limits, `owner_votes`), never a
-- server setting: the per-server column nothing read goes.
ALTER TABLE guild_settings DROP COLUMN allow_owner_vote;
