package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"maps"
	"math/big"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

// importTarget is where an import reads what exists and writes its rows:
// the database directly (--db) or impactd's API (--server). Both answer in
// domain types and impact error codes (ENOTFOUND for a missing resource),
// so that the checks of import.go are one piece of code for both. The gets
// return the resource's etag too, which an update sends back: a resource
// changed since it was read is then refused (EABORTED), not overwritten.
type importTarget interface {
	getCustomer(ctx context.Context, id string) (*impact.Customer, string, error)
	getContract(ctx context.Context, customerID, service string) (*impact.Contract, string, error)
	getIncident(ctx context.Context, id string) (*impact.Incident, error)
	getWindow(ctx context.Context, incidentID, windowID string) (*impact.OutageWindow, error)
	createCustomer(ctx context.Context, c *impact.Customer, requestID string) error
	createContract(ctx context.Context, customerID string, k *impact.Contract, requestID string) error
	createWindows(ctx context.Context, incidentID string, ws []impact.StoredWindow, requestID string) error
	createIncident(ctx context.Context, in *impact.Incident, requestID string) error
	updateCustomer(ctx context.Context, c *impact.Customer, mask impact.FieldMask, etag string) error
	updateContract(ctx context.Context, customerID string, k *impact.Contract, mask impact.FieldMask, etag string) error
}

// dbTarget is --db. Its gets are served from what prefetch read for the
// chunk being checked (one query per kind and chunk, not one per row), and
// its creates of a chunk go to the store's bulk writes (bulkTarget).
type dbTarget struct {
	db        *store.DB
	customers map[string]*impact.StoredCustomer // prefetched: id → customer, nil when absent
	contracts map[string]*impact.StoredContract // prefetched: by name, for every customer in fetched
	fetched   map[string]bool                   // customer ids whose contracts were prefetched
	windows   map[string]*impact.StoredWindow   // prefetched: by incident and id, nil when absent
}

// prefetcher is a target that reads a chunk's resources in advance.
type prefetcher interface {
	reset()
	prefetch(ctx context.Context, customerIDs []string, contracts bool) error
	prefetchWindows(ctx context.Context, byIncident map[string][]string) error
}

func (t *dbTarget) reset() { t.customers, t.contracts, t.fetched, t.windows = nil, nil, nil, nil }

// prefetchWindows reads the windows ids of each incident.
func (t *dbTarget) prefetchWindows(ctx context.Context, byIncident map[string][]string) error {
	t.windows = map[string]*impact.StoredWindow{}
	for inc, ids := range byIncident {
		if inc == "" || impact.CheckResourceID(inc) != "" {
			continue
		}
		var valid []string
		for _, id := range ids {
			if impact.CheckResourceID(id) == "" {
				valid = append(valid, id)
			}
		}
		ws, err := t.db.BatchGetWindows(ctx, inc, valid)
		if err != nil {
			return err
		}
		for _, id := range valid {
			t.windows[inc+"\x00"+id] = ws[id]
		}
	}
	return nil
}

// prefetch reads the customers ids (and, with contracts, their contracts),
// importChunk at most.
func (t *dbTarget) prefetch(ctx context.Context, ids []string, contracts bool) error {
	var valid []string
	for _, id := range ids {
		if id != "" && impact.CheckResourceID(id) == "" {
			valid = append(valid, id)
		}
	}
	cs, err := t.db.BatchGetCustomers(ctx, valid)
	if err != nil {
		return err
	}
	t.customers = map[string]*impact.StoredCustomer{}
	for _, id := range valid {
		t.customers[id] = cs[id]
	}
	if contracts {
		if t.contracts, err = t.db.BatchGetContracts(ctx, valid); err != nil {
			return err
		}
		t.fetched = map[string]bool{}
		for _, id := range valid {
			t.fetched[id] = true
		}
	}
	return nil
}

