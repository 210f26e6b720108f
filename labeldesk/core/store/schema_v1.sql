-- labeldesk project store, schema version 1.
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- The op log is the audit trail: append-only and hash-chained in local order.
CREATE TABLE ops (
  local_order INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX ops_by_entity ON ops(entity);
CREATE TRIGGER ops_no_update BEFORE UPDATE ON ops
  BEGIN SELECT RAISE(ABORT, 'the op log is append-only'); END;
CREATE TRIGGER ops_no_delete BEFORE DELETE ON ops
  BEGIN SELECT RAISE(ABORT, 'the op log is append-only'); END;

-- Ops of this device not yet published to the shared folder.
CREATE TABLE outbox (op_id TEXT PRIMARY KEY REFERENCES ops(op_id));

-- Materialised state for fast reads.
CREATE TABLE assets (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  content_hash TEXT NOT NULL,
  width INTEGER NOT NULL, height INTEGER NOT NULL,
  depth INTEGER NOT NULL DEFAULT 1, frames INTEGER NOT NULL DEFAULT 1,
  channels INTEGER NOT NULL DEFAULT 1, dtype TEXT NOT NULL,
  spacing TEXT, meta TEXT NOT NULL DEFAULT '{}',
  removed INTEGER NOT NULL DEFAULT 0,
  revision TEXT NOT NULL
);
CREATE INDEX assets_by_hash ON assets(content_hash);

-- Where this machine finds an asset's pixels. Never synced (holds paths).
CREATE TABLE asset_local (
  asset_id TEXT PRIMARY KEY REFERENCES assets(id),
  locator TEXT NOT NULL,
  thumbnail BLOB
);

CREATE TABLE layers (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, owner TEXT,
  removed INTEGER NOT NULL DEFAULT 0, revision TEXT NOT NULL
);

CREATE TABLE classes (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, parent_id TEXT, color TEXT NOT NULL,
  hotkey TEXT, kinds TEXT NOT NULL DEFAULT '[]', attributes TEXT NOT NULL DEFAULT '[]',
  guide TEXT NOT NULL DEFAULT '{}', deprecated INTEGER NOT NULL DEFAULT 0, merged_into TEXT,
  sort_order REAL NOT NULL DEFAULT 0, revision TEXT NOT NULL
);

CREATE TABLE annotations (
  id TEXT PRIMARY KEY,
  asset_id TEXT NOT NULL REFERENCES assets(id),
  layer_id TEXT NOT NULL REFERENCES layers(id),
  class_id TEXT REFERENCES classes(id),
  plane_axis TEXT NOT NULL DEFAULT 'axial', plane_z INTEGER NOT NULL DEFAULT 0,
  plane_t INTEGER NOT NULL DEFAULT 0,
  kind TEXT NOT NULL, geometry TEXT NOT NULL,
  x0 REAL NOT NULL, y0 REAL NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL,
  attributes TEXT NOT NULL DEFAULT '{}',
  author TEXT, ontology_version INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  revision TEXT NOT NULL
);
CREATE INDEX annotations_by_plane ON annotations(asset_id, plane_axis, plane_z, plane_t);

CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, revision TEXT NOT NULL);
CREATE TABLE roles (user_id TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (user_id, role));
