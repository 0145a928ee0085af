-- A chat's inbound messages are handled in the channel's order, whichever instance takes them:
-- `chat` files a message under its chat, `seq` is the channel's order (Telegram's update_id,
-- WhatsApp's timestamp in seconds) and `arrival` breaks ties in the order messages came in.
-- Messages taken in before this (no chat) keep NULL and are never found by chat.
ALTER TABLE inbox
    ADD COLUMN chat text,
    ADD COLUMN seq bigint NOT NULL DEFAULT 0,
    ADD COLUMN arrival bigserial,
    ADD COLUMN received_at timestamptz NOT NULL DEFAULT now();
-- Older messages were received when their id was first seen.
UPDATE inbox SET received_at = seen.at FROM seen WHERE seen.id = inbox.id;
-- A chat's next message (the lowest seq, then arrival), and chats whose messages wait too long.
CREATE INDEX inbox_by_chat ON inbox (chat, seq, arrival) WHERE chat IS NOT NULL;
CREATE INDEX inbox_by_time ON inbox (received_at) WHERE chat IS NOT NULL;

-- A claimed notice names its sender (`claimed_by`) until it is done or due again: a sender whose
-- claim was taken over cannot mark it, and one chat's notices go out through one sender at a
-- time (`chat`, copied from the record, finds the chat's other notices).
ALTER TABLE outbox
    ADD COLUMN chat text,
    ADD COLUMN claimed_by text;
UPDATE outbox SET chat = data->'data'->>'chat';
CREATE INDEX outbox_by_chat ON outbox (chat);