func (t *dbTarget) getCustomer(ctx context.Context, id string) (*impact.Customer, string, error) {
	if c, ok := t.customers[id]; ok {
		if c == nil {
			return nil, "", impact.Errorf(impact.ENOTFOUND, "%s not found", impact.CustomerName(id))
		}
		return &c.Customer, c.Etag, nil
	}
	c, err := t.db.GetCustomer(ctx, id)
	if err != nil {
		return nil, "", err
	}
	return &c.Customer, c.Etag, nil
}

func (t *dbTarget) getContract(ctx context.Context, customerID, service string) (*impact.Contract, string, error) {
	if t.fetched[customerID] {
		k := t.contracts[impact.ContractName(customerID, service)]
		if k == nil {
			return nil, "", impact.Errorf(impact.ENOTFOUND, "%s not found", impact.ContractName(customerID, service))
		}
		return &k.Contract, k.Etag, nil
	}
	k, err := t.db.GetContract(ctx, customerID, service)
	if err != nil {
		return nil, "", err
	}
	return &k.Contract, k.Etag, nil
}

// bulkTarget writes a chunk's creates in one transaction.
type bulkTarget interface {
	createCustomers(ctx context.Context, cs []impact.Customer, requestIDs []string) error
	createContracts(ctx context.Context, customerIDs []string, ks []impact.Contract, requestIDs []string) error
}

func (t *dbTarget) createCustomers(ctx context.Context, cs []impact.Customer, requestIDs []string) error {
	_, err := t.db.BulkCreateCustomers(ctx, cs, requestIDs)
	return err
}

func (t *dbTarget) createContracts(ctx context.Context, customerIDs []string, ks []impact.Contract, requestIDs []string) error {
	_, err := t.db.BulkCreateContracts(ctx, customerIDs, ks, requestIDs)
	return err
}

func (t *dbTarget) getIncident(ctx context.Context, id string) (*impact.Incident, error) {
	in, err := t.db.GetIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	return &in.Incident, nil
}

func (t *dbTarget) createIncident(ctx context.Context, in *impact.Incident, requestID string) error {
	_, err := t.db.CreateIncident(ctx, in, requestID)
	return err
}

func (t *dbTarget) getWindow(ctx context.Context, incidentID, windowID string) (*impact.OutageWindow, error) {
	if w, ok := t.windows[incidentID+"\x00"+windowID]; ok {
		if w == nil {
			return nil, impact.Errorf(impact.ENOTFOUND, "%s not found", impact.WindowName(incidentID, windowID))
		}
		return &w.OutageWindow, nil
	}
	w, err := t.db.GetWindow(ctx, incidentID, windowID)
	if err != nil {
		return nil, err
	}
	return &w.OutageWindow, nil
}

func (t *dbTarget) createCustomer(ctx context.Context, c *impact.Customer, requestID string) error {
	_, err := t.db.CreateCustomer(ctx, c, requestID)
	return err
}

func (t *dbTarget) createContract(ctx context.Context, customerID string, k *impact.Contract, requestID string) error {
	_, err := t.db.CreateContract(ctx, customerID, k, requestID)
	return err
}

func (t *dbTarget) createWindows(ctx context.Context, incidentID string, ws []impact.StoredWindow, requestID string) error {
	_, err := t.db.BatchCreateWindows(ctx, incidentID, ws, requestID)
	return err
}

func (t *dbTarget) updateCustomer(ctx context.Context, c *impact.Customer, mask impact.FieldMask, etag string) error {
	_, err := t.db.UpdateCustomer(ctx, c, mask, etag)
	return err
}

func (t *dbTarget) updateContract(ctx context.Context, customerID string, k *impact.Contract, mask impact.FieldMask, etag string) error {
	_, err := t.db.UpdateContract(ctx, customerID, k, mask, etag)
	return err
}

// dialServer connects to impactd at addr: plaintext, or TLS trusting
// exactly the CA in caFile. A token goes into ctx as metadata rather than
// as per-RPC credentials, which gRPC refuses on plaintext: loopback impactd
// may take tokens too.
func dialServer(ctx context.Context, addr, token, caFile string) (*grpc.ClientConn, context.Context, error) {
	creds := insecure.NewCredentials()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("--tls-ca %s: no PEM certificate found", caFile)
		}
		creds = credentials.NewClientTLSFromCert(pool, "")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, nil, fmt.Errorf("--server %s: %w", addr, err)
	}
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	return conn, ctx, nil
}

