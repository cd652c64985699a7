// Command client is a small example of calling impactd from Go with the
// generated clients of proto/impact/v1: it reads a scenario file (the
// proto3 JSON of impact.v1.EstimateRequest), calls
// EstimatorService.Estimate and prints each affected customer's lost
// revenue and SLA credits.
//
//	go run ./cmd/impactd &
//	go run ./examples/client --server 127.0.0.1:9090 examples/seed-outage.json
//
// A token (for an impactd started with --auth-tokens) is read from
// --token or IMPACT_TOKEN and sent as "authorization: Bearer …" metadata.
// The connection is plaintext unless --tls-ca names the PEM certificate
// (or CA) to trust, for an impactd started with --tls-cert/--tls-key:
//
//	go run ./examples/client --server impact.internal:9090 --tls-ca ca.pem examples/seed-outage.json
package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

func main() {
	addr := flag.String("server", "127.0.0.1:9090", "impactd gRPC address")
	token := flag.String("token", os.Getenv("IMPACT_TOKEN"), "bearer token (default $IMPACT_TOKEN)")
	caFile := flag.String("tls-ca", "", "PEM certificate or CA to trust: use TLS (default plaintext)")
	flag.Parse()
	file := "examples/seed-outage.json"
	if flag.NArg() > 0 {
		file = flag.Arg(0)
	}
	if err := run(*addr, *token, *caFile, file); err != nil {
		log.Fatal(err)
	}
}

// transport is TLS trusting caFile, or plaintext without one.
func transport(caFile string) (credentials.TransportCredentials, error) {
	if caFile == "" {
		return insecure.NewCredentials(), nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca %s: no PEM certificate found", caFile)
	}
	return credentials.NewClientTLSFromCert(pool, ""), nil
}

func run(addr, token, caFile, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	req := &impactv1.EstimateRequest{}
	if err := protojson.Unmarshal(data, req); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}

	creds, err := transport(caFile)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	// Every call should have a deadline; impactd also bounds calls itself.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}

	resp, err := impactv1.NewEstimatorServiceClient(conn).Estimate(ctx, req)
	if err != nil {
		// An INVALID_ARGUMENT carries a google.rpc.BadRequest naming every
		// problem; status.Convert(err).Details() has it.
		return err
	}
	fmt.Printf("model %s, inputs %s\n", resp.GetModelVersion(), resp.GetInputsDigest())
	for _, inc := range resp.GetIncidents() {
		fmt.Printf("\nincident %s\n", inc.GetIncidentId())
		for _, c := range inc.GetCustomers() {
			lost := c.GetLostRevenue()
			fmt.Printf("  %-16s lost %s %s gross, %s net\n", c.GetCustomerId(),
				lost.GetNet().GetCurrencyCode(), lost.GetGross().GetAmount(), lost.GetNet().GetAmount())
			for _, cr := range c.GetSlaCredits() {
				fmt.Printf("  %-16s credit %s %s on %s for the period from %s\n", "",
					cr.GetCredit().GetCurrencyCode(), cr.GetCredit().GetAmount(), cr.GetService(),
					cr.GetPeriodStart().AsTime().Format(time.RFC3339))
			}
		}
	}
	return nil
}
