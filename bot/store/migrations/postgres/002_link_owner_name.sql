-- 002 (PostgreSQL): the owner's display name when they linked, so lock pickers read "lock title — owner" without
-- the privileged members intent.
ALTER TABLE links ADD COLUMN owner_name TEXT;
