// Package athena runs SQL on Amazon Athena over the wattcast lake: it starts
// a query in a workgroup, polls it with backoff until it ends, and reads every
// page of its results. `wattcast query --athena` prints them as a table.
//
// Athena cannot run here, so the tests serve Athena's JSON protocol from a
// local fake endpoint (see fake_test.go) and check the SigV4 signature of
// every call the real SDK client makes to it.
package athena

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	sdk "github.com/aws/aws-sdk-go-v2/service/athena"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
)

// API is the part of the Athena API this package calls. *athena.Client from
// aws-sdk-go-v2 implements it.
type API interface {
	StartQueryExecution(ctx context.Context, in *sdk.StartQueryExecutionInput, optFns ...func(*sdk.Options)) (*sdk.StartQueryExecutionOutput, error)
	GetQueryExecution(ctx context.Context, in *sdk.GetQueryExecutionInput, optFns ...func(*sdk.Options)) (*sdk.GetQueryExecutionOutput, error)
	GetQueryResults(ctx context.Context, in *sdk.GetQueryResultsInput, optFns ...func(*sdk.Options)) (*sdk.GetQueryResultsOutput, error)
	StopQueryExecution(ctx context.Context, in *sdk.StopQueryExecutionInput, optFns ...func(*sdk.Options)) (*sdk.StopQueryExecutionOutput, error)
}

// Options says where queries run. The zero value runs in the "primary"
// workgroup of the AwsDataCatalog with the workgroup's own result location.
type Options struct {
	// Workgroup runs the query and sets its limits and result encryption;
	// "primary" if empty. wattcast's Terraform creates "wattcast-<env>",
	// which enforces its encrypted result location.
	Workgroup string
	// Database is the default Glue database for unqualified table names,
	// e.g. "wattcast_prod". Empty: tables must be qualified.
	Database string
	// Catalog is the data catalog; "AwsDataCatalog" if empty.
	Catalog string
	// OutputLocation is where Athena writes results, s3://BUCKET/PREFIX/.
	// Leave empty when the workgroup sets (and enforces) its own.
	OutputLocation string
	// PollInterval is the first wait between status checks, doubled after
	// every check up to MaxPollInterval. Defaults: 200ms and 5s. Athena
	// answers short queries in about a second, and long ones need no
	// faster polling than every few seconds (each poll is an API call
	// counted against the account's quota).
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// MaxRows stops reading results after this many rows (Result.Truncated
	// says so); 0 reads them all.
	MaxRows int
	// PageSize is the number of rows per GetQueryResults call, at most
	// 1000 (Athena's maximum, also the default).
	PageSize int32
}

const (
	defaultWorkgroup       = "primary"
	defaultCatalog         = "AwsDataCatalog"
	defaultPollInterval    = 200 * time.Millisecond
	defaultMaxPollInterval = 5 * time.Second
	maxPageSize            = 1000
)

