package lake

import (
	"errors"
	"io/fs"
	"os"
	"testing"
)

// demoLake is where `make demo` writes its lake, from this package's
// directory.
const demoLake = "../.wattcast/demo/lake"

// docs/athena.md says its example queries fit the demo's lake: each returns
// at least one row on it, and latest_prices one per region. The demo's
// lake is not in the repository, so this runs only where `make demo` has
// run; TestDocumentedQueriesRunOnDuckDB checks the sample lake everywhere.
func TestDocumentedQueriesReturnRowsOnTheDemoLake(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(demoLake + "/prices"); errors.Is(err, fs.ErrNotExist) {
		t.Skip("skipping: no demo lake at .wattcast/demo/lake (run `make demo`)")
	}
	requirePython(t, "duckdb")
	results := documentedQueries(t, demoLake)
	if len(results) == 0 {
		t.Fatal("no queries found in docs/athena.md")
	}
	// The queries that compare regions must see both of the demo's,
	// although their data are years apart.
	wantRegions := map[string]int{"latest_prices": 2, "cheapest_3h_value": 2, "forecast_error_by_hour": 2}
	for _, r := range results {
		if len(r.Rows) == 0 {
			t.Errorf("documented query %q returns no rows on the demo's lake; docs/athena.md says its dates fit it", r.Name)
			continue
		}
		if n, ok := wantRegions[r.Name]; ok {
			regions := map[any]bool{}
			for _, row := range r.Rows {
				regions[row[0]] = true
			}
			if len(regions) != n {
				t.Errorf("documented query %q sees regions %v on the demo's lake, want %d (FI and GB-A)", r.Name, regions, n)
			}
		}
	}
}
