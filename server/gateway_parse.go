package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Gateway parse errors. The generated gateway turns a decoder or query
// parser error into status.Errorf(InvalidArgument, "%v", err), keeping
// only its text. So the decoder and the query parser here return a
// parseError, whose text is a marker and the error as JSON, and
// errorHandler (withErrorInfo) turns that text back into a status with a
// field violation and a specific ErrorInfo reason. The field is named as
// the caller spelled it (a JSON path in the body, "startTime" or
// "scenario.incidents[0].windows[1].startTime", or the query parameter
// key), and the description says what is accepted.

// Reasons of the gateway's own errors (the table in errors.go lists all).
const (
	reasonMalformedBody     = "MALFORMED_BODY"
	reasonUnknownField      = "UNKNOWN_FIELD"
	reasonInvalidFieldValue = "INVALID_FIELD_VALUE"
	reasonUnknownQueryParam = "UNKNOWN_QUERY_PARAMETER"
	reasonInvalidQueryParam = "INVALID_QUERY_PARAMETER"
)

type parseError struct {
	Reason      string `json:"r"`
	Field       string `json:"f,omitempty"`
	Description string `json:"d"`
}

const parseErrorMarker = "impact-gateway-parse-error:"

func (e *parseError) Error() string {
	b, _ := json.Marshal(e)
	return parseErrorMarker + string(b)
}

// parseErrorFrom recovers a parseError from a status message.
func parseErrorFrom(msg string) (*parseError, bool) {
	rest, ok := strings.CutPrefix(msg, parseErrorMarker)
	if !ok {
		return nil, false
	}
	var e parseError
	if json.Unmarshal([]byte(rest), &e) != nil {
		return nil, false
	}
	return &e, true
}

// message is the status message of e, as a person reads it.
func (e *parseError) message() string {
	switch {
	case e.Reason == reasonUnknownQueryParam || e.Reason == reasonInvalidQueryParam:
		return fmt.Sprintf("query parameter %q: %s", e.Field, e.Description)
	case e.Field != "":
		return fmt.Sprintf("request body: %s: %s", e.Field, e.Description)
	default:
		return "request body: " + e.Description
	}
}

// status is e as the gateway answers it: INVALID_ARGUMENT with a field
// violation (when e names a field) and an ErrorInfo of e's reason.
func (e *parseError) status() error {
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: e.Reason, Domain: ErrorDomain}}
	if e.Field != "" {
		details = append([]protoadapt.MessageV1{&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
			Field: e.Field, Description: e.Description,
		}}}}, details...)
	}
	st, err := status.New(codes.InvalidArgument, e.message()).WithDetails(details...)
	if err != nil {
		return status.Error(codes.InvalidArgument, e.message())
	}
	return st.Err()
}

// strictJSON is the gateway's marshaler: runtime.JSONPb, with a decoder
// that refuses data after the JSON value and explains what it refuses.
type strictJSON struct {
	*runtime.JSONPb
}

func (m *strictJSON) NewDecoder(r io.Reader) runtime.Decoder {
	return runtime.DecoderFunc(func(v any) error {
		body, err := io.ReadAll(r)
		if err != nil {
			return err // the size cap: errorHandler answers 413
		}
		if len(bytes.TrimSpace(body)) == 0 {
			return io.EOF // no body: the gateway's default (an empty message)
		}
		// One decoding on the common path: protojson is at least as strict
		// as every check below (a single RFC 8259 value, nothing after it,
		// known fields, valid values), so a body it accepts passes them
		// all. Only a body it refuses is decoded again, by the checks that
		// explain the refusal.
		if msg, ok := v.(proto.Message); ok && m.UnmarshalOptions.Unmarshal(body, msg) == nil {
			return nil
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			return &parseError{Reason: reasonMalformedBody, Description: "not valid JSON: " + jsonSyntax(err, body)}
		}
		if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
			return &parseError{Reason: reasonMalformedBody, Description: fmt.Sprintf(
				"unexpected data after the JSON value at offset %d; send exactly one JSON object", len(body)-len(rest))}
		}
		if err := m.JSONPb.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil {
			if msg := protoMessageOf(v); msg != nil {
				if pe := diagnose(msg.ProtoReflect().Descriptor(), doc, ""); pe != nil {
					return pe
				}
			}
			return &parseError{Reason: reasonInvalidFieldValue, Description: strings.TrimPrefix(
				protojsonDetail.ReplaceAllString(err.Error(), ""), "proto: ")}
		}
		return nil
	})
}

// jsonSyntax describes a JSON syntax error with its byte offset.
func jsonSyntax(err error, body []byte) string {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%v (at offset %d)", se, se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("the body ends inside a value (after %d bytes)", len(body))
	}
	return err.Error()
}

