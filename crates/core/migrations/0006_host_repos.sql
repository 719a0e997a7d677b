-- The package repository a host's new apps install from, when the user chose
-- one for the host (`rdesk host repo`); without a row, Posit Package
-- Manager's snapshot of the day before an app's first deploy. An app keeps
-- the repository it was first deployed with (its image's label).
CREATE TABLE host_repos (
    host TEXT NOT NULL PRIMARY KEY REFERENCES hosts (name) ON DELETE CASCADE,
    repo TEXT NOT NULL
) STRICT;
