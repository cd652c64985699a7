package server

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// TestMaskTablesCoverProto walks every mutable field of the updatable
// resource messages (nested messages' fields too) and fails when one has
// no entry in the resource's update-mask table in impact, the one table
// the server validates with and the store writes with: a field added to
// the API but not to the table could be sent and silently not stored.
func TestMaskTablesCoverProto(t *testing.T) {
	cases := []struct {
		msg      protoreflect.Message
		id       string
		separate map[string]bool // child resources with their own methods
		paths    func(string) bool
		norm     func(string) string
	}{
		{(&impactv1.Customer{}).ProtoReflect(), "customer_id", map[string]bool{"contracts": true},
			func(p string) bool { _, ok := impact.CustomerMask[p]; return ok }, func(p string) string { return p }},
		{(&impactv1.Contract{}).ProtoReflect(), "service", nil,
			func(p string) bool { _, ok := impact.ContractMask[p]; return ok },
			func(p string) string { return wholeClaimPolicy(impact.FieldMask{p})[0] }},
		{(&impactv1.Incident{}).ProtoReflect(), "incident_id", map[string]bool{"windows": true},
			func(p string) bool { _, ok := impact.IncidentMask[p]; return ok }, func(p string) string { return p }},
	}
	for _, c := range cases {
		md := c.msg.Descriptor()
		var walk func(md protoreflect.MessageDescriptor, prefix string)
		walk = func(md protoreflect.MessageDescriptor, prefix string) {
			fields := md.Fields()
			for i := 0; i < fields.Len(); i++ {
				fd := fields.Get(i)
				name := string(fd.Name())
				if prefix == "" && (outputFields[name] || outputOnly(md, name) || name == c.id || c.separate[name]) {
					continue
				}
				p := prefix + name
				if !c.paths(c.norm(p)) {
					t.Errorf("%s: mutable field %s has no entry in impact's update-mask table", md.FullName(), p)
				}
				if fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap() &&
					!strings.HasPrefix(string(fd.Message().FullName()), "google.protobuf.") {
					walk(fd.Message(), p+".")
				}
			}
		}
		walk(md, "")
	}
}