// protoMessageOf is the message a gateway decodes into: v is a proto
// message, or a pointer to a (nil) message field.
func protoMessageOf(v any) proto.Message {
	if m, ok := v.(proto.Message); ok {
		return m
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && rv.Elem().Kind() == reflect.Pointer {
		if m, ok := reflect.New(rv.Elem().Type().Elem()).Interface().(proto.Message); ok {
			return m
		}
	}
	return nil
}

// protojsonDetail is the position protojson puts before its message.
var protojsonDetail = regexp.MustCompile(`\(line \d+:\d+\): `)

const rfc3339Hint = `must be an RFC 3339 timestamp with "Z" or a UTC offset, e.g. "2025-07-01T10:00:00Z" or "2025-07-01T12:00:00+02:00"`

// diagnose finds the first value of doc (decoded JSON) that protojson
// refuses for md, walking fields in the order of the message. It returns
// nil when it finds nothing (the caller then reports protojson's text).
func diagnose(md protoreflect.MessageDescriptor, doc any, path string) *parseError {
	if doc == nil {
		return nil
	}
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return checkWKT(md, doc, path, rfc3339Hint)
	case "google.protobuf.Duration":
		return checkWKT(md, doc, path, `must be a duration in seconds with an "s" suffix, e.g. "1.5s"`)
	case "google.protobuf.FieldMask":
		return checkWKT(md, doc, path, `must be a string of comma-separated field paths, e.g. "displayName,timeZone"`)
	case "google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue", "google.protobuf.Any":
		return nil
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return invalidValue(path, "must be a JSON object (%s)", md.FullName())
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	oneofs := map[protoreflect.FullName]string{}
	for _, k := range keys {
		fd := md.Fields().ByJSONName(k)
		if fd == nil {
			fd = md.Fields().ByTextName(k)
		}
		p := joinJSONPath(path, k)
		if fd == nil {
			return &parseError{Reason: reasonUnknownField, Field: p, Description: fmt.Sprintf(
				"unknown field of %s (fields are accepted in lowerCamelCase or snake_case)", md.FullName())}
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && obj[k] != nil {
			if other, dup := oneofs[od.FullName()]; dup {
				return invalidValue(p, "only one of %s and %s may be set", other, k)
			}
			oneofs[od.FullName()] = k
		}
		if pe := diagnoseField(fd, obj[k], p); pe != nil {
			return pe
		}
	}
	return nil
}

func diagnoseField(fd protoreflect.FieldDescriptor, v any, path string) *parseError {
	if v == nil {
		return nil // null is "unset" for every field
	}
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			return invalidValue(path, "must be a JSON object")
		}
		for k, e := range obj {
			if pe := diagnoseValue(fd.MapValue(), e, path+"["+strconv.Quote(k)+"]"); pe != nil {
				return pe
			}
		}
		return nil
	case fd.IsList():
		arr, ok := v.([]any)
		if !ok {
			return invalidValue(path, "must be a JSON array")
		}
		for i, e := range arr {
			if pe := diagnoseValue(fd, e, fmt.Sprintf("%s[%d]", path, i)); pe != nil {
				return pe
			}
		}
		return nil
	}
	return diagnoseValue(fd, v, path)
}

// diagnoseValue checks one value of fd's kind (one element of a list).
func diagnoseValue(fd protoreflect.FieldDescriptor, v any, path string) *parseError {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return diagnose(fd.Message(), v, path)
	case protoreflect.EnumKind:
		return checkEnumValue(fd.Enum(), v, path)
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			return invalidValue(path, "must be true or false")
		}
	case protoreflect.StringKind:
		if _, ok := v.(string); !ok {
			return invalidValue(path, "must be a JSON string")
		}
	case protoreflect.BytesKind:
		if _, ok := v.(string); !ok {
			return invalidValue(path, "must be a base64 string")
		}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch x := v.(type) {
		case json.Number:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil && x != "NaN" && x != "Infinity" && x != "-Infinity" {
				return invalidValue(path, "must be a number")
			}
		default:
			return invalidValue(path, "must be a number")
		}
	default: // the integer kinds
		return checkInteger(fd.Kind(), v, path)
	}
	return nil
}

func checkWKT(md protoreflect.MessageDescriptor, v any, path, hint string) *parseError {
	b, err := json.Marshal(v)
	if err != nil {
		return invalidValue(path, "%s", hint)
	}
	m := dynamicOf(md)
	if m == nil {
		return nil
	}
	if protojson.Unmarshal(b, m) != nil {
		return invalidValue(path, "%s; got %s", hint, b)
	}
	return nil
}

// dynamicOf is a new message of md's type, from the global registry.
func dynamicOf(md protoreflect.MessageDescriptor) proto.Message {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName())
	if err != nil {
		return nil
	}
	return mt.New().Interface()
}

func checkEnumValue(ed protoreflect.EnumDescriptor, v any, path string) *parseError {
	var names []string
	for i := 0; i < ed.Values().Len(); i++ {
		if n := ed.Values().Get(i); n.Number() != 0 {
			names = append(names, string(n.Name()))
		}
	}
	switch x := v.(type) {
	case string:
		if ed.Values().ByName(protoreflect.Name(x)) != nil {
			return nil
		}
		return invalidValue(path, "%q is not one of %s", x, strings.Join(names, ", "))
	case json.Number:
		if n, err := x.Int64(); err == nil && n >= math.MinInt32 && n <= math.MaxInt32 {
			return nil
		}
	}
	return invalidValue(path, "must be one of %s", strings.Join(names, ", "))
}