// apiTarget is --server: impactd's stored-resource services.
type apiTarget struct {
	addr      string
	customers impactv1.CustomerServiceClient
	contracts impactv1.ContractServiceClient
	incidents impactv1.IncidentServiceClient
}

func newAPITarget(addr string, conn *grpc.ClientConn) *apiTarget {
	return &apiTarget{
		addr:      addr,
		customers: impactv1.NewCustomerServiceClient(conn),
		contracts: impactv1.NewContractServiceClient(conn),
		incidents: impactv1.NewIncidentServiceClient(conn),
	}
}

// fromStatus maps the API's answer back to the codes the checks look at:
// NOT_FOUND and INVALID_ARGUMENT (an id the server rejects) are answers
// about the row; anything else is a failure of the call.
func (t *apiTarget) fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.NotFound:
		return impact.Errorf(impact.ENOTFOUND, "%s", st.Message())
	case codes.InvalidArgument:
		return impact.Errorf(impact.EINVALID, "%s", st.Message())
	}
	return fmt.Errorf("--server %s: %s: %s", t.addr, st.Code(), st.Message())
}

// retryCreate calls create up to three times while impactd is unreachable
// or slow. Only creates carrying a request id are retried: a retry of one
// that did reach the database returns its first result and writes nothing.
func retryCreate(ctx context.Context, requestID string, create func() error) error {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return err
			case <-time.After(time.Duration(attempt) * 500 * time.Millisecond):
			}
		}
		err = create()
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded:
			if requestID != "" {
				continue
			}
		}
		return err
	}
	return err
}

// fromProto maps what the API returned through the server's own proto →
// domain mapping, so that a stored resource compares with a row exactly as
// it does on the --db path.
func fromProto(sc *impactv1.Scenario) (*impact.Scenario, error) {
	d, err := server.ScenarioFromProto(sc)
	if err != nil {
		return nil, fmt.Errorf("impactd answered a resource impactctl cannot read: %w", err)
	}
	return d, nil
}

func (t *apiTarget) getCustomer(ctx context.Context, id string) (*impact.Customer, string, error) {
	p, err := t.customers.GetCustomer(ctx, &impactv1.GetCustomerRequest{Name: impact.CustomerName(id)})
	if err != nil {
		return nil, "", t.fromStatus(err)
	}
	sc, err := fromProto(&impactv1.Scenario{Customers: []*impactv1.Customer{p}})
	if err != nil {
		return nil, "", err
	}
	return &sc.Customers[0], p.GetEtag(), nil
}

func (t *apiTarget) getContract(ctx context.Context, customerID, service string) (*impact.Contract, string, error) {
	p, err := t.contracts.GetContract(ctx, &impactv1.GetContractRequest{
		Name: impact.ContractName(customerID, service),
	})
	if err != nil {
		return nil, "", t.fromStatus(err)
	}
	sc, err := fromProto(&impactv1.Scenario{Customers: []*impactv1.Customer{{Contracts: []*impactv1.Contract{p}}}})
	if err != nil {
		return nil, "", err
	}
	return &sc.Customers[0].Contracts[0], p.GetEtag(), nil
}

func (t *apiTarget) getIncident(ctx context.Context, id string) (*impact.Incident, error) {
	p, err := t.incidents.GetIncident(ctx, &impactv1.GetIncidentRequest{Name: impact.IncidentName(id)})
	if err != nil {
		return nil, t.fromStatus(err)
	}
	sc, err := fromProto(&impactv1.Scenario{Incidents: []*impactv1.Incident{p}})
	if err != nil {
		return nil, err
	}
	return &sc.Incidents[0], nil
}

func (t *apiTarget) createIncident(ctx context.Context, in *impact.Incident, requestID string) error {
	return t.fromStatus(retryCreate(ctx, requestID, func() error {
		_, err := t.incidents.CreateIncident(ctx, &impactv1.CreateIncidentRequest{
			IncidentId: in.ID, Incident: server.IncidentToProto(in), RequestId: requestID,
		})
		return err
	}))
}

