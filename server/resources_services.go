package server

import (
	"context"
	"fmt"
	"regexp"

	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Customers.

func (s *Stored) CreateCustomer(ctx context.Context, req *impactv1.CreateCustomerRequest) (*impactv1.Customer, error) {
	c, err := s.customerFromProto(req.GetCustomer(), req.GetCustomerId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	sc, err := s.store.CreateCustomer(ctx, c, req.GetRequestId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return customerToProto(sc), nil
}

// customerFromProto maps and validates a customer to create.
func (s *Stored) customerFromProto(p *impactv1.Customer, reqID string) (*impact.Customer, error) {
	if p == nil {
		return nil, invalidField("customer", "is required")
	}
	id, err := resolveID("customer_id", reqID, "customer.customer_id", p.GetCustomerId())
	if err != nil {
		return nil, err
	}
	var d decoder
	c := d.customer("customer", p)
	if len(p.GetContracts()) > 0 {
		d.fail("customer.contracts", "must be empty: contracts are created with ContractService")
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	c.ID = id
	if err := invalidResource("customer", impact.ValidateCustomer(&c, s.limits)); err != nil {
		return nil, err
	}
	return &c, nil
}

func (s *Stored) GetCustomer(ctx context.Context, req *impactv1.GetCustomerRequest) (*impactv1.Customer, error) {
	ids, err := parseName("name", req.GetName(), "customers")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	c, err := s.store.GetCustomer(ctx, ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return customerToProto(c), nil
}

func (s *Stored) ListCustomers(ctx context.Context, req *impactv1.ListCustomersRequest) (*impactv1.ListCustomersResponse, error) {
	page, err := s.store.ListCustomers(ctx, pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListCustomersResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.Customers = append(resp.Customers, customerToProto(&page.Items[i]))
	}
	return resp, nil
}

func (s *Stored) UpdateCustomer(ctx context.Context, req *impactv1.UpdateCustomerRequest) (*impactv1.Customer, error) {
	p := req.GetCustomer()
	ids, err := parseName("customer.name", p.GetName(), "customers")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	mask, err := updateMask(req.GetUpdateMask(), p, "customer_id", ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var d decoder
	c := d.customer("customer", p)
	if err := d.err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	c.ID = ids[0]
	cur, err := s.store.GetCustomer(ctx, ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	// The customer the update makes, by the table the store writes with.
	next := cur.Customer
	if err := impact.CustomerMask.Apply(&next, &c, mask); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := invalidResource("customer", impact.ValidateCustomer(&next, s.limits)); err != nil {
		return nil, s.fail(ctx, err)
	}
	// Without a client etag, the one read makes the store refuse to write
	// over a concurrent update: what was validated is what is written.
	etag := p.GetEtag()
	if etag == "" {
		etag = cur.Etag
	}
	sc, err := s.store.UpdateCustomer(ctx, &c, mask, etag)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return customerToProto(sc), nil
}

func (s *Stored) DeleteCustomer(ctx context.Context, req *impactv1.DeleteCustomerRequest) (*emptypb.Empty, error) {
	ids, err := parseName("name", req.GetName(), "customers")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.DeleteCustomer(ctx, ids[0], req.GetEtag()); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

// Contracts.

func (s *Stored) CreateContract(ctx context.Context, req *impactv1.CreateContractRequest) (*impactv1.Contract, error) {
	ids, err := parseName("parent", req.GetParent(), "customers")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	k, err := s.contractFromProto(ctx, ids[0], req.GetContract(), req.GetContractId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	sk, err := s.store.CreateContract(ctx, ids[0], k, req.GetRequestId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return contractToProto(sk), nil
}

// contractFromProto maps and validates a contract of a stored customer
// (NOT_FOUND when there is none): the contract is checked within its
// customer, whose currency its amounts are in.
func (s *Stored) contractFromProto(ctx context.Context, customerID string, p *impactv1.Contract, reqID string) (*impact.Contract, error) {
	if p == nil {
		return nil, invalidField("contract", "is required")
	}
	id, err := resolveID("contract_id", reqID, "contract.service", p.GetService())
	if err != nil {
		return nil, err
	}
	var d decoder
	k := d.contract("contract", p)
	if err := d.err(); err != nil {
		return nil, err
	}
	k.Service = id
	// The customer must exist (NOT_FOUND before any violation).
	if _, err := s.store.GetCustomer(ctx, customerID); err != nil {
		return nil, err
	}
	if err := invalidResource("contract", impact.ValidateContract(&k, s.limits)); err != nil {
		return nil, err
	}
	return &k, nil
}

func (s *Stored) GetContract(ctx context.Context, req *impactv1.GetContractRequest) (*impactv1.Contract, error) {
	ids, err := parseName("name", req.GetName(), "customers", "contracts")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	k, err := s.store.GetContract(ctx, ids[0], ids[1])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return contractToProto(k), nil
}

func (s *Stored) ListContracts(ctx context.Context, req *impactv1.ListContractsRequest) (*impactv1.ListContractsResponse, error) {
	ids, err := parseName("parent", req.GetParent(), "customers")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.ListContracts(ctx, ids[0], pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListContractsResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.Contracts = append(resp.Contracts, contractToProto(&page.Items[i]))
	}
	return resp, nil
}

func (s *Stored) UpdateContract(ctx context.Context, req *impactv1.UpdateContractRequest) (*impactv1.Contract, error) {
	p := req.GetContract()
	ids, err := parseName("contract.name", p.GetName(), "customers", "contracts")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	mask, err := updateMask(req.GetUpdateMask(), p, "service", ids[1])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	mask = wholeClaimPolicy(mask)
	var d decoder
	k := d.contract("contract", p)
	if err := d.err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	k.Service = ids[1]
	cur, err := s.store.GetContract(ctx, ids[0], ids[1])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	next := cur.Contract // see UpdateCustomer
	if err := impact.ContractMask.Apply(&next, &k, mask); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := invalidResource("contract", impact.ValidateContract(&next, s.limits)); err != nil {
		return nil, s.fail(ctx, err)
	}
	etag := p.GetEtag()
	if etag == "" {
		etag = cur.Etag // see UpdateCustomer
	}
	sk, err := s.store.UpdateContract(ctx, ids[0], &k, mask, etag)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return contractToProto(sk), nil
}

func (s *Stored) DeleteContract(ctx context.Context, req *impactv1.DeleteContractRequest) (*emptypb.Empty, error) {
	ids, err := parseName("name", req.GetName(), "customers", "contracts")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.DeleteContract(ctx, ids[0], ids[1], req.GetEtag()); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

// Incidents.

func (s *Stored) CreateIncident(ctx context.Context, req *impactv1.CreateIncidentRequest) (*impactv1.Incident, error) {
	in, err := s.incidentFromProto(req.GetIncident(), req.GetIncidentId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	si, err := s.store.CreateIncident(ctx, in, req.GetRequestId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return incidentToProto(si), nil
}

// incidentFromProto maps and validates an incident without windows. The
// rules on recovery items that need windows (a shared item needs an
// affected customer, an item's customer must have a window) can only hold
// once windows exist, so the check gives the incident a stand-in window for
// each customer its items name, and one more; :estimate checks the real ones.
func (s *Stored) incidentFromProto(p *impactv1.Incident, reqID string) (*impact.Incident, error) {
	if p == nil {
		return nil, invalidField("incident", "is required")
	}
	id, err := resolveID("incident_id", reqID, "incident.incident_id", p.GetIncidentId())
	if err != nil {
		return nil, err
	}
	var d decoder
	in := d.incident("incident", p)
	if len(p.GetWindows()) > 0 {
		d.fail("incident.windows", "must be empty: windows are created with BatchCreateIncidentWindows")
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	in.ID = id
	if err := invalidResource("incident", impact.ValidateIncident(&in, s.limits)); err != nil {
		return nil, err
	}
	return &in, nil
}

func (s *Stored) GetIncident(ctx context.Context, req *impactv1.GetIncidentRequest) (*impactv1.Incident, error) {
	ids, err := parseName("name", req.GetName(), "incidents")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	in, err := s.store.GetIncident(ctx, ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return incidentToProto(in), nil
}

func (s *Stored) ListIncidents(ctx context.Context, req *impactv1.ListIncidentsRequest) (*impactv1.ListIncidentsResponse, error) {
	f, err := incidentFilter(req.GetFilter(), req.GetOrderBy())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.ListIncidentsBy(ctx, f, pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListIncidentsResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.Incidents = append(resp.Incidents, incidentToProto(&page.Items[i]))
	}
	return resp, nil
}

func (s *Stored) UpdateIncident(ctx context.Context, req *impactv1.UpdateIncidentRequest) (*impactv1.Incident, error) {
	p := req.GetIncident()
	ids, err := parseName("incident.name", p.GetName(), "incidents")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	mask, err := updateMask(req.GetUpdateMask(), p, "incident_id", ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var d decoder
	in := d.incident("incident", p)
	if err := d.err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	in.ID = ids[0]
	cur, err := s.store.GetIncident(ctx, ids[0])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	next := cur.Incident // see UpdateCustomer
	if err := impact.IncidentMask.Apply(&next, &in, mask); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := invalidResource("incident", impact.ValidateIncident(&next, s.limits)); err != nil {
		return nil, s.fail(ctx, err)
	}
	etag := p.GetEtag()
	if etag == "" {
		etag = cur.Etag // see UpdateCustomer
	}
	si, err := s.store.UpdateIncident(ctx, &in, mask, etag)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return incidentToProto(si), nil
}

func (s *Stored) DeleteIncident(ctx context.Context, req *impactv1.DeleteIncidentRequest) (*emptypb.Empty, error) {
	ids, err := parseName("name", req.GetName(), "incidents")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.DeleteIncident(ctx, ids[0], req.GetEtag(), req.GetForce()); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &emptypb.Empty{}, nil
}

// Outage windows.

func (s *Stored) BatchCreateIncidentWindows(ctx context.Context, req *impactv1.BatchCreateIncidentWindowsRequest) (*impactv1.BatchCreateIncidentWindowsResponse, error) {
	ids, err := parseName("parent", req.GetParent(), "incidents")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ws, err := s.windowsFromProto(ctx, ids[0], req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	created, err := s.store.BatchCreateWindows(ctx, ids[0], ws, req.GetRequestId())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.BatchCreateIncidentWindowsResponse{OutageWindows: make([]*impactv1.IncidentWindow, len(created))}
	for i := range created {
		resp.OutageWindows[i] = windowToProto(&created[i])
	}
	return resp, nil
}

// windowsFromProto maps and validates a batch: each window as the engine
// would check it in a scenario (times, length, fraction), with paths of the
// request ("requests[3].outage_window.end_time"). That the customers exist
// is the store's check, made in the same transaction as the insert.
func (s *Stored) windowsFromProto(ctx context.Context, incidentID string, req *impactv1.BatchCreateIncidentWindowsRequest) ([]impact.StoredWindow, error) {
	rs := req.GetRequests()
	switch {
	case len(rs) == 0:
		return nil, invalidField("requests", "must hold at least one window")
	case len(rs) > impact.MaxBatchWindows:
		return nil, invalidField("requests", "holds %d windows; at most %d per batch", len(rs), impact.MaxBatchWindows)
	}
	var d decoder
	ws := make([]impact.StoredWindow, len(rs))
	check := make([]impact.OutageWindow, len(rs))
	for i, r := range rs {
		path := fmt.Sprintf("requests[%d]", i)
		if r.GetParent() != "" && r.GetParent() != req.GetParent() {
			d.fail(path+".parent", "must be empty or %q", req.GetParent())
		}
		p := r.GetOutageWindow()
		if p == nil {
			d.fail(path+".outage_window", "is required")
			continue
		}
		wp := path + ".outage_window"
		w := impact.OutageWindow{
			CustomerID:     p.GetCustomerId(),
			Service:        p.GetService(),
			Start:          d.time(wp+".start_time", p.GetStartTime()),
			End:            d.time(wp+".end_time", p.GetEndTime()),
			ImpactFraction: p.GetImpactFraction(),
		}
		ws[i] = impact.StoredWindow{ID: r.GetOutageWindowId(), OutageWindow: w}
		check[i] = w
	}
	if err := d.err(); err != nil {
		return nil, err
	}
	if vs := impact.ValidateWindows(check, s.limits); len(vs) > 0 {
		out := &impact.Error{Code: impact.EINVALID, Message: "invalid windows"}
		for _, v := range vs {
			// windows[i].x is requests[i].outage_window.x.
			p := append(impact.Path{{Name: "requests", Index: v.Path[0].Index}, {Name: "outage_window", Index: -1}}, v.Path[1:]...)
			out.Violations = append(out.Violations, impact.FieldViolation{Field: p.String(), Description: v.Description, Path: p})
		}
		return nil, out
	}
	return ws, nil
}

func (s *Stored) GetIncidentWindow(ctx context.Context, req *impactv1.GetIncidentWindowRequest) (*impactv1.IncidentWindow, error) {
	ids, err := parseName("name", req.GetName(), "incidents", "windows")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	w, err := s.store.GetWindow(ctx, ids[0], ids[1])
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return windowToProto(w), nil
}

// windowFilter is the one filter ListIncidentWindows understands (AIP-160):
// customer_id = "c1" (quotes optional for a plain id).
var windowFilter = regexp.MustCompile(`^\s*customer_id\s*=\s*(?:"([^"/]+)"|([A-Za-z0-9._~-]+))\s*$`)

func (s *Stored) ListIncidentWindows(ctx context.Context, req *impactv1.ListIncidentWindowsRequest) (*impactv1.ListIncidentWindowsResponse, error) {
	ids, err := parseName("parent", req.GetParent(), "incidents")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var f impact.WindowFilter
	if req.GetFilter() != "" {
		m := windowFilter.FindStringSubmatch(req.GetFilter())
		if m == nil {
			return nil, s.fail(ctx, invalidField("filter", `must be empty or customer_id = "CUSTOMER"`))
		}
		f.CustomerID = m[1] + m[2]
	}
	page, err := s.store.ListWindows(ctx, ids[0], f, pageRequest(req.GetPageSize(), req.GetPageToken()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &impactv1.ListIncidentWindowsResponse{NextPageToken: page.NextPageToken}
	for i := range page.Items {
		resp.OutageWindows = append(resp.OutageWindows, windowToProto(&page.Items[i]))
	}
	return resp, nil
}

func (s *Stored) DeleteIncidentWindow(ctx context.Context, req *impactv1.DeleteIncidentWindowRequest) (*emptypb.Empty, error) {
	ids, err := parseName("name", req.GetName(), "incidents", "windows")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.DeleteWindow(ctx, ids[0], ids[1]); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &emptypb.Empty{}, nil
}
