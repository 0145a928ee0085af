-- billbot's PostgreSQL schema, version 1. Each record's `data` is the same versioned JSON envelope
-- the sled backend stores ({"v": 1, "data": ...}); the other columns are what queries order or
-- filter by.

CREATE TABLE dialogue (
    chat text PRIMARY KEY,
    data jsonb NOT NULL
);

CREATE TABLE prefs (
    chat text PRIMARY KEY,
    data jsonb NOT NULL
);

CREATE TABLE orders (
    order_no text PRIMARY KEY,
    data jsonb NOT NULL
);

CREATE TABLE activity (
    chat text NOT NULL,
    item text NOT NULL,
    at timestamptz NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (chat, item)
);
CREATE INDEX activity_by_time ON activity (chat, at DESC);

CREATE TABLE saved (
    chat text NOT NULL,
    key text NOT NULL,
    saved_at timestamptz NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (chat, key)
);

CREATE TABLE watches (
    order_no text PRIMARY KEY,
    next_check_at timestamptz NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX watches_due ON watches (next_check_at);

CREATE TABLE seen (
    id text PRIMARY KEY,
    at timestamptz NOT NULL
);
CREATE INDEX seen_by_time ON seen (at);

CREATE TABLE inbox (
    id text PRIMARY KEY,
    data jsonb NOT NULL
);

CREATE TABLE held (
    id bigserial PRIMARY KEY,
    chat text NOT NULL,
    at timestamptz NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX held_by_chat ON held (chat, at, id);

CREATE TABLE aliases (
    alias text PRIMARY KEY,
    chat text NOT NULL
);
