"""Read wattcast's Parquet lake back with pyarrow over the S3 API, as an
analyst would, and describe what pyarrow sees. The Go test
(pyarrow_test.go) compares the description with docs/lake.md.

Usage: read_lake.py SPEC
  SPEC is JSON: {"endpoint": "http://127.0.0.1:7070", "region": "us-east-1",
                 "bucket": "wattcast-lake", "prefix": "<run>/demo/lake",
                 "tables": {"prices": "start_time", ...},   # table: event-time column
                 "max_schema_files": 300}
Credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
Prints one JSON object: {"pyarrow": "<version>", "tables": {"<table>": {...}}}.
"""

import concurrent.futures
import json
import os
import sys
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs


def norm(t):
    """A type as a plain string: map<k, v>, list<v>, struct<a: t, ...>,
    timestamp[unit, tz=zone]; nested field names and nullability dropped
    where pyarrow's own str() would show writer-specific names."""
    if pa.types.is_map(t):
        return "map<%s, %s>" % (norm(t.key_type), norm(t.item_type))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return "list<%s>" % norm(t.value_type)
    if pa.types.is_struct(t):
        return "struct<%s>" % ", ".join("%s: %s" % (f.name, norm(f.type)) for f in t)
    if pa.types.is_timestamp(t):
        return "timestamp[%s, tz=%s]" % (t.unit, t.tz)
    if pa.types.is_dictionary(t):
        return norm(t.value_type)
    return str(t)


def fields(schema):
    return [{"name": f.name, "type": norm(f.type), "nullable": f.nullable} for f in schema]


def describe(fs, spec, table, event):
    base = "%s/%s/%s" % (spec["bucket"], spec["prefix"], table)
    # The partition columns as docs/lake.md documents them: hive-style
    # region=/date= directories, both strings.
    part = ds.partitioning(pa.schema([("region", pa.string()), ("date", pa.string())]), flavor="hive")
    d = ds.dataset(base, filesystem=fs, format="parquet", partitioning=part)
    frags = list(d.get_fragments())
    out = {"files": len(frags)}
    if not frags:
        return out
    # Each file's own schema (its footer), for up to max_schema_files files
    # spread over the table: they must all be the same.
    step = max(1, len(frags) // spec.get("max_schema_files", 300))
    sample = frags[::step]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        schemas = list(ex.map(lambda f: f.physical_schema, sample))
    first = schemas[0]
    out["file_schema"] = fields(first)
    out["schema_files_checked"] = len(schemas)
    out["schema_files_differing"] = sum(1 for s in schemas if fields(s) != out["file_schema"])
    meta = first.metadata or {}
    out["metadata"] = {k.decode(): v.decode() for k, v in meta.items()}

    tb = d.to_table(fragment_readahead=32, batch_readahead=32)
    out["rows"] = tb.num_rows
    out["dataset_schema"] = fields(tb.schema)
    ev = tb.column(event)
    out["event_type"] = norm(ev.type)
    out["event_min"] = pc.min(ev).as_py().isoformat() if tb.num_rows else None
    out["event_max"] = pc.max(ev).as_py().isoformat() if tb.num_rows else None
    # date must be the UTC date of the row's event time (or, for a table in
    # date_columns, that column's value: the daily windows' local day),
    # region set.
    if table in spec.get("date_columns", {}):
        day = pc.cast(tb.column(spec["date_columns"][table]), pa.string())
    else:
        day = pc.strftime(ev, format="%Y-%m-%d", locale="C") if pa.types.is_timestamp(ev.type) else None
    out["date_mismatches"] = (tb.num_rows if day is None else
                              int(pc.sum(pc.cast(pc.not_equal(day, tb.column("date")), pa.int64())).as_py() or 0))
    out["null_partition_values"] = int(tb.column("region").null_count + tb.column("date").null_count)
    out["regions"] = sorted(v for v in pc.unique(tb.column("region")).to_pylist() if v is not None)
    return out


def main():
    spec = json.loads(sys.argv[1])
    u = urlparse(spec["endpoint"])
    fs = pafs.S3FileSystem(access_key=os.environ["AWS_ACCESS_KEY_ID"], secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
                           endpoint_override=u.netloc, scheme=u.scheme, region=spec["region"])
    out = {"pyarrow": pa.__version__, "tables": {}}
    for table, event in spec["tables"].items():
        out["tables"][table] = describe(fs, spec, table, event)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
