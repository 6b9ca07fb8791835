-- Trust relationships for the OIDC exchange, and the CI run each build came from.

CREATE TABLE trust_relationships (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  issuer text NOT NULL,
  -- Matched by id only: a renamed or re-registered owner has a new id and never matches.
  owner_id text NOT NULL CHECK (owner_id <> ''),
  owner_name text,
  repository_id text,
  repository_name text,
  refs text[] NOT NULL DEFAULT '{}',
  cache_write_refs text[] NOT NULL,
  environments text[],
  workflow_refs text[],
  events text[],
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trust_relationships_owner ON trust_relationships (issuer, owner_id);
CREATE INDEX trust_relationships_account ON trust_relationships (account_id);

ALTER TABLE builds
  ADD COLUMN repository text,
  ADD COLUMN ref text,
  ADD COLUMN workflow text,
  ADD COLUMN run text,
  -- False for a credential whose ref may not write the warm cache: the build runs cold.
  ADD COLUMN cache_write boolean NOT NULL DEFAULT true;
