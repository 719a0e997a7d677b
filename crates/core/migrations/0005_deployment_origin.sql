-- Where a deployment's code came from when it came from git (issue 15): the
-- repository's URL without credentials, the branch, tag or commit asked for,
-- and the commit checked out. NULL for folders, archives and files.
ALTER TABLE deployments ADD COLUMN git_url TEXT;
ALTER TABLE deployments ADD COLUMN git_ref TEXT;
ALTER TABLE deployments ADD COLUMN git_commit TEXT;
