package server

import (
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec wrapped here
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// vtCodec is the "proto" codec of every gRPC server and client of this
// process (the JSON gateway's link included): messages with generated
// vtprotobuf code (every impact.v1 message, see buf.gen.yaml) are encoded
// and decoded by it, without reflection; any other message (health checks,
// reflection, status details) goes to grpc-go's own codec. The bytes are
// the same protobuf encoding either way.
//
// The generated decoder does not check that string fields are UTF-8, as
// proto3 requires and proto.Unmarshal does. So a message is decoded by it
// only after validUTF8 has checked every string field of the wire bytes;
// a message that fails that check, or any error of the fast decoder, is
// decoded again by proto.Unmarshal, so a bad message is refused exactly as
// before, with the same error.
type vtCodec struct{ fallback encoding.CodecV2 }

type vtMessage interface {
	proto.Message
	SizeVT() int
	MarshalToSizedBufferVT([]byte) (int, error)
	UnmarshalVT([]byte) error
}

func init() {
	encoding.RegisterCodecV2(vtCodec{fallback: encoding.GetCodecV2("proto")})
}

func (vtCodec) Name() string { return "proto" }

func (c vtCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(vtMessage)
	if !ok {
		return c.fallback.Marshal(v)
	}
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf := make([]byte, size)
		if _, err := m.MarshalToSizedBufferVT(buf); err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if _, err := m.MarshalToSizedBufferVT((*buf)[:size]); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

func (c vtCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(vtMessage)
	if !ok {
		return c.fallback.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	if !validUTF8(b, m.ProtoReflect().Descriptor(), 0) || m.UnmarshalVT(b) != nil {
		return c.fallback.Unmarshal(data, v)
	}
	return nil
}

// maxUTF8Depth bounds validUTF8's recursion like proto.Unmarshal's
// default recursion limit; deeper input goes to proto.Unmarshal.
const maxUTF8Depth = 10000

// validUTF8 reports whether every string field in the wire bytes b of a
// message md that must be UTF-8 (proto3) is, looking into nested messages
// and map entries. Malformed input is false: the fallback reports it.
func validUTF8(b []byte, md protoreflect.MessageDescriptor, depth int) bool {
	if depth > maxUTF8Depth {
		return false
	}
	fields := md.Fields()
	// Repeated fields come as runs of one number (the weekly profile is 168
	// strings): the descriptor and its rule are looked up once per run.
	lastNum := protowire.Number(-1)
	var fd protoreflect.FieldDescriptor
	var kind protoreflect.Kind
	var strict bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return false
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num != lastNum {
			lastNum = num
			if fd = fields.ByNumber(num); fd != nil {
				kind, strict = fd.Kind(), fd.Kind() == protoreflect.StringKind && enforceUTF8(fd)
			}
		}
		if fd == nil {
			continue // unknown: kept as bytes
		}
		switch kind {
		case protoreflect.StringKind:
			if strict && !utf8.Valid(v) {
				return false
			}
		case protoreflect.MessageKind:
			if !validUTF8(v, fd.Message(), depth+1) {
				return false
			}
		}
	}
	return true
}

// enforceUTF8 is protobuf-go's rule: proto3 strings, or as the edition's
// features say.
func enforceUTF8(fd protoreflect.FieldDescriptor) bool {
	if x, ok := fd.(interface{ EnforceUTF8() bool }); ok {
		return x.EnforceUTF8()
	}
	return fd.Syntax() == protoreflect.Proto3
}
