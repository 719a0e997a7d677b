-- no-transaction
-- Metrics per cluster node (issue 16, rdesk_core::store::metrics): a series
-- is an app's whole use (`node` '') or, on a cluster, the use of its
-- containers on one node. `metric_series` gains `node`, and its key becomes
-- (host, slug, node); its ids stay, so the samples, roll-ups and limits that
-- name them are kept as they are.
--
-- SQLite changes a table's constraints only by making it anew. The tables
-- of samples refer to `metric_series`, so foreign keys are off while it is
-- replaced (else dropping it would delete every sample); that needs no
-- transaction around the migration, so it has its own.
--
-- Never edit this file once applied: add a new numbered migration instead.

PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

CREATE TABLE metric_series_by_node (
    id   INTEGER NOT NULL PRIMARY KEY,
    host TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    slug TEXT    NOT NULL,
    -- '' for the app's whole use; a cluster node's host name otherwise.
    node TEXT    NOT NULL DEFAULT '',
    UNIQUE (host, slug, node)
) STRICT;

INSERT INTO metric_series_by_node (id, host, slug, node)
    SELECT id, host, slug, '' FROM metric_series;

DROP TABLE metric_series;
ALTER TABLE metric_series_by_node RENAME TO metric_series;

COMMIT;
PRAGMA foreign_keys = ON;
