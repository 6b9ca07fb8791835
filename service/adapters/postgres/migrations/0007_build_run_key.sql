-- The CI run an exchanged credential stands for, as one key (issuer, owner, repository id, run):
-- such a credential sees and acts on only the builds that carry its key. Null for agent tokens.

ALTER TABLE builds ADD COLUMN run_key text;
CREATE INDEX builds_run_key ON builds (account_id, run_key, created_at DESC) WHERE run_key IS NOT NULL;
