-- What BuildKit's build history said of a build's solves (steps, cached steps, the slowest steps,
-- errors), read from its builder when the build ended. Null until then, and for builds that never
-- had a builder.

ALTER TABLE builds ADD COLUMN insights jsonb;
