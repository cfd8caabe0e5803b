#!/usr/bin/env python3
"""Peer side of the landfall PostgreSQL load benchmark: NDJSON -> PostgreSQL with dlt.

  dlt_load.py --dsn postgresql://user@host:port/db --table NAME --schema SCHEMA INPUT.jsonl
      [--loader-file-format csv|insert_values] [--max-table-nesting N] [--batch-rows N]

Loads INPUT (one JSON object per line) with destination postgres, dataset SCHEMA,
write_disposition replace, and prints one JSON line:
  {"tool":"dlt","rows":N,"seconds":S,"peak_rss_mb":M,"loader_file_format":..,
   "max_table_nesting":..,"cpu_seconds":C}
rows are counted in SCHEMA.NAME after the load; seconds cover pipeline.run
(extract, normalize, load), not the import of dlt.

csv is the default: dlt loads it with COPY FROM STDIN and it is faster than
dlt's own default, insert_values (parquet needs the ADBC driver, not pinned here).
Nested objects follow dlt's defaults unless --max-table-nesting is given (0 keeps
them as one jsonb column, the way landfall stores them; the default flattens
dicts into columns and lists into child tables).
Run it with the python of the venv that `peers.py ensure` made.
"""

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time


def fail(message):
    print(f"dlt_load.py: {message}", file=sys.stderr)
    sys.exit(1)


def dsn_with_password(dsn):
    """dlt's PostgresCredentials insists on a password, even for trust auth
    (ConfigFieldMissingException otherwise): give a DSN without one a placeholder,
    which a trust/peer-authenticated server ignores."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(dsn)
    if parts.password is not None or "@" not in parts.netloc:
        return dsn
    user, _, host = parts.netloc.rpartition("@")
    return urlunsplit(parts._replace(netloc=f"{user}:unused@{host}"))


def peak_rss_mb():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # normalize workers, if any
    return round(max(own, kids) / 1024, 1)


def cpu_seconds():
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        ru = resource.getrusage(who)
        total += ru.ru_utime + ru.ru_stime
    return total


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dsn", required=True, help="postgresql://user[:password]@host:port/db")
    ap.add_argument("--table", required=True)
    ap.add_argument("--schema", required=True, help="dlt dataset_name (a PostgreSQL schema)")
    ap.add_argument("--loader-file-format", default="csv", choices=("csv", "insert_values"))
    ap.add_argument("--max-table-nesting", type=int, default=None)
    ap.add_argument("--batch-rows", type=int, default=10_000, help="rows per item batch yielded to dlt")
    ap.add_argument("input")
    args = ap.parse_args(argv)
    if not os.path.isfile(args.input):
        fail(f"input {args.input} is not a file")

    work = tempfile.mkdtemp(prefix="landfall-dlt-")
    # Nothing under $HOME or the repo: dlt's data dir, project dir (where it looks
    # for .dlt/config.toml) and pipelines dir all live in the temp dir.
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    os.environ["DLT_DATA_DIR"] = os.path.join(work, "data")
    os.environ["DLT_PROJECT_DIR"] = work
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    try:
        try:
            import dlt
            from dlt.common import json as dlt_json  # orjson when available
        except ImportError as e:
            fail(f"cannot import dlt ({e}); run `python3 infra/bench/peers.py ensure VENV` and use its python")

        batch_rows = max(1, args.batch_rows)

        def rows_from(path):
            batch = []
            with open(path, "rb") as f:
                for line in f:
                    if line.strip():
                        batch.append(dlt_json.loadb(line))
                        if len(batch) >= batch_rows:
                            yield batch
                            batch = []
            if batch:
                yield batch

        resource_kw = {"name": args.table, "write_disposition": "replace"}
        if args.max_table_nesting is not None:
            resource_kw["max_table_nesting"] = args.max_table_nesting
        res = dlt.resource(rows_from(args.input), **resource_kw)

        pipeline = dlt.pipeline(
            pipeline_name="landfall_bench_dlt",
            pipelines_dir=os.path.join(work, "pipelines"),
            destination=dlt.destinations.postgres(credentials=dsn_with_password(args.dsn)),
            dataset_name=args.schema,
            progress="log" if os.environ.get("LANDFALL_DLT_PROGRESS") else None,
        )

        c0 = cpu_seconds()
        t0 = time.perf_counter()
        try:
            info = pipeline.run(res, loader_file_format=args.loader_file_format)
            info.raise_on_failed_jobs()
        except Exception as e:
            fail(f"dlt load failed: {type(e).__name__}: {e}")
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds() - c0

        try:
            with pipeline.sql_client() as client:
                table = client.make_qualified_table_name(pipeline.default_schema.naming.normalize_table_identifier(args.table))
                rows = client.execute_sql(f"SELECT count(*) FROM {table}")[0][0]
        except Exception as e:
            fail(f"counting the loaded rows failed: {type(e).__name__}: {e}")

        print(
            json.dumps(
                {
                    "tool": "dlt",
                    "rows": int(rows),
                    "seconds": round(seconds, 4),
                    "peak_rss_mb": peak_rss_mb(),
                    "loader_file_format": args.loader_file_format,
                    "max_table_nesting": args.max_table_nesting,
                    "cpu_seconds": round(cpu, 4),
                }
            ),
            flush=True,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
