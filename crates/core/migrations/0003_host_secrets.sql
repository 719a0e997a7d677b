-- Which kinds of secret the OS keyring holds for a host (an SSH password, a
-- key passphrase): only the fact, never the secret. It tells the host module
-- to let ssh ask rdesk-askpass, and tells `rdesk host rm` what to delete from
-- the keyring.
CREATE TABLE host_secrets (
    host     TEXT    NOT NULL REFERENCES hosts (name) ON DELETE CASCADE,
    kind     TEXT    NOT NULL CHECK (kind IN ('ssh-password', 'key-passphrase')),
    saved_at INTEGER NOT NULL, -- unix ms
    PRIMARY KEY (host, kind)
) STRICT;
