-- 005 (PostgreSQL): a refused proposal starts the proposer's cooldown too, and refusals never crowd actions out of
-- the history.

-- The last time a member's proposal was refused in a server (after the cooldown check: a paused lock, the voter
-- role, the window, the open-vote cap, the owner's limits). One row per member and server; the proposal cooldown
-- runs from the later of this and the member's last posted vote. A cooldown refusal itself is not recorded here,
-- so trying again early never pushes the wait further out.
CREATE TABLE proposal_attempts (
    guild_id    BIGINT NOT NULL,
    proposer_id BIGINT NOT NULL,
    refused_at  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, proposer_id)
);

-- `/chastify history` reads a link's refusals apart from its other lines.
CREATE INDEX audit_by_link_outcome ON audit (link_id, outcome, created_at);
