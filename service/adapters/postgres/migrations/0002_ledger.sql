-- The billing ledger: append-only, one row per build interval and per cache volume per hour.

CREATE TABLE cache_volumes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  account_id uuid NOT NULL REFERENCES accounts (id),
  name text NOT NULL,
  size_gib integer NOT NULL CHECK (size_gib > 0),
  created_at timestamptz NOT NULL,
  last_used_at timestamptz NOT NULL,
  deleted_at timestamptz
);
CREATE UNIQUE INDEX cache_volumes_live ON cache_volumes (account_id, name) WHERE deleted_at IS NULL;

CREATE TABLE ledger_entries (
  seq bigserial NOT NULL,
  -- The writing transaction's id: the export pages in (xid, seq) order and stops at the oldest
  -- transaction still running, so a page never skips a row that commits late.
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  idempotency_key text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('build', 'storage')),
  account_id uuid NOT NULL REFERENCES accounts (id),
  build_id uuid,
  shape text,
  volume_id uuid,
  started_at timestamptz NOT NULL,
  ended_at timestamptz NOT NULL CHECK (ended_at >= started_at),
  quantity numeric(16, 3) NOT NULL CHECK (quantity >= 0),
  unit text NOT NULL CHECK (unit IN ('seconds', 'gib-hours')),
  end_reason text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((kind = 'build') = (build_id IS NOT NULL AND shape IS NOT NULL AND unit = 'seconds')),
  CHECK ((kind = 'storage') = (volume_id IS NOT NULL AND unit = 'gib-hours'))
);
CREATE INDEX ledger_account_time ON ledger_entries (account_id, kind, ended_at) INCLUDE (started_at, shape, quantity);
CREATE INDEX ledger_export ON ledger_entries (xid, seq);
CREATE INDEX ledger_volume_hours ON ledger_entries (volume_id, started_at) WHERE kind = 'storage';

CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger_entries is append-only: % is not allowed', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER ledger_entries_no_update_or_delete BEFORE UPDATE OR DELETE ON ledger_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only();
CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only();

-- When the client was last heard from: a build whose client vanished is billed until then.
ALTER TABLE builds ADD COLUMN last_seen_at timestamptz;
