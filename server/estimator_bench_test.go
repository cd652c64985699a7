package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
)

// BenchmarkEstimateHandler measures what the server does per Estimate call
// beyond the gRPC transport: decode the request bytes with the registered
// codec, map them, run the engine, map the result and encode it. scripts/loadbench.sh measures the
// whole round trip against a health check.
func BenchmarkEstimateHandler(b *testing.B) {
	body, err := os.ReadFile("../examples/typical.json")
	if err != nil {
		b.Fatal(err)
	}
	req := &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal(body, req); err != nil {
		b.Fatal(err)
	}
	wire, err := proto.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	est := server.NewEstimator(slog.New(slog.NewTextHandler(io.Discard, nil)))
	codec := encoding.GetCodecV2("proto")
	b.ReportAllocs()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		r := &impactv1.EstimateRequest{}
		if err := codec.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, r); err != nil {
			b.Fatal(err)
		}
		resp, err := est.Estimate(context.Background(), r)
		if err != nil {
			b.Fatal(err)
		}
		out, err := codec.Marshal(resp)
		if err != nil {
			b.Fatal(err)
		}
		out.Free()
	}
}
