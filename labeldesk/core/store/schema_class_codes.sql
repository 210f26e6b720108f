-- labeldesk project store, step 6 -> 7: stable identifiers of classes for interchange.
-- value: the numeric label value (NIfTI voxel value, COCO category id, YOLO index + 1), set when a
--        class is made and never renumbered; code: a short stable code; concept: coded concepts
--        (JSON {"category": {...}, "type": {...}}, SNOMED CT for DICOM SEG); keypoints: the named
--        points and skeleton of a keypoint class (JSON {"names": [...], "skeleton": [[i, j], ...]}).
ALTER TABLE classes ADD COLUMN value INTEGER;
ALTER TABLE classes ADD COLUMN code TEXT;
ALTER TABLE classes ADD COLUMN concept TEXT NOT NULL DEFAULT '{}';
ALTER TABLE classes ADD COLUMN keypoints TEXT NOT NULL DEFAULT '{}';
-- Existing classes get the numbers their exports used so far (ontology order + 1).
UPDATE classes SET value = (SELECT n FROM (SELECT id AS cid, ROW_NUMBER() OVER (ORDER BY sort_order, rowid) AS n
                                           FROM classes) WHERE cid = classes.id);
