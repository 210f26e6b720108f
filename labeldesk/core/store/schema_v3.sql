-- labeldesk project store, step 2 -> 3: drawing order and video tracks.
ALTER TABLE annotations ADD COLUMN z_order REAL NOT NULL DEFAULT 0;
ALTER TABLE annotations ADD COLUMN track_id TEXT;
ALTER TABLE annotations ADD COLUMN keyframe INTEGER NOT NULL DEFAULT 1;
CREATE INDEX annotations_by_track ON annotations(track_id);
