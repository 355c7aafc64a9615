-- 010: votes people ask for.
-- style: how members vote, 'reactions' (✅ ❌ / 🔼 🔽 / 1️⃣...) or 'buttons'; anonymous (buttons only): the tally is
-- public, who voted what is stored but never shown.
-- A new kind, 'wheel': 2 to 6 options (options_json), decided by `mode` ('plurality' or 'wheel') with a draw whose
-- seed is made when the vote opens: its SHA-256 (commitment) is shown while the vote is open, the seed itself only
-- once it closed. drawn_option: the winning option's number (1-based), once drawn.
-- schedule_id: the schedule that opened the vote, if any.
-- SQLite cannot change a CHECK in place: votes and ballots are rebuilt. The new ballots table references the new
-- votes table from the start, so no row ever points at a dropped table (foreign keys stay on during migrations).
-- Vote ids are now AUTOINCREMENT: a deleted vote's number is never given again, so an old message's buttons (their
-- ids name the vote) and the outbox key `vote:N` can never reach a newer vote.

CREATE TABLE vote_schedules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id      INTEGER NOT NULL,
    link_id       INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    lock_id       TEXT    NOT NULL CHECK (length(lock_id) = 24),  -- the lock it was made for: a relink to another
                                                                   -- lock never inherits it
    channel_id    INTEGER NOT NULL,
    creator_id    INTEGER NOT NULL,
    -- what it opens: kind, action or options, mode, window, style (bot.voting.schedules.Plan as JSON)
    plan_json     TEXT    NOT NULL CHECK (json_valid(plan_json)),
    rule          TEXT    NOT NULL CHECK (rule IN ('once', 'daily', 'weekly')),
    minute        INTEGER NOT NULL CHECK (minute >= 0 AND minute < 1440),
    weekday       INTEGER CHECK (weekday IS NULL OR (weekday >= 0 AND weekday <= 6)),
    once_date     TEXT,
    next_at       REAL,            -- the next opening (NULL: none left, a 'once' that happened)
    last_at       REAL,            -- the last opening that was due
    last_result   TEXT,            -- what became of it ("opened vote #12", "skipped: the lock is paused")
    created_at    REAL    NOT NULL,
    CHECK ((weekday IS NOT NULL) = (rule = 'weekly')),
    CHECK ((once_date IS NOT NULL) = (rule = 'once'))
);
CREATE INDEX vote_schedules_by_guild ON vote_schedules (guild_id, id);

CREATE TABLE votes_new (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER NOT NULL,
    link_id             INTEGER NOT NULL REFERENCES links (id) ON DELETE CASCADE,
    kind                TEXT    NOT NULL CHECK (kind IN ('decision', 'board', 'wheel')),
    action_json         TEXT,
    proposer_id         INTEGER NOT NULL,
    channel_id          INTEGER NOT NULL,
    message_id          INTEGER UNIQUE,
    created_at          REAL    NOT NULL,
    deadline            REAL    NOT NULL,
    status              TEXT    NOT NULL DEFAULT 'open'
                        CHECK (status IN ('open', 'applying', 'passed', 'failed', 'cancelled', 'refused')),
    outcome_reason      TEXT,
    quorum              INTEGER NOT NULL CHECK (quorum >= 1),
    majority            REAL    NOT NULL CHECK (majority >= 0.5 AND majority < 1),
    instant_pass        INTEGER NOT NULL DEFAULT 0 CHECK (instant_pass >= 0),
    add_per_vote        INTEGER,
    remove_per_vote     INTEGER,
    last_flush_at       REAL,
    applied_net_seconds INTEGER NOT NULL DEFAULT 0,
    apply_at            REAL,
    remind_at           REAL,
    reminded_at         REAL,
    style               TEXT    NOT NULL DEFAULT 'reactions' CHECK (style IN ('reactions', 'buttons')),
    anonymous           INTEGER NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1)),
    mode                TEXT    CHECK (mode IS NULL OR mode IN ('plurality', 'wheel')),
    options_json        TEXT,
    seed                TEXT,
    commitment          TEXT,
    drawn_option        INTEGER CHECK (drawn_option IS NULL OR (kind = 'wheel' AND drawn_option BETWEEN 1 AND 6)),
    schedule_id         INTEGER REFERENCES vote_schedules (id) ON DELETE SET NULL,
    CHECK (anonymous = 0 OR style = 'buttons'),
    CHECK (kind <> 'wheel' OR (options_json IS NOT NULL AND mode IS NOT NULL AND seed IS NOT NULL
                               AND commitment IS NOT NULL))
);
INSERT INTO votes_new (id, guild_id, link_id, kind, action_json, proposer_id, channel_id, message_id, created_at,
                       deadline, status, outcome_reason, quorum, majority, instant_pass, add_per_vote,
                       remove_per_vote, last_flush_at, applied_net_seconds, apply_at, remind_at, reminded_at)
    SELECT id, guild_id, link_id, kind, action_json, proposer_id, channel_id, message_id, created_at,
           deadline, status, outcome_reason, quorum, majority, instant_pass, add_per_vote,
           remove_per_vote, last_flush_at, applied_net_seconds, apply_at, remind_at, reminded_at
    FROM votes;

-- choice: 1 / -1 for a decision (✅ ❌) or a board (🔼 🔽); a wheel's option number 1 to 6
CREATE TABLE ballots_new (
    vote_id    INTEGER NOT NULL REFERENCES votes_new (id) ON DELETE CASCADE,
    voter_id   INTEGER NOT NULL,
    choice     INTEGER NOT NULL CHECK (choice IN (-1, 1, 2, 3, 4, 5, 6)),
    updated_at REAL    NOT NULL,
    PRIMARY KEY (vote_id, voter_id)
) WITHOUT ROWID;
INSERT INTO ballots_new (vote_id, voter_id, choice, updated_at)
    SELECT vote_id, voter_id, choice, updated_at FROM ballots;

DROP TABLE ballots;
DROP TABLE votes;
ALTER TABLE votes_new RENAME TO votes;
ALTER TABLE ballots_new RENAME TO ballots;
CREATE INDEX votes_open_by_deadline ON votes (deadline) WHERE status = 'open';
CREATE INDEX votes_by_link_status ON votes (link_id, status);
CREATE INDEX votes_by_guild_status ON votes (guild_id, status);
CREATE INDEX votes_by_proposer ON votes (guild_id, proposer_id, created_at);
CREATE INDEX votes_by_schedule ON votes (schedule_id) WHERE schedule_id IS NOT NULL;

-- A server's ballot style for new votes (NULL: the config's default) and the time zone its schedules run in
-- (an IANA name; NULL: UTC).
ALTER TABLE guild_settings ADD COLUMN ballot_style TEXT
    CHECK (ballot_style IS NULL OR ballot_style IN ('reactions', 'buttons'));
ALTER TABLE guild_settings ADD COLUMN time_zone TEXT;
