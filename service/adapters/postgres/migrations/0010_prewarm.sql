-- Pre-warming (issue 18). A build's CI repository as one key (issuer and repository id), so a
-- job-queued hook for that repository finds the account's history of it; and whether the idle
-- builder the build took was started ahead of it, on such a hook.

ALTER TABLE builds ADD COLUMN repository_key text;
ALTER TABLE builds ADD COLUMN prewarmed boolean NOT NULL DEFAULT false;
CREATE INDEX builds_repository_history ON builds (account_id, repository_key, created_at DESC)
  WHERE repository_key IS NOT NULL;
