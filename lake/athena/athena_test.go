package athena

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
)

var priceColumns = []Column{{"region", "varchar"}, {"hour", "timestamp"}, {"price", "double"}}

// priceRows makes n rows; every 7th price is NULL.
func priceRows(n int) [][]*string {
	rows := make([][]*string, n)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		var price *string
		if i%7 != 3 {
			price = aws.String(fmt.Sprintf("%.2f", float64(i)/10))
		}
		rows[i] = []*string{aws.String("FI"), aws.String(t0.Add(time.Duration(i) * time.Hour).Format("2006-01-02 15:04:05.000")), price}
	}
	return rows
}

// recordWaits replaces c's sleep with one that records each wait.
func recordWaits(c *Client) *[]time.Duration {
	var waits []time.Duration
	c.wait = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		return ctx.Err()
	}
	return &waits
}

func TestQueryReadsEveryPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		stmt      string
		rows      [][]*string
		pageSize  int32
		wantPages int
	}{
		// 2345 data rows + 1 header row over pages of 1000: 3 pages.
		{name: "select over three pages", stmt: "DML", rows: priceRows(2345), pageSize: 1000, wantPages: 3},
		// The header fills the first page's first slot; 10 rows + header
		// in pages of 5 is 3 pages.
		{name: "small pages", stmt: "DML", rows: priceRows(10), pageSize: 5, wantPages: 3},
		{name: "empty result", stmt: "DML", rows: nil, pageSize: 1000, wantPages: 1},
		// A data row equal to the labels on a later page is data.
		{name: "row that looks like the header on page 2", stmt: "DML", pageSize: 2, wantPages: 2,
			rows: [][]*string{{aws.String("a"), nil, nil}, {aws.String("region"), aws.String("hour"), aws.String("price")}}},
		// SHOW and DESCRIBE have no header row: nothing is dropped.
		{name: "utility statement keeps its first row", stmt: "UTILITY", pageSize: 1000, wantPages: 1,
			rows: [][]*string{{aws.String("region"), aws.String("hour"), aws.String("price")}, {aws.String("x"), nil, nil}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAthena{states: []string{"QUEUED", "RUNNING", "RUNNING", "SUCCEEDED"}, stmtType: tt.stmt, columns: priceColumns, rows: tt.rows}
			c, err := New(newFake(t, f, fakeSecretKey), Options{
				Workgroup: "wattcast-prod", Database: "wattcast_prod",
				OutputLocation: "s3://wattcast-prod-lake/athena-results/", PageSize: tt.pageSize,
			})
			if err != nil {
				t.Fatal(err)
			}
			waits := recordWaits(c)
			res, err := c.Query(context.Background(), "SELECT region, hour, price FROM prices")
			if err != nil {
				t.Fatalf("Query: %v", err)
			}
			if !reflect.DeepEqual(res.Columns, priceColumns) {
				t.Errorf("columns = %v, want %v", res.Columns, priceColumns)
			}
			if len(res.Rows) != len(tt.rows) {
				t.Fatalf("got %d rows, want %d", len(res.Rows), len(tt.rows))
			}
			for i := range tt.rows {
				if !reflect.DeepEqual(res.Rows[i], tt.rows[i]) {
					t.Fatalf("row %d = %v, want %v", i, deref(res.Rows[i]), deref(tt.rows[i]))
				}
			}
			if res.Truncated || res.QueryExecutionID != fakeQueryID || res.DataScannedBytes != 1_500_000 || res.EngineTime != 1234*time.Millisecond {
				t.Errorf("result = truncated %v id %s scanned %d engine %s", res.Truncated, res.QueryExecutionID, res.DataScannedBytes, res.EngineTime)
			}
			// Exponential backoff between the 4 status checks.
			if want := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}; !reflect.DeepEqual(*waits, want) {
				t.Errorf("waits = %v, want %v", *waits, want)
			}
			wantCalls := []string{"StartQueryExecution", "GetQueryExecution", "GetQueryExecution", "GetQueryExecution", "GetQueryExecution"}
			for range tt.wantPages {
				wantCalls = append(wantCalls, "GetQueryResults")
			}
			if !reflect.DeepEqual(f.calls, wantCalls) {
				t.Errorf("calls = %v, want %v", f.calls, wantCalls)
			}
			for _, s := range f.pageSizes {
				if s != int(tt.pageSize) {
					t.Errorf("MaxResults = %d, want %d", s, tt.pageSize)
				}
			}
			if len(f.tokens) != tt.wantPages-1 {
				t.Errorf("NextToken sent %d times, want %d", len(f.tokens), tt.wantPages-1)
			}
		})
	}
}

