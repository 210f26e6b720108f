-- labeldesk project store, step 3 -> 4: shared-folder sync (docs/sync.md §6, §10).
-- Per device read from the share: the last segment applied (seq + whole-file sha256; never mtimes).
CREATE TABLE sync_cursors (
  dev TEXT PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  last_sha TEXT NOT NULL,
  last_segment TEXT
);
-- Segments this store published under its own device id (owner checks and re-publishes them).
CREATE TABLE sync_published (
  name TEXT PRIMARY KEY,
  dev TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL
);
-- What each device had seen when it made its ops: ops of ``dev`` with seq >= from_seq (up to the
-- next mark) were made after applying ``ctx`` = {device: last seq}. Causal context for merge rules.
CREATE TABLE sync_marks (
  dev TEXT NOT NULL,
  from_seq INTEGER NOT NULL,
  ctx TEXT NOT NULL,
  PRIMARY KEY (dev, from_seq)
);
-- Ops in the log that are NOT (or not yet) materialised; an op without a row here is applied.
-- state: pending (dependency not here yet) | rejected (failed validation on replay) |
--        overridden (a delete beaten by a concurrent edit) | unauthorised | unknown_type | rekeyed
CREATE TABLE sync_op_state (
  op_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  since TEXT NOT NULL
);
CREATE INDEX sync_op_state_by_state ON sync_op_state(state);
-- Ops read from a segment whose payload blob has not arrived (or failed its hash): kept verbatim.
CREATE TABLE sync_pending_lines (
  op_id TEXT PRIMARY KEY,
  dev TEXT NOT NULL,
  seq INTEGER NOT NULL,
  line TEXT NOT NULL,
  blob TEXT NOT NULL,
  since TEXT NOT NULL
);
-- Ops from the share whose op id collides with a local op of different content (two stores
-- wrote as one device). When this store has re-keyed its own op of that id, the share's op is the
-- real one: it is kept here (the ops table is append-only and unique by op id) and materialised
-- like any other (state as in sync_op_state; 'collision' = not materialised). Malformed op lines
-- are kept here too (type NULL).
CREATE TABLE sync_collisions (
  op_id TEXT PRIMARY KEY,
  line TEXT NOT NULL,
  since TEXT NOT NULL,
  dev TEXT, seq INTEGER, hlc_ms INTEGER, hlc_ctr INTEGER, type TEXT, entity TEXT, base TEXT,
  payload TEXT, user TEXT, wall TEXT, reason TEXT,
  state TEXT, problem TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sync_collisions_by_entity ON sync_collisions(entity);
-- Same-field concurrent edits (kind 'field') and edits concurrent with a delete (kind 'delete'):
-- every candidate value is kept; winner = the provisional value every replica shows.
CREATE TABLE sync_conflicts (
  id TEXT PRIMARY KEY,
  entity TEXT NOT NULL,
  entity_kind TEXT NOT NULL,
  field TEXT NOT NULL,
  kind TEXT NOT NULL,
  candidates TEXT NOT NULL,
  winner TEXT NOT NULL,
  status TEXT NOT NULL,
  resolved_by_op TEXT
);
CREATE INDEX sync_conflicts_by_entity ON sync_conflicts(entity);
-- What this store knows about the other devices on the share (status and alerts).
CREATE TABLE sync_devices (
  dev TEXT PRIMARY KEY,
  user TEXT,
  last_segment TEXT,
  last_seq INTEGER NOT NULL DEFAULT 0,
  waiting_for_seq INTEGER,
  waiting_since TEXT,
  clock_ahead_ms INTEGER NOT NULL DEFAULT 0,
  problems TEXT NOT NULL DEFAULT '[]',
  artefacts TEXT NOT NULL DEFAULT '[]',
  updated TEXT
);
