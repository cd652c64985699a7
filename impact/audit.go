package impact

import (
	"context"
	"strconv"
	"time"
)

// AuditRecord is one row of the audit log: who wrote what, when, and the
// stored row of the resource before and after the write.
type AuditRecord struct {
	ID       int64
	Actor    string // the token's name, or Anonymous
	Action   string // the method, e.g. "UpdateCustomer"
	Resource string // the resource's name, e.g. "customers/acme"
	Detail   string // e.g. the update mask
	Time     time.Time
	// Before and After are the resource's stored row as a JSON object
	// (column name → value), "" where there is none: Before of a create,
	// After of a delete, and both on rows written before they were kept.
	Before, After string
}

// AuditName is the resource name of audit record id, "auditRecords/{id}".
func AuditName(id int64) string { return "auditRecords/" + strconv.FormatInt(id, 10) }

// AuditStore reads the audit log.
type AuditStore interface {
	// ListAuditRecords lists the audit log newest first.
	ListAuditRecords(ctx context.Context, p PageRequest) (*Page[AuditRecord], error)
}
