-- Estimate history (issue 7). Each revision records what wrote it: source
-- is the method ("EstimateIncident" for :estimate) or the recompute job
-- ("recomputeJobs/{id}"); actor is the caller of :estimate or the creator of
-- the job. Revisions written before this migration have both empty.
ALTER TABLE incident_estimates ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE incident_estimates ADD COLUMN actor TEXT NOT NULL DEFAULT '';
