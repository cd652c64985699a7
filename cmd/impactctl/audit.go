package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/status"

	"github.com/impact-svc/impact/impact"
	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
	"github.com/impact-svc/impact/server"
	"github.com/impact-svc/impact/store"
)

const auditUsage = `Usage: impactctl audit [flags]

Lists the audit log, newest first: one record per write of a stored
resource (create, update, delete, batch of windows, :estimate, recompute
job), with when, who (the token's name, or "anonymous"), the method, the
resource and a detail (an update's mask, a batch's size). Reads --db, or
impactd's AuditService with --server (an admin's token).

--values adds each record's stored row before and after the write, as JSON
(column by column; empty before a create and after a delete). --json prints
the records as the API's JSON lines (AuditRecord) instead of a table.
`

func runAudit(c *cli, args []string) error {
	f := c.flags("audit", auditUsage)
	dsn := f.db()
	addr := f.string("server", "", "impactd gRPC address HOST:PORT: read through the API instead of --db")
	token := f.string("token", "", "bearer token sent to --server (an admin's)")
	caFile := f.string("tls-ca", "", "PEM CA certificate: use TLS to --server and trust this CA (default plaintext)")
	limitS := f.string("limit", "50", "most records to show, newest first (0: all)")
	values := f.bool("values", "show each record's stored row before and after the write")
	asJSON := f.bool("json", "print the records as JSON lines (the API's AuditRecord)")
	if _, err := f.parse(args, 0); err != nil {
		return err
	}
	limit, err := strconv.Atoi(*limitS)
	if err != nil || limit < 0 {
		return usagef("audit", "--limit must be a non-negative integer, got %q", *limitS)
	}

	// list returns one page of records.
	var list func(token string, size int) ([]*impactv1.AuditRecord, string, error)
	if *addr != "" {
		conn, ctx, err := dialServer(c.ctx, *addr, *token, *caFile)
		if err != nil {
			return err
		}
		defer conn.Close()
		client := impactv1.NewAuditServiceClient(conn)
		list = func(tok string, size int) ([]*impactv1.AuditRecord, string, error) {
			resp, err := client.ListAuditRecords(ctx, &impactv1.ListAuditRecordsRequest{PageSize: int32(size), PageToken: tok})
			if err != nil {
				st := status.Convert(err)
				return nil, "", fmt.Errorf("--server %s: %s: %s", *addr, st.Code(), st.Message())
			}
			return resp.GetAuditRecords(), resp.GetNextPageToken(), nil
		}
	} else {
		db, err := store.Open(c.ctx, *dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		list = func(tok string, size int) ([]*impactv1.AuditRecord, string, error) {
			page, err := db.ListAuditRecords(c.ctx, impact.PageRequest{Size: size, Token: tok})
			if err != nil {
				return nil, "", err
			}
			out := make([]*impactv1.AuditRecord, len(page.Items))
			for i := range page.Items {
				out[i] = server.AuditRecordToProto(&page.Items[i])
			}
			return out, page.NextPageToken, nil
		}
	}

	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	if !*asJSON {
		fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tRESOURCE\tDETAIL")
	}
	shown, tok := 0, ""
	for {
		size := impact.MaxPageSize
		if limit > 0 {
			size = min(size, limit-shown)
		}
		recs, next, err := list(tok, size)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if *asJSON {
				b, err := server.JSONOptions.Marshal.Marshal(r)
				if err != nil {
					return err
				}
				fmt.Fprintln(c.stdout, string(b))
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.GetCreateTime().AsTime().UTC().Format(time.RFC3339),
				r.GetActor(), r.GetAction(), r.GetResource(), r.GetDetail())
			if *values {
				fmt.Fprintf(tw, "\t\tbefore:\t%s\t\n\t\tafter:\t%s\t\n", orNone(r.GetBeforeJson()), orNone(r.GetAfterJson()))
			}
		}
		shown += len(recs)
		if next == "" || (limit > 0 && shown >= limit) {
			break
		}
		tok = next
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
