package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Stored implements CustomerService, ContractService and IncidentService
// over an impact.Store. It maps requests to the domain, validates resources
// with the estimate engine before they are written (so that what is stored
// can always be estimated), and leaves NOT_FOUND, ALREADY_EXISTS, ABORTED,
// pagination and idempotency to the store, whose *impact.Error codes go
// through the one error table.
type Stored struct {
	impactv1.UnimplementedCustomerServiceServer
	impactv1.UnimplementedContractServiceServer
	impactv1.UnimplementedIncidentServiceServer
	impactv1.UnimplementedSettingsServiceServer

	log    *slog.Logger
	store  impact.Store
	limits impact.Limits
	now    func() time.Time
}

// StoredLimits bound one estimate of stored data. They are those of the
// stateless API except for the counts that grow with the stored history an
// incident's billing periods pull in (customers of a wide incident, other
// incidents and windows in the same periods).
func StoredLimits() impact.Limits {
	l := impact.DefaultLimits()
	l.MaxCustomers *= 10
	l.MaxIncidents *= 10
	l.MaxWindows *= 10
	l.MaxWindowHours *= 10
	l.MaxCost *= 10
	return l
}

// NewStored returns the stored-resource services over st.
func NewStored(log *slog.Logger, st impact.Store) *Stored {
	return &Stored{log: log, store: st, limits: StoredLimits(), now: time.Now}
}

// Register registers the three services on r.
func (s *Stored) Register(r grpc.ServiceRegistrar) {
	impactv1.RegisterCustomerServiceServer(r, s)
	impactv1.RegisterContractServiceServer(r, s)
	impactv1.RegisterIncidentServiceServer(r, s)
	impactv1.RegisterSettingsServiceServer(r, s)
}

// fail maps err through the error table; violation paths are already
// relative to the request.
func (s *Stored) fail(ctx context.Context, err error) error {
	return toStatus(ctx, s.log, err, "")
}

func invalidField(field, format string, args ...any) *impact.Error {
	return &impact.Error{Code: impact.EINVALID, Message: "invalid request",
		Violations: []impact.FieldViolation{{Field: field, Description: fmt.Sprintf(format, args...)}}}
}

// err returns the decoder's violations as one EINVALID error, or nil.
func (d *decoder) err() error {
	if len(d.violations) == 0 {
		return nil
	}
	return &impact.Error{Code: impact.EINVALID, Message: "invalid request", Violations: d.violations}
}

// parseName splits a resource name made of collection/id pairs, e.g.
// parseName("name", n, "customers", "contracts") for
// "customers/{customer}/contracts/{contract}", and returns the ids.
func parseName(field, name string, collections ...string) ([]string, error) {
	parts := strings.Split(name, "/")
	ok := len(parts) == 2*len(collections)
	for i := 0; ok && i < len(collections); i++ {
		ok = parts[2*i] == collections[i] && parts[2*i+1] != ""
	}
	if !ok {
		pattern := make([]string, len(collections))
		for i, c := range collections {
			pattern[i] = c + "/{" + strings.TrimSuffix(c, "s") + "}"
		}
		return nil, invalidField(field, "must be %s, got %q", strings.Join(pattern, "/"), name)
	}
	ids := make([]string, len(collections))
	for i := range collections {
		ids[i] = parts[2*i+1]
	}
	return ids, nil
}

// resolveID decides the id of a created resource from the request's id
// field and the resource's own id field: either may be omitted, both set
// must agree (AIP-133 takes the id from the request; a scenario entry
// carries it in the resource).
func resolveID(reqField, reqID, resField, resID string) (string, error) {
	switch {
	case reqID == "" && resID == "":
		return "", invalidField(reqField, "is required (or set %s)", resField)
	case reqID != "" && resID != "" && reqID != resID:
		return "", invalidField(resField, "is %q but %s is %q", resID, reqField, reqID)
	case reqID != "":
		return reqID, nil
	}
	return resID, nil
}

// pageRequest maps AIP-158 page fields; the store checks them.
func pageRequest(size int32, token string) impact.PageRequest {
	return impact.PageRequest{Size: int(size), Token: token}
}

// outputFields are set by the server and ignored in an update (AIP-203):
// a client may send back a resource it read, metadata included.
var outputFields = map[string]bool{"name": true, "etag": true, "create_time": true, "update_time": true}

// idFields are the id fields of the updatable resources (customer,
// contract, incident), immutable: a "*" update keeps them when the body
// omits them.
var idFields = map[string]bool{"customer_id": true, "service": true, "incident_id": true}

