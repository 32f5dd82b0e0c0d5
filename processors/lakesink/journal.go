package lakesink

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// JournalPrefix is where batch journals live in the store, beside the
// tables. Athena and Spark never read it: it is outside every table's
// location.
const JournalPrefix = "_lakesink/batches/"

// journal records the bounds of one batch before any of its files is
// written. Its key is a function of where the batch starts, so whoever
// resumes that partition at that offset finds it.
type journal struct {
	Version   int           `json:"version"`
	Topic     string        `json:"topic"`
	Partition int32         `json:"partition"`
	First     int64         `json:"first"`
	Last      int64         `json:"last"`
	Records   int           `json:"records"`
	Files     []journalFile `json:"files"`
}

type journalFile struct {
	Key  string `json:"key"`
	Rows int    `json:"rows"`
}

// journalKey is the journal of the batch of topic/partition starting at
// first. Offsets are zero-padded so that a listing sorts by offset.
func journalKey(topic string, partition int32, first int64) string {
	return fmt.Sprintf("%s%020d.json", journalPrefix(topic, partition), first)
}

// journalPrefix is the folder of topic/partition's journals.
func journalPrefix(topic string, partition int32) string {
	return fmt.Sprintf("%s%s/p%d/", JournalPrefix, topic, partition)
}

// journalStart parses the first offset out of a journal key under prefix.
// Other keys (a temporary file, a stray object) are not journals.
func journalStart(prefix, key string) (int64, bool) {
	name, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return 0, false
	}
	digits, ok := strings.CutSuffix(name, ".json")
	if !ok || len(digits) != 20 {
		return 0, false
	}
	off, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || off < 0 {
		return 0, false
	}
	return off, true
}

func decodeJournal(data []byte, key string) (journal, error) {
	var j journal
	if err := json.Unmarshal(data, &j); err != nil {
		return journal{}, fmt.Errorf("lakesink: batch journal %s is not valid JSON: %w (delete it only if no file of its batch exists)", key, err)
	}
	if j.Last < j.First {
		return journal{}, fmt.Errorf("lakesink: batch journal %s has last offset %d before first %d", key, j.Last, j.First)
	}
	return j, nil
}
