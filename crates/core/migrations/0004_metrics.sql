-- Metrics of apps (rdesk_core::store::metrics): raw 5 s samples kept 24 h,
-- 1-minute roll-ups kept 7 days, 1-hour roll-ups kept 90 days.
--
-- Rows are kept small so 100 apps over 30 days stay under 100 MB: samples
-- name their app by a small integer, the memory limit is kept apart (it
-- rarely changes), times are unix seconds, CPU is in
-- hundredths of a percent of one core, memory in KiB, network in bytes and
-- requests in counts over the sample's interval (NULL when Traefik's
-- metrics could not be read).
--
-- Never edit this file once applied: add a new numbered migration instead.

CREATE TABLE metric_series (
    id   INTEGER NOT NULL PRIMARY KEY,
    host TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    slug TEXT    NOT NULL,
    UNIQUE (host, slug)
) STRICT;

CREATE TABLE samples_raw (
    series    INTEGER NOT NULL REFERENCES metric_series (id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    cpu       INTEGER NOT NULL,
    mem       INTEGER NOT NULL,
    rx        INTEGER NOT NULL,
    tx        INTEGER NOT NULL,
    req       INTEGER,
    PRIMARY KEY (series, at)
) STRICT, WITHOUT ROWID;

-- A roll-up bucket starts at `at`; `n` raw samples went into it; cpu and mem
-- are means, the _max columns the highest sample.
CREATE TABLE samples_1m (
    series    INTEGER NOT NULL REFERENCES metric_series (id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    cpu       INTEGER NOT NULL,
    cpu_max   INTEGER NOT NULL,
    mem       INTEGER NOT NULL,
    mem_max   INTEGER NOT NULL,
    rx        INTEGER NOT NULL,
    tx        INTEGER NOT NULL,
    req       INTEGER,
    n         INTEGER NOT NULL,
    PRIMARY KEY (series, at)
) STRICT, WITHOUT ROWID;

CREATE TABLE samples_1h (
    series    INTEGER NOT NULL REFERENCES metric_series (id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    cpu       INTEGER NOT NULL,
    cpu_max   INTEGER NOT NULL,
    mem       INTEGER NOT NULL,
    mem_max   INTEGER NOT NULL,
    rx        INTEGER NOT NULL,
    tx        INTEGER NOT NULL,
    req       INTEGER,
    n         INTEGER NOT NULL,
    PRIMARY KEY (series, at)
) STRICT, WITHOUT ROWID;

-- An app's memory limit (KiB) from `since` (unix seconds) on; a row only
-- when it changes, rather than a column in every sample.
CREATE TABLE metric_limits (
    series    INTEGER NOT NULL REFERENCES metric_series (id) ON DELETE CASCADE,
    since     INTEGER NOT NULL,
    mem_limit INTEGER NOT NULL,
    PRIMARY KEY (series, since)
) STRICT, WITHOUT ROWID;

-- Buckets of a resolution (60 or 3600 seconds) that start before
-- `done_until` (unix seconds) are rolled up and final.
CREATE TABLE metric_rollups (
    resolution INTEGER NOT NULL PRIMARY KEY,
    done_until INTEGER NOT NULL
) STRICT;
