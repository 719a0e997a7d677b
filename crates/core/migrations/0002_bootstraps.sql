-- What each bootstrap of a host did and when: local history, like deployments.
-- `steps` is the JSON list of step events (name, state, duration, output tail);
-- bootstrap output carries no secrets.
CREATE TABLE bootstraps (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    host        TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    started_at  INTEGER NOT NULL, -- unix ms
    duration_ms INTEGER NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('ok', 'failed')),
    message     TEXT,
    steps       TEXT    NOT NULL
) STRICT;

CREATE INDEX bootstraps_by_host ON bootstraps (host, started_at DESC, id DESC);
