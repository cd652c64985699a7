package server

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	impactv1 "github.com/impact-svc/impact/proto/impact/v1"
)

// No string of any request may hold a NUL byte (README, "Ids and text"):
// no field means one, PostgreSQL cannot store it (a 500 before this) and
// SQLite would store it and write it raw into exports. One walk of the
// request refuses it wherever it is, before any handler: INVALID_ARGUMENT
// naming the field. The other control characters are refused field by
// field by impact.CheckText, where tab and newline may be free text.

// nulField returns the path of the first string field of m holding a NUL
// byte, or "" if none does.
func nulField(m protoreflect.Message) string {
	var found string
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len() && found == ""; i++ {
				found = nulValue(fd, l.Get(i), name+"["+strconv.Itoa(i)+"]")
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				key := k.String()
				if strings.IndexByte(key, 0) >= 0 {
					found = name
					return false
				}
				found = nulValue(fd.MapValue(), mv, name+"["+strconv.Quote(key)+"]")
				return found == ""
			})
		default:
			found = nulValue(fd, v, name)
		}
		return found == ""
	})
	return found
}

func nulValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, at string) string {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if strings.IndexByte(v.String(), 0) >= 0 {
			return at
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if sub := nulField(v.Message()); sub != "" {
			return at + "." + sub
		}
	}
	return ""
}

// refuseNUL is the error for a request with a NUL byte, or nil.
func refuseNUL(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	if at := nulField(m.ProtoReflect()); at != "" {
		return invalidField(at, "must not contain NUL bytes")
	}
	return nil
}

// nulUnary refuses unary requests holding a NUL byte. (toStatus logs only
// internal errors; this one is EINVALID.) The stateless Estimate is left
// to the engine, which checks every text field of a scenario itself and
// stores nothing: a reflective walk of its up to 64 MiB would cost more
// than the estimate (100,000 windows: 350 ms).
func nulUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if info.FullMethod == impactv1.EstimatorService_Estimate_FullMethodName {
		return handler(ctx, req)
	}
	if err := refuseNUL(req); err != nil {
		return nil, toStatus(ctx, nil, err, "")
	}
	return handler(ctx, req)
}

// nulStream refuses every message a client streams that holds a NUL byte.
func nulStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &nulCheckedStream{ss})
}

type nulCheckedStream struct{ grpc.ServerStream }

func (s *nulCheckedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := refuseNUL(m); err != nil {
		return toStatus(s.Context(), nil, err, "")
	}
	return nil
}