func deref(r []*string) []string {
	out := make([]string, len(r))
	for i, v := range r {
		out[i] = "NULL"
		if v != nil {
			out[i] = *v
		}
	}
	return out
}

func TestQuerySendsTheConfiguredContext(t *testing.T) {
	t.Parallel()
	f := &fakeAthena{states: []string{"SUCCEEDED"}, stmtType: "DML", columns: priceColumns}
	c, err := New(newFake(t, f, fakeSecretKey), Options{
		Workgroup: "wattcast-live-testing", Database: "wattcast_live_testing", OutputLocation: "s3://b/athena-results/",
	})
	if err != nil {
		t.Fatal(err)
	}
	const sql = `SELECT * FROM prices WHERE "date" = '2024-01-01'`
	if _, err := c.Query(context.Background(), sql); err != nil {
		t.Fatal(err)
	}
	b := f.startBody
	ctx, _ := b["QueryExecutionContext"].(map[string]any)
	rc, _ := b["ResultConfiguration"].(map[string]any)
	if b["QueryString"] != sql || b["WorkGroup"] != "wattcast-live-testing" ||
		ctx["Database"] != "wattcast_live_testing" || ctx["Catalog"] != "AwsDataCatalog" ||
		rc["OutputLocation"] != "s3://b/athena-results/" {
		t.Errorf("StartQueryExecution body = %v", b)
	}
	// An idempotency token makes a retried start safe.
	if tok, _ := b["ClientRequestToken"].(string); len(tok) < 32 {
		t.Errorf("ClientRequestToken = %q, want the SDK's generated token", tok)
	}
}

