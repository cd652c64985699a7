package server

import (
	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// Exported wrappers of the resource mapping, for cmd/impactctl's import
// through the API: it builds create requests from rows it validated as the
// domain types, so it must map them exactly as the server maps them back.
// They add nothing: the mapping lives in resources_mapping.go.

// CustomerToProto maps a customer to create to its proto, without the
// stored metadata (name, times, etag).
func CustomerToProto(c *impact.Customer) *impactv1.Customer {
	return customerToProto(&impact.StoredCustomer{Customer: *c})
}

// ContractToProto maps a contract to create to its proto, without the
// stored metadata.
func ContractToProto(k *impact.Contract) *impactv1.Contract {
	return contractToProto(&impact.StoredContract{Contract: *k})
}

// WindowToProto maps an outage window to create to its proto, without a
// name (the id travels as the request's outage_window_id).
func WindowToProto(w *impact.OutageWindow) *impactv1.IncidentWindow {
	return windowToProto(&impact.StoredWindow{OutageWindow: *w})
}

// StoredCustomerToProto maps a stored customer to the Customer that
// GetCustomer returns for it (cmd/impactctl's export).
func StoredCustomerToProto(c *impact.StoredCustomer) *impactv1.Customer { return customerToProto(c) }

// StoredContractToProto maps a stored contract to the Contract that
// GetContract returns for it.
func StoredContractToProto(k *impact.StoredContract) *impactv1.Contract { return contractToProto(k) }

// StoredWindowToProto maps a stored outage window to the IncidentWindow that
// GetIncidentWindow returns for it.
func StoredWindowToProto(w *impact.StoredWindow) *impactv1.IncidentWindow { return windowToProto(w) }

// IncidentToProto maps an incident to create to its proto, without the
// stored metadata.
func IncidentToProto(in *impact.Incident) *impactv1.Incident {
	return incidentToProto(&impact.StoredIncident{Incident: *in})
}
