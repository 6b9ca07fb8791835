-- Any change that can take rights from an agent token (its revocation, its account's plan, flags
-- or limits) NOTIFYs at commit, whoever made it: every replica's cache of authenticated tokens
-- forgets what it holds at once (adapters/postgres/auth-changes.ts). Touching last_used_at does not.

CREATE FUNCTION notify_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('remote_builder_auth_changed', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER agent_tokens_auth_changed
  AFTER UPDATE OF token_hash, account_id, revoked_at OR DELETE OR TRUNCATE ON agent_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_changed();

CREATE TRIGGER accounts_auth_changed
  AFTER UPDATE OR DELETE OR TRUNCATE ON accounts
  FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_changed();
