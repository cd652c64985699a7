package server

import (
	"bytes"
	"os"
	"testing"

	"google.golang.org/grpc/encoding"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

func typicalRequest(t testing.TB) *impactv1.EstimateRequest {
	body, err := os.ReadFile("../examples/typical.json")
	if err != nil {
		t.Fatal(err)
	}
	req := &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal(body, req); err != nil {
		t.Fatal(err)
	}
	return req
}

// The registered "proto" codec is the vtprotobuf one, and its bytes decode
// to the same message as proto's, both ways.
func TestCodecRoundTrip(t *testing.T) {
	c := encoding.GetCodecV2("proto")
	if _, ok := c.(vtCodec); !ok {
		t.Fatalf("registered proto codec is %T, want vtCodec", c)
	}
	req := typicalRequest(t)
	data, err := c.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	viaProto := &impactv1.EstimateRequest{}
	if err := proto.Unmarshal(data.Materialize(), viaProto); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(viaProto, req) {
		t.Fatal("vtproto bytes decode to a different message")
	}
	wire, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	got := &impactv1.EstimateRequest{}
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, req) {
		t.Fatal("codec decodes proto bytes to a different message")
	}
	// A message without generated code goes through proto.
	h := &healthpb.HealthCheckRequest{Service: "x"}
	hd, err := c.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	h2 := &healthpb.HealthCheckRequest{}
	if err := c.Unmarshal(hd, h2); err != nil || h2.GetService() != "x" {
		t.Fatalf("health request: %v %q", err, h2.GetService())
	}
}

// Invalid UTF-8 in any string field, however deep, is refused with
// proto.Unmarshal's own error; valid bytes in a bytes-typed position are not.
func TestCodecRefusesInvalidUTF8(t *testing.T) {
	c := encoding.GetCodecV2("proto")
	const marker, bad = "@@BAD@@", "\xff\xfe\xfd\xfc\xfb\xfa\xf9" // same length
	cases := map[string]*impactv1.EstimateRequest{
		"nested profile entry": func() *impactv1.EstimateRequest {
			r := typicalRequest(t)
			r.Scenario.Customers[1].Baseline.WeeklyProfile[7] = marker
			return r
		}(),
		"top-level currency": func() *impactv1.EstimateRequest {
			r := typicalRequest(t)
			r.Scenario.ReportingCurrency = marker
			return r
		}(),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			wire, err := proto.Marshal(r) // proto refuses invalid UTF-8 on the way out too
			if err != nil {
				t.Fatal(err)
			}
			wire = bytes.Replace(wire, []byte(marker), []byte(bad), 1)
			want := proto.Unmarshal(wire, &impactv1.EstimateRequest{})
			if want == nil {
				t.Fatal("proto.Unmarshal accepted invalid UTF-8")
			}
			err = c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, &impactv1.EstimateRequest{})
			if err == nil || err.Error() != want.Error() {
				t.Fatalf("codec error %v, want %v", err, want)
			}
		})
	}
	// Timestamps (varints with high bits) and valid multi-byte text pass.
	r := typicalRequest(t)
	r.Scenario.Customers[0].DisplayName = "Zürich ✓"
	r.Scenario.Incidents[0].Windows[0].StartTime = timestamppb.New(r.Scenario.Incidents[0].Windows[0].StartTime.AsTime())
	wire, _ := proto.Marshal(r)
	if !validUTF8(wire, r.ProtoReflect().Descriptor(), 0) {
		t.Fatal("valid message judged invalid")
	}
}
