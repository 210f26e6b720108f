-- labeldesk project store, step 4 -> 5: review. Every row is an immutable record made once by one op
-- (assignment, submit, decision, adjudication, issue, issue event); workflow state is derived from
-- the set of records on read, so it does not depend on the order in which ops arrive.
CREATE TABLE assignments (
  id TEXT PRIMARY KEY,
  asset_id TEXT NOT NULL REFERENCES assets(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  layer_id TEXT NOT NULL REFERENCES layers(id),
  mode TEXT NOT NULL,                        -- manual | round_robin | per_asset
  assigned_by TEXT, op_id TEXT NOT NULL, hlc_ms INTEGER NOT NULL, hlc_ctr INTEGER NOT NULL,
  removed_by_op TEXT                         -- tombstone set once by task.unassign
);
CREATE INDEX assignments_by_asset ON assignments(asset_id);
CREATE INDEX assignments_by_user ON assignments(user_id);

CREATE TABLE review_records (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,                        -- submit | decide | adjudicate
  asset_id TEXT NOT NULL REFERENCES assets(id),
  layer_id TEXT REFERENCES layers(id),       -- the layer submitted/reviewed; the final layer for adjudicate
  decision TEXT,                             -- approve | fix_approve | return | accept
  target_rev TEXT,                           -- the layer revision submitted or reviewed
  refs TEXT NOT NULL DEFAULT '[]',           -- record ids this one supersedes / closes
  detail TEXT NOT NULL DEFAULT '{}',
  user_id TEXT, reason TEXT,
  op_id TEXT NOT NULL, dev TEXT NOT NULL, hlc_ms INTEGER NOT NULL, hlc_ctr INTEGER NOT NULL
);
CREATE INDEX review_records_by_asset ON review_records(asset_id, layer_id);

CREATE TABLE issues (
  id TEXT PRIMARY KEY,
  asset_id TEXT NOT NULL REFERENCES assets(id),
  layer_id TEXT, annotation_id TEXT,
  plane_axis TEXT NOT NULL DEFAULT 'axial', plane_z INTEGER NOT NULL DEFAULT 0, plane_t INTEGER NOT NULL DEFAULT 0,
  x REAL NOT NULL, y REAL NOT NULL,          -- image_xy on that plane
  text TEXT NOT NULL,
  user_id TEXT, op_id TEXT NOT NULL, hlc_ms INTEGER NOT NULL, hlc_ctr INTEGER NOT NULL
);
CREATE INDEX issues_by_asset ON issues(asset_id);

CREATE TABLE issue_events (
  id TEXT PRIMARY KEY,
  issue_id TEXT NOT NULL REFERENCES issues(id),
  kind TEXT NOT NULL,                        -- comment | resolve | reopen
  text TEXT,
  refs TEXT NOT NULL DEFAULT '[]',           -- resolve/reopen events this one supersedes
  user_id TEXT, op_id TEXT NOT NULL, hlc_ms INTEGER NOT NULL, hlc_ctr INTEGER NOT NULL
);
CREATE INDEX issue_events_by_issue ON issue_events(issue_id);
