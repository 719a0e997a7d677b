-- The workers of a cluster (issue 16): a cluster is the host the user added
-- for its manager; each worker is a host of its own (its SSH target and
-- pinned key), joined to it here. A host is a worker of at most one cluster,
-- and never a cluster itself (the desk checks that).
CREATE TABLE cluster_nodes (
    cluster   TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    node      TEXT    NOT NULL PRIMARY KEY REFERENCES hosts (name) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL, -- unix ms
    CHECK (cluster <> node)
) STRICT;
