-- An incident's span (its first window's start, its last window's end) is
-- read with every incident and is what ListIncidents filters and orders
-- by: each bound is one index probe.
CREATE INDEX windows_incident_start ON windows (incident_id, start_time);
CREATE INDEX windows_incident_end ON windows (incident_id, end_time);
