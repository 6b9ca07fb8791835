-- Per-build client certificates and the bytes the broker carried.
ALTER TABLE builds
  ADD COLUMN client_certificate text,
  ADD COLUMN bytes_in bigint NOT NULL DEFAULT 0,
  ADD COLUMN bytes_out bigint NOT NULL DEFAULT 0;