// updateMask turns an Update's mask into the store's: an omitted mask means
// the fields populated in res (AIP-134; over HTTP the gateway already
// derived it from the JSON body). Output-only fields are dropped, and so is
// the id field (idField) when it repeats the id of the name; a different id
// is INVALID_ARGUMENT, since ids are immutable.
func updateMask(m *fieldmaskpb.FieldMask, res proto.Message, idField, id string) (impact.FieldMask, error) {
	paths := m.GetPaths()
	if len(paths) == 0 {
		res.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			paths = append(paths, string(fd.Name()))
			return true
		})
	}
	out := make(impact.FieldMask, 0, len(paths))
	for _, p := range paths {
		p = protoPath(res.ProtoReflect().Descriptor(), p)
		switch {
		case outputFields[p]:
		case p == idField:
			fd := res.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(idField))
			if v := res.ProtoReflect().Get(fd).String(); v != "" && v != id {
				return nil, invalidField(idField, "is immutable: %q names the resource, not %q", id, v)
			}
		default:
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, invalidField("update_mask", "names no field to update")
	}
	return out, nil
}

// protoPath spells a mask path in proto field names: a client may write
// it in the JSON names ("displayName", "baseline.hourlyAmount") or in
// snake_case, as protojson accepts both in bodies. Unknown segments are
// kept, for the store to reject by name.
func protoPath(md protoreflect.MessageDescriptor, p string) string {
	segs := strings.Split(p, ".")
	for i, s := range segs {
		if md == nil {
			break
		}
		fd := md.Fields().ByName(protoreflect.Name(s))
		if fd == nil {
			fd = md.Fields().ByJSONName(s)
		}
		if fd == nil {
			break
		}
		segs[i] = string(fd.Name())
		md = fd.Message() // nil for a scalar
	}
	return strings.Join(segs, ".")
}

// applyMask copies the fields of mask from src into dst, both the same
// proto message type: it gives the resource an Update would produce, so
// that it can be validated before anything is written. Paths the message
// does not have are left for the store to reject.
func applyMask(dst, src proto.Message, mask impact.FieldMask) {
	for _, p := range mask {
		if p == "*" {
			// A full replacement (AIP-134): every field the client did not
			// send is cleared, as the store's "*" writes it, so that what is
			// validated is the resource that will be stored. Output-only
			// fields and the id stay.
			dr, sr := dst.ProtoReflect(), src.ProtoReflect()
			fields := dr.Descriptor().Fields()
			for i := 0; i < fields.Len(); i++ {
				fd := fields.Get(i)
				name := string(fd.Name())
				switch {
				case outputFields[name]:
				case sr.Has(fd):
					dr.Set(fd, sr.Get(fd))
				case !idFields[name]:
					dr.Clear(fd)
				}
			}
			continue
		}
		d, sm := dst.ProtoReflect(), src.ProtoReflect()
		parts := strings.Split(p, ".")
		for i, name := range parts {
			fd := d.Descriptor().Fields().ByName(protoreflect.Name(name))
			if fd == nil {
				break
			}
			if i == len(parts)-1 {
				if sm.Has(fd) {
					d.Set(fd, sm.Get(fd))
				} else {
					d.Clear(fd)
				}
				break
			}
			if fd.Kind() != protoreflect.MessageKind || fd.IsList() || fd.IsMap() {
				break
			}
			d, sm = d.Mutable(fd).Message(), sm.Get(fd).Message()
		}
	}
}

// validate runs the engine's validation on a scenario built around one
// resource and keeps the violations under the resource's path in that
// scenario (from, e.g. "customers[0]"), renamed to its path in the request
// (to, e.g. "customer"). What is stored is thereby always something the
// engine accepts, and a client learns of a bad tier or time zone when it
// writes it, not at its next :estimate.
// Violations under a skip path are about scaffolding and dropped.
func (s *Stored) validate(ctx context.Context, sc *impact.Scenario, from, to string, skip ...string) error {
	_, err := impact.EstimateScenarioContext(ctx, sc, s.limits)
	var e *impact.Error
	if err == nil || !errors.As(err, &e) || e.Code != impact.EINVALID {
		return err
	}
	// The message names the resource the caller wrote, not the scenario
	// built around it.
	out := &impact.Error{Code: impact.EINVALID, Message: "the " + to + " is invalid"}
	for _, v := range e.Violations {
		if slices.ContainsFunc(skip, func(p string) bool { return strings.HasPrefix(v.Field, p) }) {
			continue
		}
		if rest, ok := strings.CutPrefix(v.Field, from); ok {
			out.Violations = append(out.Violations, impact.FieldViolation{Field: to + rest, Description: v.Description})
		}
	}
	if len(out.Violations) == 0 {
		return nil // about the scaffolding around the resource, not the resource
	}
	return out
}

// windowPath renames a violation of the scenario built by
// BatchCreateIncidentWindows, "incidents[0].windows[3].end_time", to the
// request's "requests[3].outage_window.end_time".
func windowPath(field string) (string, bool) {
	rest, ok := strings.CutPrefix(field, "incidents[0].windows")
	if !ok {
		return "", false
	}
	if rest == "" {
		return "requests", true
	}
	i := strings.IndexByte(rest, ']')
	if rest[0] != '[' || i < 0 {
		return "", false
	}
	if _, err := strconv.Atoi(rest[1:i]); err != nil {
		return "", false
	}
	return "requests" + rest[:i+1] + ".outage_window" + rest[i+1:], true
}
