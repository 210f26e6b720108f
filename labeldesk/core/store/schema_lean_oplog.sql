-- The lean op log (DB-1): what one edit writes to the WAL, 11.4 pages -> fewer, every rule kept.
-- * ops without AUTOINCREMENT: rowids are already max + 1 (rows are never deleted: the
--   ops_no_delete trigger), so local_order stays monotonic; the sqlite_sequence row it rewrote
--   on every insert (one WAL page per edit) goes.
-- * outbox WITHOUT ROWID: the op id is the row's key (one b-tree, not a table and its key index).
-- Same columns, constraints, indexes and triggers; the rows are copied in local order.
CREATE TABLE outbox_keep (op_id TEXT PRIMARY KEY) WITHOUT ROWID;
INSERT INTO outbox_keep (op_id) SELECT op_id FROM outbox;
DROP TABLE outbox;
CREATE TABLE ops_lean (
  local_order INTEGER PRIMARY KEY,
  op_id      TEXT NOT NULL UNIQUE,
  dev        TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  hlc_ms     INTEGER NOT NULL,
  hlc_ctr    INTEGER NOT NULL,
  wall       TEXT NOT NULL,
  user       TEXT,
  type       TEXT NOT NULL,
  entity     TEXT,
  base       TEXT NOT NULL DEFAULT '[]',
  payload    TEXT NOT NULL,
  reason     TEXT,
  op_hash    TEXT NOT NULL,
  chain_hash TEXT NOT NULL,
  UNIQUE (dev, seq)
);
INSERT INTO ops_lean (local_order, op_id, dev, seq, hlc_ms, hlc_ctr, wall, user, type, entity, base, payload,
                      reason, op_hash, chain_hash)
  SELECT local_order, op_id, dev, seq, hlc_ms, hlc_ctr, wall, user, type, entity, base, payload,
         reason, op_hash, chain_hash FROM ops ORDER BY local_order;
DROP TABLE ops;
ALTER TABLE ops_lean RENAME TO ops;
CREATE INDEX ops_by_entity ON ops(entity);
CREATE INDEX ops_by_type ON ops(type, local_order);
CREATE TRIGGER ops_no_update BEFORE UPDATE ON ops
  BEGIN SELECT RAISE(ABORT, 'the op log is append-only'); END;
CREATE TRIGGER ops_no_delete BEFORE DELETE ON ops
  BEGIN SELECT RAISE(ABORT, 'the op log is append-only'); END;
CREATE TABLE outbox (op_id TEXT PRIMARY KEY REFERENCES ops(op_id)) WITHOUT ROWID;
INSERT INTO outbox (op_id) SELECT op_id FROM outbox_keep;
DROP TABLE outbox_keep;
