-- Faces counted by the node's own analysis (issue #11): an event of kind `faces_counted`, kept
-- as the others with the models that raised it and the picture, and `pending` until a person
-- confirms or dismisses it. `details` holds what was found, as JSON: each face's box and score
-- and, where the camera asks for them, its estimated age and gender with their confidence
-- (biometric categorisation: the log the EU AI Act's Art. 12 asks, confirmed by a person before
-- anything of it is shared, Art. 14), and the faces in each of the camera's zones.
ALTER TABLE scene_events ADD COLUMN details TEXT;
