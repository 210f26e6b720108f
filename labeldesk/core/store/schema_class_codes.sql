-- labeldesk project store, step 6 -> 7: stable identifiers of classes for interchange.
-- value: the numeric label value (NIfTI voxel value, COCO category id, YOLO index + 1), set when a
--        class is made and never renumbered; code: a short stable code; concept: coded concepts
--        (JSON {"category": {...}, "type": {...}}, SNOMED CT for DICOM SEG); keypoints: the named
--        points and skeleton of a keypoint class (JSON {"names": [...], "skeleton": [[i, j], ...]}).
ALTER TABLE classes ADD COLUMN value INTEGER;
ALTER TABLE classes ADD COLUMN code TEXT;
ALTER TABLE classes ADD COLUMN concept TEXT NOT NULL DEFAULT '{}';
ALTER TABLE classes ADD COLUMN keypoints TEXT NOT NULL DEFAULT '{}';
-- Existing classes are numbered in the order of their class.create ops (hybrid clock, device, seq):
-- the order in which a sync replay re-applies those ops, whose apply gives a class created without
-- a value the next free one, so a replay on any replica arrives at the same numbers.
UPDATE classes SET value = (
  SELECT n FROM (
    SELECT c.id AS cid, ROW_NUMBER() OVER (
      ORDER BY o.hlc_ms IS NULL, o.hlc_ms, o.hlc_ctr, o.dev, o.seq, c.rowid) AS n
    FROM classes c
    LEFT JOIN ops o ON o.entity = c.id AND o.type = 'ontology.class.create')
  WHERE cid = classes.id);
