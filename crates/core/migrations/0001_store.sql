-- The local cache and history of Rserve Desk (rdesk_core::store).
--
-- The VPS is the source of truth: `apps` is a cache that can be rebuilt from
-- container labels; `deployments` and `status_events` are local history.
-- No secrets here, ever: passwords and key passphrases live in the OS keyring.
--
-- Never edit this file once applied: add a new numbered migration instead.

CREATE TABLE hosts (
    name          TEXT    NOT NULL PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('ssh', 'local')),
    -- user@host:port or an ~/.ssh/config alias; NULL for a local host.
    ssh_target    TEXT,
    -- a path to a private key file, never the key itself.
    identity_file TEXT,
    public_url    TEXT    NOT NULL,
    added_at      INTEGER NOT NULL -- unix ms
) STRICT;

-- The pinned SSH host key of a host, as one OpenSSH known_hosts line.
CREATE TABLE host_keys (
    host      TEXT    NOT NULL PRIMARY KEY REFERENCES hosts (name) ON DELETE CASCADE,
    key_line  TEXT    NOT NULL,
    pinned_at INTEGER NOT NULL -- unix ms
) STRICT;

CREATE TABLE apps (
    host         TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    slug         TEXT    NOT NULL,
    app_id       TEXT    NOT NULL,
    r_version    TEXT    NOT NULL,
    mode         TEXT    NOT NULL,
    packages     TEXT    NOT NULL, -- JSON array of package names
    repo         TEXT,
    code_hash    TEXT    NOT NULL,
    config_hash  TEXT    NOT NULL,
    image_id     TEXT,
    container_id TEXT,
    status       TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL, -- unix ms
    PRIMARY KEY (host, slug)
) STRICT;

-- No reference to apps: removing an app keeps its history.
CREATE TABLE deployments (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    host        TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    slug        TEXT    NOT NULL,
    app_id      TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    code_hash   TEXT    NOT NULL,
    image_id    TEXT,
    outcome     TEXT    NOT NULL,
    message     TEXT,
    started_at  INTEGER NOT NULL, -- unix ms
    duration_ms INTEGER NOT NULL
) STRICT;

CREATE INDEX deployments_by_app ON deployments (host, slug, started_at DESC, id DESC);

CREATE TABLE status_events (
    id     INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    host   TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    slug   TEXT    NOT NULL,
    at     INTEGER NOT NULL, -- unix ms
    status TEXT    NOT NULL,
    detail TEXT
) STRICT;

CREATE INDEX status_events_by_app ON status_events (host, slug, id DESC);
