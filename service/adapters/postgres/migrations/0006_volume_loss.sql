-- A volume lost with its node, or evicted, is told to the account's next build.
ALTER TABLE cache_volumes ADD COLUMN retired_reason text;
ALTER TABLE cache_volumes ADD COLUMN lost_note text;