// Athena's own limits on names: workgroups are 1-128 of [a-zA-Z0-9._-];
// Glue database names are lower-case 1-255 of letters, digits and _.
var (
	workgroupRE = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,128}$`)
	databaseRE  = regexp.MustCompile(`^[a-z0-9_]{1,255}$`)
)

// withDefaults fills defaults and checks every setting, naming the one that
// is wrong and what it should look like.
func (o Options) withDefaults() (Options, error) {
	if o.Workgroup == "" {
		o.Workgroup = defaultWorkgroup
	}
	if o.Catalog == "" {
		o.Catalog = defaultCatalog
	}
	if o.PollInterval == 0 {
		o.PollInterval = defaultPollInterval
	}
	if o.MaxPollInterval == 0 {
		o.MaxPollInterval = defaultMaxPollInterval
	}
	if o.PageSize == 0 {
		o.PageSize = maxPageSize
	}
	var errs []error
	if !workgroupRE.MatchString(o.Workgroup) {
		errs = append(errs, fmt.Errorf("athena: workgroup %q: want 1-128 of a-z A-Z 0-9 . _ -", o.Workgroup))
	}
	if o.Database != "" && !databaseRE.MatchString(o.Database) {
		errs = append(errs, fmt.Errorf("athena: database %q: Glue database names are lower-case letters, digits and _ (e.g. wattcast_prod)", o.Database))
	}
	if o.OutputLocation != "" && !strings.HasPrefix(o.OutputLocation, "s3://") {
		errs = append(errs, fmt.Errorf("athena: output location %q: want s3://BUCKET/PREFIX/", o.OutputLocation))
	}
	if o.PollInterval < 0 || o.MaxPollInterval < o.PollInterval {
		errs = append(errs, fmt.Errorf("athena: poll interval %s and max poll interval %s: want 0 < interval <= max", o.PollInterval, o.MaxPollInterval))
	}
	if o.MaxRows < 0 {
		errs = append(errs, fmt.Errorf("athena: max rows %d: want 0 (all) or more", o.MaxRows))
	}
	if o.PageSize < 1 || o.PageSize > maxPageSize {
		errs = append(errs, fmt.Errorf("athena: page size %d: want 1..%d (Athena's limit)", o.PageSize, maxPageSize))
	}
	return o, errors.Join(errs...)
}

// Client runs queries. It is safe for concurrent use.
type Client struct {
	api  API
	opts Options
	// wait sleeps between status checks; tests replace it to record the
	// backoff without sleeping.
	wait func(ctx context.Context, d time.Duration) error
}

// New returns a Client that calls api with opts.
func New(api API, opts Options) (*Client, error) {
	if api == nil {
		return nil, errors.New("athena: nil API client")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Client{api: api, opts: o, wait: sleep}, nil
}

// NewFromConfig returns a Client for the AWS SDK's default configuration:
// credentials from the default chain (environment, shared config and SSO,
// web identity, ECS task role, EC2 instance role) and region from region, or
// AWS_REGION and the shared config when region is "".
func NewFromConfig(ctx context.Context, region string, opts Options) (*Client, error) {
	var lo []func(*config.LoadOptions) error
	if region != "" {
		lo = append(lo, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("athena: load AWS configuration (check AWS_PROFILE, AWS_REGION and the credentials they name): %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("athena: no AWS region: set --aws-region or AWS_REGION")
	}
	return New(sdk.NewFromConfig(cfg), opts)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Column is one result column as Athena describes it.
type Column struct {
	Name string
	// Type is Athena's type name, e.g. "varchar", "double", "timestamp".
	Type string
}

// Result is a finished query's output. Values are Athena's text forms; a nil
// value is SQL NULL.
type Result struct {
	QueryExecutionID string
	Columns          []Column
	Rows             [][]*string
	// Truncated is true when Options.MaxRows stopped the read early.
	Truncated bool
	// DataScannedBytes is what Athena billed the query for.
	DataScannedBytes int64
	// EngineTime is the time the engine spent running the query.
	EngineTime time.Duration
}

// QueryError is a query that ended FAILED or CANCELLED.
type QueryError struct {
	QueryExecutionID string
	State            types.QueryExecutionState
	Reason           string
	// Category is Athena's error category: 1 system, 2 user, 3 other.
	Category int32
	// Type is Athena's numeric error type (see the Athena error catalog).
	Type int32
}

func (e *QueryError) Error() string {
	hint := ""
	switch e.Category {
	case 1:
		hint = " (an Athena-side error: retry the query)"
	case 2:
		hint = " (check the SQL, the table names and the database)"
	}
	return fmt.Sprintf("athena: query %s %s: %s%s", e.QueryExecutionID, e.State, e.Reason, hint)
}

// Query runs sql and returns its results. If ctx ends first, the query is
// stopped on Athena, so that it does not go on scanning (and billing).
func (c *Client) Query(ctx context.Context, sql string) (*Result, error) {
	if strings.TrimSpace(sql) == "" {
		return nil, errors.New("athena: empty query")
	}
	in := &sdk.StartQueryExecutionInput{
		QueryString: aws.String(sql),
		WorkGroup:   aws.String(c.opts.Workgroup),
		QueryExecutionContext: &types.QueryExecutionContext{
			Catalog: aws.String(c.opts.Catalog),
		},
	}
	if c.opts.Database != "" {
		in.QueryExecutionContext.Database = aws.String(c.opts.Database)
	}
	if c.opts.OutputLocation != "" {
		in.ResultConfiguration = &types.ResultConfiguration{OutputLocation: aws.String(c.opts.OutputLocation)}
	}
	// ClientRequestToken is left to the SDK, which sets a random one: a
	// retried StartQueryExecution then does not start the query twice.
	out, err := c.api.StartQueryExecution(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("athena: start query in workgroup %s: %w", c.opts.Workgroup, err)
	}
	id := aws.ToString(out.QueryExecutionId)
	qe, err := c.waitDone(ctx, id)
	if err != nil {
		return nil, err
	}
	res := &Result{QueryExecutionID: id}
	if st := qe.Statistics; st != nil {
		res.DataScannedBytes = aws.ToInt64(st.DataScannedInBytes)
		res.EngineTime = time.Duration(aws.ToInt64(st.EngineExecutionTimeInMillis)) * time.Millisecond
	}
	if err := c.readResults(ctx, id, qe.StatementType, res); err != nil {
		return nil, err
	}
	return res, nil
}

// waitDone polls the query until it succeeds, fails or is cancelled,
// doubling the wait after every check.
func (c *Client) waitDone(ctx context.Context, id string) (*types.QueryExecution, error) {
	d := c.opts.PollInterval
	for {
		out, err := c.api.GetQueryExecution(ctx, &sdk.GetQueryExecutionInput{QueryExecutionId: aws.String(id)})
		if err != nil {
			if ctx.Err() != nil {
				return nil, c.stop(ctx, id)
			}
			return nil, fmt.Errorf("athena: query %s: get status: %w", id, err)
		}
		qe := out.QueryExecution
		if qe == nil || qe.Status == nil {
			return nil, fmt.Errorf("athena: query %s: status missing from the response", id)
		}
		switch st := qe.Status; st.State {
		case types.QueryExecutionStateSucceeded:
			return qe, nil
		case types.QueryExecutionStateFailed, types.QueryExecutionStateCancelled:
			qerr := &QueryError{QueryExecutionID: id, State: st.State, Reason: aws.ToString(st.StateChangeReason)}
			if ae := st.AthenaError; ae != nil {
				qerr.Category = aws.ToInt32(ae.ErrorCategory)
				qerr.Type = aws.ToInt32(ae.ErrorType)
				if qerr.Reason == "" {
					qerr.Reason = aws.ToString(ae.ErrorMessage)
				}
			}
			return nil, qerr
		}
		if err := c.wait(ctx, d); err != nil {
			return nil, c.stop(ctx, id)
		}
		d = min(2*d, c.opts.MaxPollInterval)
	}
}

// stop cancels query id on Athena after ctx ended, and returns ctx's error.
func (c *Client) stop(ctx context.Context, id string) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := c.api.StopQueryExecution(sctx, &sdk.StopQueryExecutionInput{QueryExecutionId: aws.String(id)}); err != nil {
		return fmt.Errorf("athena: query %s: %w; stopping it failed too (stop it in the Athena console): %w", id, ctx.Err(), err)
	}
	return fmt.Errorf("athena: query %s stopped: %w", id, ctx.Err())
}

// readResults reads every page of the results into res. For a SELECT
// (statement type DML) Athena returns the column labels as the first row of
// the first page; that row is dropped.
func (c *Client) readResults(ctx context.Context, id string, stmt types.StatementType, res *Result) error {
	p := sdk.NewGetQueryResultsPaginator(c.api, &sdk.GetQueryResultsInput{
		QueryExecutionId: aws.String(id),
		MaxResults:       aws.Int32(c.opts.PageSize),
	})
	first := true
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("athena: query %s: read results: %w", id, err)
		}
		rs := page.ResultSet
		if rs == nil {
			continue
		}
		if res.Columns == nil && rs.ResultSetMetadata != nil {
			for _, ci := range rs.ResultSetMetadata.ColumnInfo {
				res.Columns = append(res.Columns, Column{Name: aws.ToString(ci.Name), Type: aws.ToString(ci.Type)})
			}
		}
		rows := rs.Rows
		if first && stmt == types.StatementTypeDml && len(rows) > 0 && isHeader(rows[0], res.Columns) {
			rows = rows[1:]
		}
		first = false
		for _, r := range rows {
			if c.opts.MaxRows > 0 && len(res.Rows) >= c.opts.MaxRows {
				res.Truncated = true
				return nil
			}
			vals := make([]*string, len(r.Data))
			for i, d := range r.Data {
				vals[i] = d.VarCharValue
			}
			res.Rows = append(res.Rows, vals)
		}
	}
	return nil
}

func isHeader(r types.Row, cols []Column) bool {
	if len(r.Data) != len(cols) {
		return false
	}
	for i, d := range r.Data {
		if aws.ToString(d.VarCharValue) != cols[i].Name {
			return false
		}
	}
	return true
}
