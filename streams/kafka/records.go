package kafka

import (
	"encoding/base64"
	"fmt"
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
	r := &kgo.Record{Topic: topic, Key: []byte(key), Value: b}
	for _, h := range schemas.Headers(v.SchemaName(), producer) {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: []byte(h.Value)})
	}
	return r, nil
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
