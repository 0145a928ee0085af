-- A web chat's conversation: what its page shows, so that a reload, another instance or the next
-- day shows it again. Numbers increase within a chat (the page resumes after the last it showed);
-- the newest 200 lines of a chat are kept, and lines as old as idle dialogues are swept.
CREATE TABLE web_log (
    chat text NOT NULL,
    seq bigint NOT NULL,
    at timestamptz NOT NULL,
    data jsonb NOT NULL,
    PRIMARY KEY (chat, seq)
);
CREATE INDEX web_log_at ON web_log (at);

-- The last number given in each web chat: kept when `/forget` erases the lines (a page may still
-- hold a number, and the next line must come after it), swept with idle dialogues (the page's
-- session token has expired by then). Its row lock makes a chat's writers take turns.
CREATE TABLE web_seq (
    chat text PRIMARY KEY,
    last bigint,
    at timestamptz NOT NULL
);
