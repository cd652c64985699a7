package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestListIncidentsFilterOrder: the seed's power failure (14 July 2025,
// 13:05–14:20 UTC), the thirty-customer network failure (4 August 2025,
// 09:00–09:30) and an incident without windows (cause unset), listed by
// id, newest and oldest first, by cause and by time, in pages of one.
func TestListIncidentsFilterOrder(t *testing.T) {
	eachDB(t, func(t *testing.T, d *impactd) {
		seedStory(t, d, "")
		seedPaging(t, d, "")
		must(t, "POST", d.url("/v1/incidents?incidentId=inc-empty"), `{"title": "Nothing recorded yet"}`)
		list := func(t *testing.T, filter, order string) string {
			t.Helper()
			var ids []string
			token := ""
			for range 5 {
				q := url.Values{"pageSize": {"1"}, "filter": {filter}, "orderBy": {order}, "pageToken": {token}}
				v := must(t, "GET", d.url("/v1/incidents?"+q.Encode()), "")
				for _, in := range toAny(v["incidents"]) {
					ids = append(ids, in.(map[string]any)["incidentId"].(string))
				}
				if token, _ = v["nextPageToken"].(string); token == "" {
					break
				}
			}
			return strings.Join(ids, ",")
		}
		for _, tc := range []struct{ filter, order, want string }{
			{"", "", "inc-2025-07-14-fra-b,inc-empty,inc-paging"},
			{"", "incident_id", "inc-2025-07-14-fra-b,inc-empty,inc-paging"},
			{"", "start_time desc", "inc-paging,inc-2025-07-14-fra-b,inc-empty"},
			{"", "start_time", "inc-empty,inc-2025-07-14-fra-b,inc-paging"},
			{"cause = POWER_FAILURE", "", "inc-2025-07-14-fra-b"},
			{"cause = UNKNOWN", "", "inc-empty"},
			{"(cause = POWER_FAILURE OR cause = NETWORK_FAILURE)", "start_time desc", "inc-paging,inc-2025-07-14-fra-b"},
			{`start_time >= "2025-08-01T00:00:00Z"`, "", "inc-paging"},
			{`start_time < "2025-08-01T00:00:00Z"`, "start_time desc", "inc-2025-07-14-fra-b"},
			// Overlapping [14 July 14:00, 14:30): the power failure's last
			// window ends 14:20.
			{`end_time > "2025-07-14T14:00:00Z" AND start_time < "2025-07-14T14:30:00Z"`, "", "inc-2025-07-14-fra-b"},
			{`end_time > "2025-07-14T14:20:00Z" AND start_time < "2025-08-04T09:00:00Z"`, "", ""},
			{`end_time >= "2025-08-04T09:30:00Z" AND cause = NETWORK_FAILURE`, "start_time", "inc-paging"},
		} {
			if got := list(t, tc.filter, tc.order); got != tc.want {
				t.Errorf("filter %q order %q: %s, want %s", tc.filter, tc.order, got, tc.want)
			}
		}
		// The span is the windows'; the estimate's is the same.
		in := must(t, "GET", d.url("/v1/incidents/inc-2025-07-14-fra-b"), "")
		est := must(t, "GET", d.url("/v1/incidents/inc-2025-07-14-fra-b/estimate/customers?pageSize=1"), "")
		if in["startTime"] != "2025-07-14T13:05:00Z" || in["startTime"] != est["startTime"] || in["endTime"] != est["endTime"] {
			t.Errorf("span %v–%v, estimate %v–%v", in["startTime"], in["endTime"], est["startTime"], est["endTime"])
		}
		if in := must(t, "GET", d.url("/v1/incidents/inc-empty"), ""); in["startTime"] != nil || in["endTime"] != nil {
			t.Errorf("span without windows: %v–%v", in["startTime"], in["endTime"])
		}
		// A token only works with its filter and order; bad terms are named.
		first := must(t, "GET", d.url("/v1/incidents?pageSize=1&orderBy=start_time%20desc"), "")
		code, v := call(t, "GET", d.url("/v1/incidents?pageSize=1&pageToken="+first["nextPageToken"].(string)), "")
		wantError(t, "token of another order", code, v, http.StatusBadRequest, 3)
		for _, q := range []string{"orderBy=title", "filter=cause%20%3D%20FLOOD", "filter=start_time%20%3D%20%222025-07-14T13:05:00Z%22",
			"filter=start_time%20%3E%20yesterday", "filter=title%20%3D%20x"} {
			code, v := call(t, "GET", d.url("/v1/incidents?"+q), "")
			wantError(t, q, code, v, http.StatusBadRequest, 3)
		}
	})
}
