-- labeldesk project store, step 5 -> 6: prediction provenance, decisions on predictions, releases.

-- Where an annotation came from: a model (name, version, score, optional class scores) or a
-- person's accepted copy of a prediction (prediction_id, and what the copy started from so that
-- how much a person changed it can be computed on read). Written by annotation.create.
CREATE TABLE annotation_provenance (
  annotation_id TEXT PRIMARY KEY REFERENCES annotations(id),
  model TEXT,
  model_version TEXT,
  score REAL,
  class_scores TEXT,                 -- JSON {class name or id: score}, for margin and entropy
  prediction_id TEXT,                -- a person's copy: the prediction it was accepted from
  original TEXT,                     -- JSON {geometry, class_id, attributes} of the prediction
  source TEXT NOT NULL DEFAULT '{}', -- the source object as given in the op
  op_id TEXT NOT NULL
);
CREATE INDEX provenance_by_prediction ON annotation_provenance(prediction_id);

-- Immutable decision records on predictions (accept / reject / retract of an earlier decision).
-- A prediction's status is derived from the set of its records, whatever order they arrived in.
CREATE TABLE prediction_decisions (
  id TEXT PRIMARY KEY,
  prediction_id TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('accept', 'reject', 'retract')),
  copy_id TEXT,                      -- accept: the annotation made in the person's layer
  target TEXT,                       -- retract: the decision it withdraws
  reason TEXT,
  user TEXT,
  op_id TEXT NOT NULL
);
CREATE INDEX decisions_by_prediction ON prediction_decisions(prediction_id);
CREATE TRIGGER prediction_decisions_no_update BEFORE UPDATE ON prediction_decisions
  BEGIN SELECT RAISE(ABORT, 'prediction decisions are append-only'); END;
CREATE TRIGGER prediction_decisions_no_delete BEFORE DELETE ON prediction_decisions
  BEGIN SELECT RAISE(ABORT, 'prediction decisions are append-only'); END;

-- Named, immutable snapshots of the final labels (the files live in releases/<name>/ on the
-- machine that made them). A device never reuses a name; two devices that pick the same name
-- concurrently both keep their record (the earlier by HLC owns the plain name in listings).
CREATE TABLE releases (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  op_id TEXT NOT NULL,
  dev TEXT NOT NULL,
  hlc_ms INTEGER NOT NULL,
  hlc_ctr INTEGER NOT NULL,
  wall TEXT NOT NULL,
  user TEXT,
  layers TEXT NOT NULL,              -- JSON [{id, name, kind}]
  files TEXT NOT NULL,               -- JSON {relative path: {sha256, bytes}} of the label files
  counts TEXT NOT NULL,              -- JSON counts per class and kind
  previous TEXT,                     -- name of the release before this one
  ontology_version INTEGER NOT NULL
);
CREATE INDEX releases_by_name ON releases(name);
CREATE TRIGGER releases_no_update BEFORE UPDATE ON releases
  BEGIN SELECT RAISE(ABORT, 'releases are append-only'); END;
CREATE TRIGGER releases_no_delete BEFORE DELETE ON releases
  BEGIN SELECT RAISE(ABORT, 'releases are append-only'); END;
