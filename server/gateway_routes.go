package server

import (
	"net/http"
	"regexp"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Gateway routes no google.api.http binding can express.

// revisionPath is GET /v1/incidents/{incident}/estimate@{revision}: a
// path template matches whole segments, so "estimate@3" needs a route of
// its own. It calls GetIncidentEstimate like the generated handlers do.
const revisionPath = "/v1/incidents/{incident}/{estimate_revision}"

var revisionRoute = httpRoute{method: http.MethodGet, path: regexp.MustCompile(`^/v1/incidents/[^/:]+/estimate@[^/:]+$`),
	role: RequiredRole(impactv1.IncidentService_GetIncidentEstimate_FullMethodName)}

// registerExplicitRoutes adds the routes above to gw. Called before the
// generated handlers are registered: the gateway tries the latest
// registered pattern first, so every generated GET /v1/incidents/*/…
// route (windows, estimate) keeps precedence over this catch-all.
func registerExplicitRoutes(gw *runtime.ServeMux, conn *grpc.ClientConn) error {
	client := impactv1.NewIncidentServiceClient(conn)
	return gw.HandlePath(http.MethodGet, revisionPath, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		ctx := r.Context()
		_, outbound := runtime.MarshalerForRequest(gw, r)
		seg := params["estimate_revision"]
		if !strings.HasPrefix(seg, "estimate@") {
			runtime.HTTPError(ctx, gw, outbound, w, r,
				mustWithInfo(codes.NotFound, "no route for "+r.Method+" "+r.URL.Path, reasonNoRoute))
			return
		}
		if r.URL.RawQuery != "" {
			pe := &parseError{Reason: reasonUnknownQueryParam, Field: firstKey(r), Description: "this method takes no query parameters"}
			runtime.HTTPError(ctx, gw, outbound, w, r, pe.status())
			return
		}
		ctx, err := runtime.AnnotateContext(ctx, gw, r, impactv1.IncidentService_GetIncidentEstimate_FullMethodName,
			runtime.WithHTTPPathPattern("/v1/incidents/{incident}/estimate@{revision}"))
		if err != nil {
			runtime.HTTPError(ctx, gw, outbound, w, r, err)
			return
		}
		var md runtime.ServerMetadata
		resp, err := client.GetIncidentEstimate(ctx, &impactv1.GetIncidentEstimateRequest{
			Name: "incidents/" + params["incident"] + "/" + seg,
		}, grpc.Header(&md.HeaderMD), grpc.Trailer(&md.TrailerMD))
		ctx = runtime.NewServerMetadataContext(ctx, md)
		if err != nil {
			runtime.HTTPError(ctx, gw, outbound, w, r, err)
			return
		}
		runtime.ForwardResponseMessage(ctx, gw, outbound, w, r, resp)
	})
}

func firstKey(r *http.Request) string {
	var key string
	for k := range r.URL.Query() {
		if key == "" || k < key {
			key = k
		}
	}
	return key
}

// explicitRoutes are the routes of this file, for the Allow header.
func explicitRoutes() []httpRoute { return []httpRoute{revisionRoute} }
