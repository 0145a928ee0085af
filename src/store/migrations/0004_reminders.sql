-- Reminders of bills' due dates: one per chat and reference (`key` is `biller:reference`), due at
-- `next_at` (the schedule the reminder job claims from, as the tracker does from `watches`).
CREATE TABLE reminders (
    chat text NOT NULL,
    key text NOT NULL,
    next_at timestamptz NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (chat, key)
);
CREATE INDEX reminders_due ON reminders (next_at);
