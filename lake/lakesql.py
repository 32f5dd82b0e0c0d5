#!/usr/bin/env python3
"""Run the Athena example queries of docs/athena.md with DuckDB over a local
wattcast lake (a file:// lake directory), so you can try them without AWS.

    pip install duckdb
    python3 lake/lakesql.py --lake .wattcast/demo/lake       # after `make demo`
    python3 lake/lakesql.py --lake DIR --sql "SELECT ..."    # your own query

--lake is the directory of a file:// lake (file://DIR is accepted too).

Each table of the lake becomes a view named like the Athena table, reading
the hive-partitioned Parquet files with region and date as VARCHAR partition
columns, as the Glue tables declare them. The session time zone is UTC, as
in Athena, so hour() and date functions agree.

The Go test lake/athena_test.go runs this script with --json over a lake the
Go code wrote and checks the results: the documented queries cannot drift
from the files the sink writes.
"""
import argparse
import datetime
import decimal
import json
import os
import re
import sys

import duckdb

TABLES = ["prices", "weather_observed", "weather_forecast", "features", "features_daily", "forecasts"]


def queries(markdown):
    """Yield (name, sql) for every ```sql block that is not DDL."""
    for m in re.finditer(r"^```sql\n(.*?)^```", markdown, re.S | re.M):
        sql = m.group(1).strip()
        if sql.upper().startswith("CREATE"):
            continue
        name = re.search(r"^--\s*name:\s*(\S+)", sql, re.M)
        yield (name.group(1) if name else "query"), sql


def connect(lake):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for t in TABLES:
        d = os.path.join(lake, t)
        if not os.path.isdir(d):
            continue
        glob = os.path.join(d, "*", "*", "*.parquet").replace("'", "''")
        con.execute(
            f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true, "
            "hive_types = {'region': VARCHAR, 'date': VARCHAR})"
        )
    return con


def plain(v):
    if isinstance(v, datetime.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(datetime.timezone.utc)
        return v.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(v, (datetime.date, decimal.Decimal)):
        return str(v)
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", required=True, help="lake directory (the path of a file:// lake URL, e.g. .wattcast/demo/lake)")
    ap.add_argument("--docs", default=os.path.join(os.path.dirname(__file__), "..", "docs", "athena.md"))
    ap.add_argument("--sql", help="run this query instead of the documented ones")
    ap.add_argument("--json", action="store_true", help="print machine-readable results")
    args = ap.parse_args()

    lake = args.lake
    if lake.startswith("file://"):  # the lake URL, as wattcast prints it
        lake = lake[len("file://"):]
    if lake.startswith("s3://"):
        sys.exit(f"lakesql: --lake {args.lake}: this script reads a local lake directory; "
                 "for an s3:// lake use Athena (wattcast query --athena ...)")
    if not os.path.isdir(lake):
        sys.exit(f"lakesql: lake directory {lake} does not exist (check --lake; "
                 "`make demo` writes .wattcast/demo/lake, `wattcast process` the directory of its --lake)")
    if not any(os.path.isdir(os.path.join(lake, t)) for t in TABLES):
        sys.exit(f"lakesql: {lake} holds none of the lake's tables ({', '.join(TABLES)}); check --lake")

    con = connect(lake)
    if args.sql:
        todo = [("query", args.sql)]
    else:
        with open(args.docs, encoding="utf-8") as f:
            todo = list(queries(f.read()))
    results = []
    for name, sql in todo:
        try:
            cur = con.execute(sql)
        except duckdb.Error as e:
            print(f"lakesql: query {name} failed: {e}\n{sql}", file=sys.stderr)
            sys.exit(1)
        cols = [d[0] for d in cur.description]
        rows = [[plain(v) for v in r] for r in cur.fetchall()]
        results.append({"name": name, "columns": cols, "rows": rows})
    if args.json:
        json.dump(results, sys.stdout)
        return
    for r in results:
        print(f"-- {r['name']}: {len(r['rows'])} rows")
        print("\t".join(r["columns"]))
        for row in r["rows"][:20]:
            print("\t".join(str(v) for v in row))
        print()


if __name__ == "__main__":
    main()
