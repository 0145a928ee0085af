-- What `/forget` changes besides a chat's own rows, found by an index rather than by reading every
-- row (a chat could otherwise make each instance read every order, watch and ticket):
-- * the orders a chat owns (`owners`, an array of chat keys: `?`),
-- * the watches it waits on (`watchers`, an array of objects with `chat`: `@>`),
-- * the aliases that stand for it, and its notices in the outbox (ids start with the chat's key).
-- Building an index covers the rows already there: nothing to backfill. On a large store each
-- statement holds off writes to its table while it builds (about a second per 200,000 orders).
CREATE INDEX orders_owners ON orders USING gin ((data->'data'->'owners'));
CREATE INDEX watches_watchers ON watches USING gin ((data->'data'->'watchers') jsonb_path_ops);
CREATE INDEX aliases_by_chat ON aliases (chat);
CREATE INDEX outbox_by_id ON outbox (id COLLATE "C");

-- The orders that had owners when the retention sweep removed them: seen again, such an order is
-- nobody's to take (the chat that looks it up proves the recipient's digits). An order number and
-- when, nothing else; the mark goes when the order is seen again.
CREATE TABLE swept_owned (
    order_no text PRIMARY KEY,
    swept_at timestamptz NOT NULL
);
