-- Requests for a clip (issue #9): a partner asks for a span of one camera's recording rather
-- than the data behind a reference. The three columns are set together or not at all.
ALTER TABLE requests ADD COLUMN clip_camera  TEXT;
ALTER TABLE requests ADD COLUMN clip_from_us INTEGER;
ALTER TABLE requests ADD COLUMN clip_to_us   INTEGER;
