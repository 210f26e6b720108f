-- labeldesk project store: segments (3-D label maps of volumes), see core/segments.py.
-- segments: one structure (class, layer, time point) on a volume asset; voxels = its voxel count.
-- segment_slices: the label map per axial slice k, zlib of the packed bits (absent = empty slice).
CREATE TABLE IF NOT EXISTS segments (
    id TEXT PRIMARY KEY,
    asset_id TEXT NOT NULL REFERENCES assets(id),
    layer_id TEXT NOT NULL REFERENCES layers(id),
    class_id TEXT,
    t INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL,
    color TEXT,
    locked INTEGER NOT NULL DEFAULT 0,
    voxels INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    author TEXT,
    revision TEXT
);
CREATE INDEX IF NOT EXISTS segments_by_asset ON segments(asset_id, layer_id);
CREATE TABLE IF NOT EXISTS segment_slices (
    segment_id TEXT NOT NULL REFERENCES segments(id),
    z INTEGER NOT NULL,
    voxels INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (segment_id, z)
);
