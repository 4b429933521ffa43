-- Schema version 3: hotlist entries may describe their vehicle, and an alert says why a
-- hit whose text would have confirmed it is only possible.

-- The vehicle as JSON (limes_model::VehicleInfo: make, colour, class), or NULL.
ALTER TABLE hotlist ADD COLUMN vehicle TEXT;

-- limes_model::Demotion as text (low_confidence, make_differs, colour_differs), or NULL.
ALTER TABLE alerts ADD COLUMN demoted TEXT;
