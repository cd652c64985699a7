package impact

import (
	"context"
	"io"
)

// EstimateWork runs the estimate of s with a cancellable context that is
// never cancelled and returns the units of work the engine counted (its
// stopper ticks: hour buckets, spans swept, intervals cut, overlaps
// compared, periods and incidents attributed).
func EstimateWork(s *Scenario, lim Limits) (int64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := newStopper(ctx)
	m, err := compile(s, lim, stop)
	if err != nil {
		return 0, err
	}
	m.stop = stop
	sla := m.statements()
	for _, inc := range m.incidents {
		m.estimateIncident(inc, sla.credits)
	}
	return int64(stop.n), nil
}

// ZoneFile returns the TZif data of name in the embedded database.
func ZoneFile(name string) ([]byte, error) {
	f := zoneFiles()[name]
	if f == nil {
		return nil, Errorf(ENOTFOUND, "%s", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// DigestWithTZData is the inputs digest of s as a build embedding zone
// database release version would compute it.
func DigestWithTZData(s *Scenario, version string) string {
	old := tzRelease
	tzRelease = version
	defer func() { tzRelease = old }()
	return digest(s)
}
