-- The outbox: notices recorded with the change they announce, then sent, then marked done.
-- `next_at` is when a pending notice is due (NULL once done); done ones are kept a while (their id
-- stops the same notice being recorded again), then swept by `done_at`.
CREATE TABLE outbox (
    id text PRIMARY KEY,
    data jsonb NOT NULL,
    next_at timestamptz,
    done_at timestamptz
);
CREATE INDEX outbox_due ON outbox (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX outbox_done ON outbox (done_at) WHERE done_at IS NOT NULL;
