-- labeldesk project store, step 1 -> 2: asset-, frame- and slice-level classifications.
CREATE TABLE classifications (
  id TEXT PRIMARY KEY,
  asset_id TEXT NOT NULL REFERENCES assets(id),
  layer_id TEXT NOT NULL REFERENCES layers(id),
  scope TEXT NOT NULL,                       -- asset | plane
  plane_axis TEXT, plane_z INTEGER, plane_t INTEGER,
  class_id TEXT NOT NULL REFERENCES classes(id),
  author TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  revision TEXT NOT NULL
);
CREATE INDEX classifications_by_asset ON classifications(asset_id);
