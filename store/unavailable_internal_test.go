package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/impact-svc/impact/impact"
)

func TestTranslateConnectionLoss(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}, impact.EUNAVAILABLE},
		{&pgconn.PgError{Code: "08006"}, impact.EUNAVAILABLE},
		{fmt.Errorf("query: %w", io.ErrUnexpectedEOF), impact.EUNAVAILABLE},
		{driver.ErrBadConn, impact.EUNAVAILABLE},
		{&pgconn.PgError{Code: "42P01", Message: `relation "x" does not exist`}, ""},
		{context.DeadlineExceeded, ""},
		{errors.New("something else"), ""},
	} {
		got := translate(tc.err)
		if code := impact.ErrorCode(got); tc.want != "" && code != tc.want {
			t.Errorf("%v: got %v, want %s", tc.err, got, tc.want)
		} else if tc.want == "" && got != tc.err {
			t.Errorf("%v: translated to %v, want it left alone", tc.err, got)
		}
	}
}
