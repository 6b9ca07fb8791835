-- Which placement served each build: the account's idle builder, a warm pool builder, or a cold start.
ALTER TABLE builds ADD COLUMN tier text CHECK (tier IN ('idle', 'warm', 'cold'));
