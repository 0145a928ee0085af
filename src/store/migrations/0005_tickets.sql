-- Customers' requests to talk to a person (`Ticket`), by their short id; `chat` finds a chat's
-- latest one (the highest `opened_at`).
CREATE TABLE tickets (
    id text PRIMARY KEY,
    chat text NOT NULL,
    opened_at timestamptz NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX tickets_by_chat ON tickets (chat, opened_at DESC);
