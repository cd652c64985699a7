package server

import (
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Recompute jobs between the domain and the proto.

var jobStates = map[impact.JobState]impactv1.RecomputeJob_State{
	impact.JobQueued:    impactv1.RecomputeJob_QUEUED,
	impact.JobRunning:   impactv1.RecomputeJob_RUNNING,
	impact.JobSucceeded: impactv1.RecomputeJob_SUCCEEDED,
	impact.JobFailed:    impactv1.RecomputeJob_FAILED,
	impact.JobCancelled: impactv1.RecomputeJob_CANCELLED,
}

// filterFromProto maps a job's filter; nil is the empty filter. The store
// validates it (filter.Validate) with paths under "filter", as the request
// names it.
func filterFromProto(p *impactv1.RecomputeFilter) (impact.RecomputeFilter, error) {
	var d decoder
	f := impact.RecomputeFilter{
		Since:       d.time("filter.since", p.GetSince()),
		Until:       d.time("filter.until", p.GetUntil()),
		CustomerIDs: p.GetCustomerIds(),
		IncidentIDs: p.GetIncidentIds(),
	}
	if err := d.err(); err != nil {
		return f, err
	}
	if err := f.Validate(); err != nil {
		return f, err
	}
	return f, nil
}

func filterToProto(f *impact.RecomputeFilter) *impactv1.RecomputeFilter {
	return &impactv1.RecomputeFilter{
		Since:       tsOrNil(f.Since),
		Until:       tsOrNil(f.Until),
		CustomerIds: f.CustomerIDs,
		IncidentIds: f.IncidentIDs,
	}
}

func jobToProto(j *impact.RecomputeJob) *impactv1.RecomputeJob {
	c := &j.Counts
	name := j.Name
	if name == "" {
		name = impact.JobName(j.ID)
	}
	return &impactv1.RecomputeJob{
		Name:   name,
		Filter: filterToProto(&j.Filter),
		DryRun: j.DryRun,
		State:  jobStates[j.State],
		Counts: &impactv1.RecomputeCounts{
			Total:            c.Total,
			Done:             c.Done,
			Changed:          c.Changed,
			Failed:           c.Failed,
			CustomersTotal:   c.CustomersTotal,
			CustomersDone:    c.CustomersDone,
			CustomersChanged: c.CustomersChanged,
		},
		Differences:  differencesToProto(j.Differences),
		Error:        j.Error,
		ModelVersion: j.ModelVersion,
		Creator:      j.Creator,
		CreateTime:   tsOrNil(j.CreateTime),
		StartTime:    tsOrNil(j.StartTime),
		EndTime:      tsOrNil(j.EndTime),
		UpdateTime:   tsOrNil(j.UpdateTime),
	}
}

// differencesToProto writes each difference with the currency's minor-unit
// digits, as the totals it is the difference of: exact, since both totals
// have those digits.
func differencesToProto(ds []impact.FigureDifferences) []*impactv1.FigureDifferences {
	out := make([]*impactv1.FigureDifferences, len(ds))
	for i := range ds {
		d := &ds[i]
		out[i] = &impactv1.FigureDifferences{
			CurrencyCode:     d.Currency,
			LostRevenueGross: impact.FormatAmount(d.Currency, d.LostRevenueGross),
			LostRevenueNet:   impact.FormatAmount(d.Currency, d.LostRevenueNet),
			RecoveryCost:     impact.FormatAmount(d.Currency, d.RecoveryCost),
			SlaCredits:       impact.FormatAmount(d.Currency, d.SLACredits),
			ChurnExposure:    impact.FormatAmount(d.Currency, d.ChurnExposure),
		}
	}
	return out
}

func changeToProto(jobName string, c *impact.RecomputeChange) *impactv1.RecomputeJobChange {
	return &impactv1.RecomputeJobChange{
		Name:             jobName + "/changes/" + c.IncidentID,
		Incident:         "incidents/" + c.IncidentID,
		OldRevision:      c.OldRevision,
		NewRevision:      c.NewRevision,
		OldModelVersion:  c.OldModelVersion,
		OldInputsDigest:  c.OldInputsDigest,
		NewInputsDigest:  c.NewInputsDigest,
		CustomersChanged: c.CustomersChanged,
		Differences:      differencesToProto(c.Differences),
		Error:            c.Error,
	}
}