func (t *apiTarget) getWindow(ctx context.Context, incidentID, windowID string) (*impact.OutageWindow, error) {
	p, err := t.incidents.GetIncidentWindow(ctx, &impactv1.GetIncidentWindowRequest{
		Name: impact.IncidentName(incidentID) + "/windows/" + windowID,
	})
	if err != nil {
		return nil, t.fromStatus(err)
	}
	sc, err := fromProto(&impactv1.Scenario{Incidents: []*impactv1.Incident{{Windows: []*impactv1.IncidentWindow{p}}}})
	if err != nil {
		return nil, err
	}
	return &sc.Incidents[0].Windows[0], nil
}

func (t *apiTarget) createCustomer(ctx context.Context, c *impact.Customer, requestID string) error {
	return t.fromStatus(retryCreate(ctx, requestID, func() error {
		_, err := t.customers.CreateCustomer(ctx, &impactv1.CreateCustomerRequest{
			CustomerId: c.ID, Customer: server.CustomerToProto(c), RequestId: requestID,
		})
		return err
	}))
}

func (t *apiTarget) createContract(ctx context.Context, customerID string, k *impact.Contract, requestID string) error {
	return t.fromStatus(retryCreate(ctx, requestID, func() error {
		_, err := t.contracts.CreateContract(ctx, &impactv1.CreateContractRequest{
			Parent: impact.CustomerName(customerID), Contract: server.ContractToProto(k), RequestId: requestID,
		})
		return err
	}))
}

func (t *apiTarget) createWindows(ctx context.Context, incidentID string, ws []impact.StoredWindow, requestID string) error {
	req := &impactv1.BatchCreateIncidentWindowsRequest{Parent: impact.IncidentName(incidentID), RequestId: requestID}
	for i := range ws {
		req.Requests = append(req.Requests, &impactv1.CreateIncidentWindowRequest{
			OutageWindowId: ws[i].ID, OutageWindow: server.WindowToProto(&ws[i].OutageWindow),
		})
	}
	return t.fromStatus(retryCreate(ctx, requestID, func() error {
		_, err := t.incidents.BatchCreateIncidentWindows(ctx, req)
		return err
	}))
}

// Updates are not retried: a retry of one that did reach the database
// would find a new etag and be refused. ABORTED (the etag read during the
// checks is no longer the current one) keeps its code, so that import can
// say what happened.

func (t *apiTarget) updateFailed(err error) error {
	if status.Code(err) == codes.Aborted {
		return impact.Errorf(impact.EABORTED, "--server %s: ABORTED: %s", t.addr, status.Convert(err).Message())
	}
	return t.fromStatus(err)
}

func (t *apiTarget) updateCustomer(ctx context.Context, c *impact.Customer, mask impact.FieldMask, etag string) error {
	p := server.CustomerToProto(c)
	p.Name, p.Etag = impact.CustomerName(c.ID), etag
	_, err := t.customers.UpdateCustomer(ctx, &impactv1.UpdateCustomerRequest{
		Customer: p, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
	})
	return t.updateFailed(err)
}

func (t *apiTarget) updateContract(ctx context.Context, customerID string, k *impact.Contract, mask impact.FieldMask, etag string) error {
	p := server.ContractToProto(k)
	p.Name, p.Etag = impact.ContractName(customerID, k.Service), etag
	_, err := t.contracts.UpdateContract(ctx, &impactv1.UpdateContractRequest{
		Contract: p, UpdateMask: &fieldmaskpb.FieldMask{Paths: mask},
	})
	return t.updateFailed(err)
}

// Comparing a row with what already exists: a re-run of a file finds the
// rows it imported before, and must take them as done rather than as
// conflicts. Decimals compare by value, since a database may write "0.30"
// back as "0.3".

func sameDecimal(a, b string) bool {
	if a == b {
		return true
	}
	x, okx := new(big.Rat).SetString(a)
	y, oky := new(big.Rat).SetString(b)
	return okx && oky && x.Cmp(y) == 0
}

