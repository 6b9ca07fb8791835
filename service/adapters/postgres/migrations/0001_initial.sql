-- Accounts, their agent tokens, and the history of their builds.

CREATE TABLE accounts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  handle text NOT NULL UNIQUE CHECK (handle ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  plan text NOT NULL,
  features text[] NOT NULL DEFAULT '{}',
  concurrency_limit integer NOT NULL CHECK (concurrency_limit > 0),
  monthly_build_minutes integer NOT NULL CHECK (monthly_build_minutes >= 0),
  cache_volume_gib integer NOT NULL CHECK (cache_volume_gib > 0),
  allowed_shapes text[] NOT NULL,
  profiles jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Only a hash of each token is kept; the token itself is shown once, when it is minted.
CREATE TABLE agent_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash bytea NOT NULL UNIQUE,
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX agent_tokens_account ON agent_tokens (account_id);

CREATE TABLE builds (
  id uuid PRIMARY KEY,
  account_id uuid NOT NULL REFERENCES accounts (id),
  token_id uuid REFERENCES agent_tokens (id),
  shape text NOT NULL,
  profile text,
  state text NOT NULL CHECK (state IN ('queued', 'pending', 'ready', 'building', 'completed', 'failed', 'expired', 'reaped')),
  cache_request text NOT NULL CHECK (cache_request IN ('wait', 'cold')),
  cache_volume text NOT NULL,
  cache_mode text CHECK (cache_mode IN ('persistent', 'cold')),
  cache_reason text,
  labels jsonb NOT NULL DEFAULT '{}',
  builder_id text,
  endpoint text,
  claim_fence bigint,
  volume_fence bigint,
  created_at timestamptz NOT NULL,
  started_at timestamptz,
  ready_at timestamptz,
  ended_at timestamptz,
  last_activity_at timestamptz,
  deadline_at timestamptz NOT NULL,
  wait_deadline_at timestamptz,
  end_reason text,
  result text CHECK (result IN ('success', 'failure', 'cancelled'))
);
CREATE INDEX builds_account_created ON builds (account_id, created_at DESC);
CREATE INDEX builds_unfinished ON builds (created_at) WHERE state IN ('queued', 'pending', 'ready', 'building');
CREATE INDEX builds_account_ready ON builds (account_id, ready_at) WHERE ready_at IS NOT NULL;
