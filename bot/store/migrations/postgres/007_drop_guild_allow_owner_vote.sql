-- 007 (PostgreSQL): whether the owner's own reactions count is the owner's choice (their limits, `owner_votes`),
-- never a server setting: the per-server column nothing read goes (its CHECK goes with it).
ALTER TABLE guild_settings DROP COLUMN allow_owner_vote;
