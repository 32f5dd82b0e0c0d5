package kafka

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/wattcast/wattcast/schemas"
)

// Producer names a writer in the wattcast-producer header, e.g.
// Producer("v0.1.0", "replay") is "wattcast/v0.1.0 replay".
func Producer(version, component string) string {
	return "wattcast/" + version + " " + component
}

// NewRecord encodes v (validating it) into a record for topic, keyed by key,
// with wattcast's headers.
func NewRecord(topic, key string, v schemas.Value, producer string) (*kgo.Record, error) {
	b, err := schemas.Encode(v)
	if err != nil {
		return nil, fmt.Errorf("kafka: record for %s: %w", topic, err)
	}
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: b, Headers: RecordHeaders(v.SchemaName(), producer)}, nil
}

// RecordHeaders returns wattcast's headers (schemas.Headers) for a value of
// schema written by producer, with their values in one allocation. A writer
// of many records of one schema may give them all the same headers: franz-go
// only reads a record's headers, and the slice is full, so an append to one
// record's headers copies it.
func RecordHeaders(schema, producer string) []kgo.RecordHeader {
	hs := schemas.Headers(schema, producer)
	n := 0
	for _, h := range hs {
		n += len(h.Value)
	}
	buf := make([]byte, 0, n)
	out := make([]kgo.RecordHeader, len(hs))
	for i, h := range hs {
		start := len(buf)
		buf = append(buf, h.Value...)
		out[i] = kgo.RecordHeader{Key: h.Key, Value: buf[start:len(buf):len(buf)]}
	}
	return out
}

// Header returns the value of the first header named key, or "".
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// CheckSchema applies schemas.CheckHeaders to r's headers: nil, or an
// error with reason schemas.ReasonUnknown when r says it is another schema
// or version than want.
func CheckSchema(r *kgo.Record, want string) error {
	if want == "" {
		return nil
	}
	// The common case, headers that agree, allocates nothing: it runs on
	// every record a stage reads.
	for _, h := range r.Headers {
		if len(h.Value) > 0 && (h.Key == schemas.HeaderSchema && string(h.Value) != want ||
			h.Key == schemas.HeaderSchemaVersion && string(h.Value) != schemas.SchemaVersion) {
			return schemas.CheckHeaders(want, func(k string) string { return Header(r, k) })
		}
	}
	return nil
}

// MsgDeadLetters is the message of the log line LogDeadLetters writes;
// CloudWatch's metric filter for the DeadLetters alarm matches it
// (terraform/modules/observability).
const MsgDeadLetters = "dead letters"

// LogDeadLetters logs, at WARN, one line per reason with the number of
// records dead-lettered for it: {"msg":"dead letters","reason":...,
// "count":N,"topic":...}. Call it once the transaction holding them has
// committed, so that an aborted and retried transaction is not counted
// twice. Nothing is logged for no dead letters.
func LogDeadLetters(ctx context.Context, log *slog.Logger, topic string, byReason map[string]int) {
	for _, reason := range slices.Sorted(maps.Keys(byReason)) {
		if n := byReason[reason]; n > 0 {
			log.LogAttrs(ctx, slog.LevelWarn, MsgDeadLetters, slog.String("reason", reason), slog.Int("count", n), slog.String("topic", topic))
		}
	}
}

// NewDeadLetter wraps a rejected record, with why it was rejected, into a
// record for the dead-letter topic. It never fails: the original bytes are
// kept as text, or as base64 when they are not UTF-8.
func NewDeadLetter(dlqTopic string, orig *kgo.Record, reason string, cause error, stage, producer string, now time.Time) *kgo.Record {
	d := &schemas.DeadLetter{
		Topic:     orig.Topic,
		Partition: orig.Partition,
		Offset:    orig.Offset,
		Key:       string(orig.Key),
		Reason:    reason,
		Stage:     stage,
		Time:      now.UTC(),
	}
	if cause != nil {
		d.Error = cause.Error()
	}
	if utf8.Valid(orig.Value) {
		d.Value, d.ValueEncoding = string(orig.Value), "text"
	} else {
		d.Value, d.ValueEncoding = base64.StdEncoding.EncodeToString(orig.Value), "base64"
	}
	if len(orig.Headers) > 0 {
		d.Headers = make(map[string]string, len(orig.Headers))
		for _, h := range orig.Headers {
			d.Headers[h.Key] = string(h.Value)
		}
	}
	r, err := NewRecord(dlqTopic, string(orig.Key), d, producer)
	if err != nil {
		// Only a programming error can get here (the fields above are
		// always set); keep the record rather than lose it.
		return &kgo.Record{Topic: dlqTopic, Key: orig.Key, Value: orig.Value}
	}
	return r
}