// Both sides are compared with the defaults in force filled in: the API
// returns them filled, a file leaves them empty.
func sameCustomer(a, b *impact.Customer) bool {
	x, y := a.WithDefaults(), b.WithDefaults()
	a, b = &x, &y
	return a.ID == b.ID && a.DisplayName == b.DisplayName && a.Currency == b.Currency &&
		a.TimeZone == b.TimeZone &&
		sameDecimal(a.Baseline.HourlyAmount, b.Baseline.HourlyAmount) &&
		sameDecimal(a.Baseline.RecaptureRate, b.Baseline.RecaptureRate) &&
		sameDecimal(a.LifetimeValue, b.LifetimeValue) &&
		sameDecimal(a.ChurnProbability, b.ChurnProbability) && maps.Equal(a.Labels, b.Labels)
}

// sameContract compares the columns a contracts file can set.
func sameContract(a, b *impact.Contract) bool {
	x, y := a.WithDefaults(), b.WithDefaults()
	a, b = &x, &y
	if a.Service != b.Service || !sameDecimal(a.MonthlyFee, b.MonthlyFee) || a.BillingPeriod != b.BillingPeriod ||
		a.TimeZone != b.TimeZone || !sameDecimal(a.CreditCapPercent, b.CreditCapPercent) ||
		!sameDecimal(a.MinCreditAmount, b.MinCreditAmount) || a.Degradation != b.Degradation ||
		!sameDecimal(a.DowntimeThreshold, b.DowntimeThreshold) || a.Granularity != b.Granularity ||
		a.MinDowntimeSeconds != b.MinDowntimeSeconds || a.Rounding != b.Rounding || len(a.Tiers) != len(b.Tiers) ||
		!maps.Equal(a.Labels, b.Labels) ||
		a.ClaimPolicy != b.ClaimPolicy {
		return false
	}
	for i := range a.Tiers {
		x, y := a.Tiers[i], b.Tiers[i]
		if !sameDecimal(x.UptimeBelow, y.UptimeBelow) || !sameDecimal(x.CreditPercent, y.CreditPercent) || x.Inclusive != y.Inclusive {
			return false
		}
	}
	return true
}

// sameIncident compares the columns an incidents file can set.
func sameIncident(a, b *impact.Incident) bool {
	x, y := a.WithDefaults(), b.WithDefaults()
	if x.ID != y.ID || x.Title != y.Title || x.Cause != y.Cause || x.RecoveryCurrency != y.RecoveryCurrency ||
		x.Allocation != y.Allocation || len(x.RecoveryItems) != len(y.RecoveryItems) {
		return false
	}
	for i := range x.RecoveryItems {
		p, q := x.RecoveryItems[i], y.RecoveryItems[i]
		if p.CustomerID != q.CustomerID || (p.Labor == nil) != (q.Labor == nil) || (p.Expense == nil) != (q.Expense == nil) {
			return false
		}
		if p.Labor != nil && (p.Labor.Role != q.Labor.Role || !sameDecimal(p.Labor.Hours, q.Labor.Hours) ||
			!sameDecimal(p.Labor.HourlyRate, q.Labor.HourlyRate) || !sameDecimal(or1(p.Labor.Engagement), or1(q.Labor.Engagement))) {
			return false
		}
		if p.Expense != nil && (p.Expense.Description != q.Expense.Description || !sameDecimal(or1(p.Expense.Quantity), or1(q.Expense.Quantity)) ||
			!sameDecimal(p.Expense.UnitCost, q.Expense.UnitCost)) {
			return false
		}
	}
	return true
}

// or1 is a factor that defaults to 1.
func or1(s string) string {
	if s == "" {
		return "1"
	}
	return s
}

func sameWindow(a, b *impact.OutageWindow) bool {
	return a.CustomerID == b.CustomerID && a.Service == b.Service && a.Start.Equal(b.Start) && a.End.Equal(b.End) &&
		sameDecimal(a.ImpactFraction, b.ImpactFraction)
}
