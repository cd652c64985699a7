package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The exposition follows Prometheus' conventions: it parses with the
// Prometheus text parser, passes client_golang's promlint (the rules
// `promtool check metrics` applies), uses none of the labels Prometheus
// attaches to every series itself (job, instance), and has one metric per
// meaning rather than a "kind" label mixing them.
func TestMetricsConventions(t *testing.T) {
	d := start(t, "--recompute-workers", "0") // the job stays QUEUED: its series exist
	recomputeSeed(t, d)                       // a job with nothing to do would end at once
	job := must(t, "POST", d.url("/v1/recomputeJobs"), `{"dryRun": true}`)
	id := strings.TrimPrefix(job["name"].(string), "recomputeJobs/")

	resp, err := http.Get(d.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the Prometheus text parser refuses /metrics: %v", err)
	}
	problems, err := promlint.New(strings.NewReader(string(body))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "impact_") || strings.HasPrefix(p.Metric, "grpc_") {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "impact_") {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "job", "instance", "kind":
					t.Errorf("%s has a %q label", name, l.GetName())
				}
			}
		}
	}
	for _, name := range []string{"planned", "done", "changed", "failed"} {
		if g := sample(mfs, "impact_recompute_job_"+name+"_estimates", map[string]string{"recompute_job": id}); g == nil {
			t.Errorf("no impact_recompute_job_%s_estimates{recompute_job=%q}", name, id)
		}
	}
}
