-- Anonymised clips (issue #11): a clip shared with a partner without an approved request is an
-- anonymised copy of one of this node's clips, faces and plates blurred, signed as a clip of its
-- own. `anonymised_from` names the clip it was made from (kept beside it), so the copy is made
-- once and each copy leads back to the recording.
ALTER TABLE clips ADD COLUMN anonymised_from TEXT REFERENCES clips (sha256);
CREATE INDEX clips_anonymised_from ON clips (anonymised_from) WHERE anonymised_from IS NOT NULL;
