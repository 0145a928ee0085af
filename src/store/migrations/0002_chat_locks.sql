-- Per-chat leases: one instance at a time handles a chat's step. A lease expires on its own, so a
-- crashed instance holds a chat only until `until`.
CREATE TABLE chat_locks (
    chat text PRIMARY KEY,
    holder text NOT NULL,
    until timestamptz NOT NULL
);
