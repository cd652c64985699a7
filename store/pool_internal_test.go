package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/impact-svc/impact/impact"
)

// PostgreSQL refusing for want of resources (too many clients, out of
// memory or disk), also while connecting, is UNAVAILABLE: the call may
// succeed later. Other errors keep their mapping.
func TestPostgresOverloadedIsUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&pgconn.PgError{Code: "53300", Message: "sorry, too many clients already"}, impact.EUNAVAILABLE},
		{fmt.Errorf("connect: %w", &pgconn.PgError{Code: "53300"}), impact.EUNAVAILABLE},
		{&pgconn.PgError{Code: "53200"}, impact.EUNAVAILABLE},
		{&pgconn.PgError{Code: "23505"}, impact.ECONFLICT},
	} {
		var ie *impact.Error
		if err := translate(tc.err); !errors.As(err, &ie) || ie.Code != tc.want {
			t.Errorf("translate(%v) = %v, want %s", tc.err, err, tc.want)
		}
	}
	if err := translate(&pgconn.PgError{Code: "42601"}); errors.As(err, new(*impact.Error)) {
		t.Errorf("a syntax error became %v, want it internal", err)
	}
}
