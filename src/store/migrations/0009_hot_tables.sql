-- The tables every step writes, made cheap to write:
-- * `chat_locks` holds only leases, which run out on their own within seconds: it is UNLOGGED, so
--   taking, renewing and ending a lease writes no WAL and waits for no flush. After a crash (or a
--   failover to a standby) the table is empty: every lease has ended, which is what a lease of a
--   dead process does anyway, and a step that had one finds it lost and writes nothing.
-- * The rows rewritten at every step leave room on their page for the new version (a HOT update:
--   no index entry to add).
ALTER TABLE chat_locks SET UNLOGGED;
ALTER TABLE chat_locks SET (fillfactor = 50);
ALTER TABLE dialogue SET (fillfactor = 80);
ALTER TABLE prefs SET (fillfactor = 80);