func checkInteger(k protoreflect.Kind, v any, path string) *parseError {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return invalidValue(path, "must be an integer (a JSON number or a string of digits)")
	}
	bits, unsigned := 64, false
	switch k {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		bits = 32
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		bits, unsigned = 32, true
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		unsigned = true
	}
	var err error
	if unsigned {
		_, err = strconv.ParseUint(s, 10, bits)
	} else {
		_, err = strconv.ParseInt(s, 10, bits)
	}
	if err != nil {
		return invalidValue(path, "must be an integer (a JSON number or a string of digits) of %d bits%s; got %q",
			bits, map[bool]string{true: ", not negative", false: ""}[unsigned], s)
	}
	return nil
}

func invalidValue(path, format string, args ...any) *parseError {
	return &parseError{Reason: reasonInvalidFieldValue, Field: path, Description: fmt.Sprintf(format, args...)}
}

func joinJSONPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// strictQuery is the gateway's query parameter parser: every parameter
// must name a field of the request (lowerCamelCase or snake_case, dotted
// for nested fields), and a value the field cannot hold is explained.
type strictQuery struct{ runtime.DefaultQueryParser }

func (q *strictQuery) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	md := msg.ProtoReflect().Descriptor()
	for _, k := range keys {
		fd, ok := queryField(md, k)
		if !ok {
			return &parseError{Reason: reasonUnknownQueryParam, Field: k, Description: fmt.Sprintf(
				"not a parameter of this method; %s has: %s", md.Name(), strings.Join(queryParams(md, ""), ", "))}
		}
		if fd == nil {
			continue // a path parameter, or the body's field
		}
		for _, v := range values[k] {
			if pe := checkQueryValue(fd, v, k); pe != nil {
				return pe
			}
		}
	}
	if err := q.DefaultQueryParser.Parse(msg, values, filter); err != nil {
		return &parseError{Reason: reasonInvalidQueryParam, Description: err.Error()}
	}
	return nil
}

// queryField resolves a query key to its field. ok is false for a key
// naming no field; fd is nil for a message-typed field (set through the
// path or the body, which the default parser leaves to them).
func queryField(md protoreflect.MessageDescriptor, key string) (fd protoreflect.FieldDescriptor, ok bool) {
	parts := strings.Split(key, ".")
	for i, p := range parts {
		// A map entry is field[key] (labels[region]=eu-west-1).
		name, entry, isEntry := strings.Cut(p, "[")
		if isEntry {
			if !strings.HasSuffix(entry, "]") || i != len(parts)-1 {
				return nil, false
			}
			fd = md.Fields().ByJSONName(name)
			if fd == nil {
				fd = md.Fields().ByTextName(name)
			}
			if fd == nil || !fd.IsMap() {
				return nil, false
			}
			return fd.MapValue(), true
		}
		fd = md.Fields().ByJSONName(p)
		if fd == nil {
			fd = md.Fields().ByTextName(p)
		}
		if fd == nil {
			return nil, false
		}
		if fd.Kind() != protoreflect.MessageKind {
			return fd, i == len(parts)-1
		}
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask":
			return fd, i == len(parts)-1
		}
		md = fd.Message()
	}
	return nil, true
}

// queryParams lists the scalar parameters of md, for the error message.
func queryParams(md protoreflect.MessageDescriptor, prefix string) []string {
	var out []string
	for i := 0; i < md.Fields().Len(); i++ {
		fd := md.Fields().Get(i)
		name := prefix + fd.JSONName()
		if fd.Kind() == protoreflect.MessageKind {
			switch fd.Message().FullName() {
			case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask":
				out = append(out, name)
			}
			continue
		}
		out = append(out, name)
	}
	return out
}

func checkQueryValue(fd protoreflect.FieldDescriptor, v, key string) *parseError {
	var pe *parseError
	switch fd.Kind() {
	case protoreflect.MessageKind:
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			pe = checkWKT(fd.Message(), v, key, rfc3339Hint)
		case "google.protobuf.Duration":
			pe = checkWKT(fd.Message(), v, key, `must be a duration in seconds with an "s" suffix, e.g. "1.5s"`)
		}
	case protoreflect.EnumKind:
		pe = checkEnumValue(fd.Enum(), v, key)
	case protoreflect.BoolKind:
		if _, err := strconv.ParseBool(v); err != nil {
			pe = invalidValue(key, "must be true or false")
		}
	case protoreflect.StringKind, protoreflect.BytesKind:
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			pe = invalidValue(key, "must be a number")
		}
	default:
		pe = checkInteger(fd.Kind(), v, key)
	}
	if pe != nil {
		pe.Reason = reasonInvalidQueryParam
	}
	return pe
}
