-- Values the whole deployment shares, made once by whichever instance comes first (inserted with
-- ON CONFLICT DO NOTHING, then read back): `payload_key`, the random key that signs button payloads.
CREATE TABLE meta (
    name text PRIMARY KEY,
    value bytea NOT NULL
);
