-- Hook installations: which CI owner may announce queued jobs. No secret is stored: each
-- installation's secret is HMAC-SHA256(RB_HOOK_SECRET_KEY, id), so a dump of this table yields
-- none, and deleting a row revokes its secret.

CREATE TABLE hook_installations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  provider text NOT NULL CHECK (provider IN ('github', 'gitlab', 'buildkite')),
  -- The issuer name trust relationships use for this CI (RB_OIDC_ISSUERS).
  issuer text NOT NULL,
  -- Matched by id only, as trust relationships are.
  owner_id text NOT NULL CHECK (owner_id <> ''),
  owner_name text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hook_installations_owner ON hook_installations (provider, owner_id);
