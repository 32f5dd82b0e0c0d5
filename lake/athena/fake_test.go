package athena

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/athena"
)

// fakeAthena is a FAKE Athena endpoint: Athena cannot run here, so this
// serves the awsJson1_1 protocol of the four operations the package calls,
// from a scripted query, and checks the SigV4 signature of every request
// with the independent verifier in sigv4_test.go. It is not a SQL engine:
// the SQL is recorded, not run.
type fakeAthena struct {
	t         *testing.T
	accessKey string
	secretKey string
	signTime  time.Time

	// The scripted query.
	states     []string // successive GetQueryExecution states; the last repeats
	stmtType   string   // DML, DDL or UTILITY
	failReason string
	failCat    int
	stopErr    string // error type StopQueryExecution answers with; "" succeeds
	columns    []Column
	rows       [][]*string // data rows; a DML result gets a header row first

	mu        sync.Mutex
	calls     []string
	startBody map[string]any
	pageSizes []int
	tokens    []string
	stopped   []string
	polls     int
}

const fakeQueryID = "7f3c1a2b-0000-4000-8000-000000000001"

func (f *fakeAthena) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("fake athena: read body: %v", err)
		return
	}
	scope, at, err := verifySigV4(r, body, f.accessKey, f.secretKey)
	if err != nil {
		// What Athena answers to a bad signature.
		writeErr(w, http.StatusForbidden, "InvalidSignatureException", err.Error())
		return
	}
	if want := f.signTime.Format("20060102") + "/eu-west-1/athena/aws4_request"; scope != want || !at.Equal(f.signTime) {
		writeErr(w, http.StatusForbidden, "InvalidSignatureException",
			fmt.Sprintf("signed for %s at %s, want %s at %s", scope, at, want, f.signTime))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeErr(w, http.StatusBadRequest, "SerializationException", "content type "+ct)
		return
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonAthena.")
	if !ok || r.Method != http.MethodPost {
		writeErr(w, http.StatusBadRequest, "UnknownOperationException", r.Header.Get("X-Amz-Target"))
		return
	}
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		writeErr(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	switch op {
	case "StartQueryExecution":
		f.startBody = in
		writeJSON(w, map[string]any{"QueryExecutionId": fakeQueryID})
	case "GetQueryExecution":
		if in["QueryExecutionId"] != fakeQueryID {
			writeErr(w, http.StatusBadRequest, "InvalidRequestException", "unknown query")
			return
		}
		st := f.states[min(f.polls, len(f.states)-1)]
		f.polls++
		status := map[string]any{"State": st}
		if st == "FAILED" {
			status["StateChangeReason"] = f.failReason
			status["AthenaError"] = map[string]any{"ErrorCategory": f.failCat, "ErrorType": 1301, "Retryable": false}
		}
		writeJSON(w, map[string]any{"QueryExecution": map[string]any{
			"QueryExecutionId": fakeQueryID,
			"StatementType":    f.stmtType,
			"Status":           status,
			"Statistics":       map[string]any{"DataScannedInBytes": 1_500_000, "EngineExecutionTimeInMillis": 1234},
		}})
	case "GetQueryResults":
		f.getResults(w, in)
	case "StopQueryExecution":
		f.stopped = append(f.stopped, fmt.Sprint(in["QueryExecutionId"]))
		if f.stopErr != "" {
			writeErr(w, http.StatusBadRequest, f.stopErr, "scripted failure")
			return
		}
		writeJSON(w, map[string]any{})
	default:
		writeErr(w, http.StatusBadRequest, "UnknownOperationException", op)
	}
}

// getResults serves one page: rows [offset, offset+MaxResults) of the full
// result (header row included for DML), with a NextToken when more remain.
func (f *fakeAthena) getResults(w http.ResponseWriter, in map[string]any) {
	all := f.rows
	if f.stmtType == "DML" {
		hdr := make([]*string, len(f.columns))
		for i, c := range f.columns {
			hdr[i] = aws.String(c.Name)
		}
		all = append([][]*string{hdr}, f.rows...)
	}
	size := 1000
	if v, ok := in["MaxResults"].(float64); ok {
		size = int(v)
	}
	f.pageSizes = append(f.pageSizes, size)
	off := 0
	if tok, ok := in["NextToken"].(string); ok {
		f.tokens = append(f.tokens, tok)
		n, err := strconv.Atoi(strings.TrimPrefix(tok, "page-at-"))
		if err != nil {
			writeErr(w, http.StatusBadRequest, "InvalidRequestException", "bad NextToken "+tok)
			return
		}
		off = n
	}
	end := min(off+size, len(all))
	rows := make([]any, 0, end-off)
	for _, r := range all[off:end] {
		data := make([]any, len(r))
		for i, v := range r {
			if v == nil {
				data[i] = map[string]any{} // Athena's NULL: no VarCharValue
			} else {
				data[i] = map[string]any{"VarCharValue": *v}
			}
		}
		rows = append(rows, map[string]any{"Data": data})
	}
	cols := make([]any, len(f.columns))
	for i, c := range f.columns {
		cols[i] = map[string]any{"Name": c.Name, "Label": c.Name, "Type": c.Type, "Nullable": "UNKNOWN"}
	}
	out := map[string]any{
		"UpdateCount": 0,
		"ResultSet":   map[string]any{"ResultSetMetadata": map[string]any{"ColumnInfo": cols}, "Rows": rows},
	}
	if end < len(all) {
		out["NextToken"] = fmt.Sprintf("page-at-%d", end)
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
}

// fixedClockSigner signs with the SDK's SigV4 signer at a fixed time, so
// that the fake can check the exact date and scope of every request.
type fixedClockSigner struct {
	s  *v4.Signer
	at time.Time
}

func (f fixedClockSigner) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string, _ time.Time, optFns ...func(*v4.SignerOptions)) error {
	return f.s.SignHTTP(ctx, creds, r, payloadHash, service, region, f.at, optFns...)
}

const (
	fakeAccessKey = "AKIDEXAMPLE"
	fakeSecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
)

// newFake starts f on a local server and returns a real SDK Athena client
// pointed at it, signing with secretKey.
func newFake(t *testing.T, f *fakeAthena, secretKey string) *sdk.Client {
	t.Helper()
	f.t = t
	f.accessKey, f.secretKey = fakeAccessKey, fakeSecretKey
	f.signTime = time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return sdk.New(sdk.Options{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider(fakeAccessKey, secretKey, ""),
		BaseEndpoint:     aws.String(srv.URL),
		HTTPClient:       srv.Client(),
		HTTPSignerV4:     fixedClockSigner{s: v4.NewSigner(), at: f.signTime},
		RetryMaxAttempts: 1,
	})
}