func TestQueryRejectsABadSignature(t *testing.T) {
	t.Parallel()
	// Signed with the wrong secret: the fake's verifier must refuse it,
	// which shows that the passing tests are really checked.
	f := &fakeAthena{states: []string{"SUCCEEDED"}, stmtType: "DML", columns: priceColumns}
	c, err := New(newFake(t, f, "not-the-secret"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Query(context.Background(), "SELECT 1")
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") || !strings.Contains(err.Error(), "athena: start query") {
		t.Fatalf("err = %v, want the start refused for its signature", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("fake accepted calls %v with a bad signature", f.calls)
	}
}

func TestQueryFailureIsAQueryError(t *testing.T) {
	t.Parallel()
	f := &fakeAthena{states: []string{"RUNNING", "FAILED"}, stmtType: "DML", failCat: 2,
		failReason: "COLUMN_NOT_FOUND: line 1:8: Column 'prise' cannot be resolved"}
	c, err := New(newFake(t, f, fakeSecretKey), Options{})
	if err != nil {
		t.Fatal(err)
	}
	recordWaits(c)
	_, err = c.Query(context.Background(), "SELECT prise FROM prices")
	var qe *QueryError
	if !errors.As(err, &qe) {
		t.Fatalf("err = %v, want a *QueryError", err)
	}
	if qe.State != "FAILED" || qe.Category != 2 || qe.Type != 1301 || !strings.Contains(qe.Reason, "prise") {
		t.Errorf("QueryError = %+v", qe)
	}
	if !strings.Contains(err.Error(), "check the SQL") {
		t.Errorf("error %q gives no hint for a user error", err)
	}
	for _, call := range f.calls {
		if call == "GetQueryResults" {
			t.Error("results read for a failed query")
		}
	}
}

// A query the user cancels is stopped on Athena too. When stopping fails,
// the error still says the query was cancelled and carries Athena's error.
func TestCancelStopsTheQueryOnAthena(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		stopErr string
		want    []string // substrings of the error
	}{
		{name: "stopped", want: []string{"stopped"}},
		{name: "stopping fails", stopErr: "InvalidRequestException", want: []string{"stopping it failed too", "Athena console", "scripted failure"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeAthena{states: []string{"RUNNING"}, stmtType: "DML", stopErr: tt.stopErr}
			c, err := New(newFake(t, f, fakeSecretKey), Options{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			n := 0
			c.wait = func(ctx context.Context, d time.Duration) error {
				if n++; n == 3 {
					cancel() // the user pressed Ctrl-C while the query ran
				}
				return ctx.Err()
			}
			_, err = c.Query(ctx, "SELECT count(*) FROM features")
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			var stopErr *types.InvalidRequestException
			if got := errors.As(err, &stopErr); got != (tt.stopErr != "") {
				t.Errorf("errors.As(%v, *types.InvalidRequestException) = %v, want %v", err, got, tt.stopErr != "")
			}
			for _, s := range tt.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("err %q lacks %q", err, s)
				}
			}
			if len(f.stopped) != 1 || f.stopped[0] != fakeQueryID {
				t.Errorf("stopped = %v, want [%s]", f.stopped, fakeQueryID)
			}
		})
	}
}

func TestMaxRowsTruncates(t *testing.T) {
	t.Parallel()
	rows := priceRows(30)
	f := &fakeAthena{states: []string{"SUCCEEDED"}, stmtType: "DML", columns: priceColumns, rows: rows}
	c, err := New(newFake(t, f, fakeSecretKey), Options{MaxRows: 12, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Query(context.Background(), "SELECT * FROM prices")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 12 || !res.Truncated || !reflect.DeepEqual(res.Rows, rows[:12]) {
		t.Errorf("got %d rows, truncated %v; want the first 12, truncated", len(res.Rows), res.Truncated)
	}
	if got := len(f.pageSizes); got != 2 {
		t.Errorf("read %d pages, want 2 (stop once MaxRows is reached)", got)
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		want string // "" for valid
	}{
		{"zero value", Options{}, ""},
		{"full", Options{Workgroup: "wattcast-prod", Database: "wattcast_prod", OutputLocation: "s3://b/p/", PollInterval: time.Second, MaxPollInterval: time.Second, MaxRows: 10, PageSize: 1000}, ""},
		{"workgroup with space", Options{Workgroup: "my group"}, "workgroup"},
		{"database with dash", Options{Database: "wattcast-prod"}, "Glue database names"},
		{"database upper case", Options{Database: "Wattcast"}, "Glue database names"},
		{"output not s3", Options{OutputLocation: "/tmp/results"}, "s3://"},
		{"poll above max", Options{PollInterval: 10 * time.Second, MaxPollInterval: time.Second}, "poll interval"},
		{"negative rows", Options{MaxRows: -1}, "max rows"},
		{"page too big", Options{PageSize: 5000}, "page size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(&fakeAPI{}, tt.opts)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "athena: ")):
				t.Errorf("New: %v, want an athena: error mentioning %q", err, tt.want)
			}
		})
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	c, err := New(&fakeAPI{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(context.Background(), "  \n"); err == nil {
		t.Error("empty SQL accepted")
	}
}

// fakeAPI satisfies API for tests that never call it.
type fakeAPI struct{ API }

func TestWriteTable(t *testing.T) {
	t.Parallel()
	r := &Result{
		Columns: []Column{{"region", "varchar"}, {"price", "double"}, {"note", "varchar"}},
		Rows: [][]*string{
			{aws.String("FI"), aws.String("41.07"), nil},
			{aws.String("GB-A"), nil, aws.String("two\tparts\nline")},
		},
	}
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"region  price  note\n" +
		"------  -----  ----\n" +
		"FI      41.07  NULL\n" +
		`GB-A    NULL   two\tparts\nline` + "\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// Control characters in values never break a row or its columns, and never
// reach the terminal raw.
func TestCellEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"plain é", "plain é"},
		{"a\tb\nc\rd", `a\tb\nc\rd`},
		{"x\fy", `x\x0cy`},
		{"p\vq", `p\x0bq`},
		{"\x1b[31mred", `\x1b[31mred`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085", `c1\x85`},
	} {
		if got := cell(c.in); got != c.want {
			t.Errorf("cell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
