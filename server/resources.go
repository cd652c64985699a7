package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/impact-svc/impact/estimating"
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
	app    *estimating.Service // stored estimates and statements
}

// NewStored returns the stored-resource services over st.
func NewStored(log *slog.Logger, st impact.Store) *Stored {
	s := &Stored{log: log, store: st, limits: estimating.StoredLimits(), now: time.Now}
	s.app = estimating.New(st, estimating.Options{Limits: s.limits, Now: func() time.Time { return s.now() },
		Observe: ObserveEstimate})
	return s
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

// outputOnly reports whether the top-level field p of md is declared
// OUTPUT_ONLY (an incident's span, say): ignored in an update like the
// metadata in outputFields.
func outputOnly(md protoreflect.MessageDescriptor, p string) bool {
	fd := md.Fields().ByName(protoreflect.Name(p))
	if fd == nil {
		return false
	}
	fb, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	return slices.Contains(fb, annotations.FieldBehavior_OUTPUT_ONLY)
}

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
		case outputFields[p] || outputOnly(res.ProtoReflect().Descriptor(), p):
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

// invalidResource is the error of the violations vs of the resource the
// caller wrote, named to ("customer"), under that path of its request; nil
// when there are none.
func invalidResource(to string, vs []impact.FieldViolation) error {
	if len(vs) == 0 {
		return nil
	}
	return &impact.Error{Code: impact.EINVALID, Message: "the " + to + " is invalid",
		Violations: impact.Under(impact.Path{{Name: to, Index: -1}}, vs)}
}
