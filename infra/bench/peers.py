#!/usr/bin/env python3
"""Peer side of the landfall parse benchmark: CSV/NDJSON -> zstd Parquet with
pyarrow, polars or duckdb, each with its own type inference and the way a user of
that library would do it best.

  peers.py ensure VENV_DIR
      Create VENV_DIR (python3 -m venv) if missing and pip-install
      requirements-peers.txt into it if a pinned package is missing.
  peers.py parse --peer pyarrow|polars|duckdb --format csv|ndjson --threads N INPUT OUTDIR
      Convert INPUT into zstd (level 1) Parquet file(s) in OUTDIR and print one
      JSON line: {"peer","format","threads","files","seconds","import_seconds",
      "peak_rss_mb","out_bytes","cpu_seconds"}. The caller counts the rows in
      the files' footers; cpu_seconds is user+system CPU of the conversion
      (compare it with seconds to see how many cores a peer really used).

Only the standard library is needed for `ensure`.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements-peers.txt"
PEERS = ("pyarrow", "polars", "duckdb")
FORMATS = ("csv", "ndjson")
ZSTD_LEVEL = 1
ROW_GROUP = 128 * 1024  # rows per row group where the peer leaves it to the caller (pyarrow)


def fail(message):
    print(f"peers.py: {message}", file=sys.stderr)
    sys.exit(1)


# ------------------------------------------------------------------ ensure

# Run by the venv's python: exit 0 when every pin (and each pinned extra's
# requirements) is installed, else print what is missing and exit 1.
_CHECK = r"""
import re, sys
from importlib import metadata

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

installed = {norm(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}
missing = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    m = re.match(r"^([A-Za-z0-9_.-]+)(?:\[([^\]]*)\])?\s*==\s*(\S+)$", line)
    if not m:
        missing.append(line)
        continue
    name, extras, version = norm(m.group(1)), m.group(2), m.group(3)
    if installed.get(name) != version:
        missing.append(line)
        continue
    for extra in filter(None, (e.strip() for e in (extras or "").split(","))):
        for req in metadata.requires(m.group(1)) or []:
            spec, _, marker = req.partition(";")
            if re.search(r"extra\s*==\s*['\"]" + re.escape(extra) + r"['\"]", marker):
                dep = norm(re.match(r"[A-Za-z0-9_.-]+", spec.strip()).group(0))
                if dep not in installed:
                    missing.append(f"{line} (needs {dep})")
if missing:
    print(", ".join(missing))
    sys.exit(1)
"""


def venv_python(venv):
    return venv / "bin" / "python"


def ensure(venv):
    venv = Path(venv).absolute()
    py = venv_python(venv)
    if not py.exists():
        print(f"peers.py: creating venv {venv}", file=sys.stderr)
        r = subprocess.run([sys.executable, "-m", "venv", str(venv)])
        if r.returncode != 0 or not py.exists():
            fail(f"python3 -m venv {venv} failed")
    check = subprocess.run([str(py), "-c", _CHECK, str(REQUIREMENTS)], capture_output=True, text=True)
    if check.returncode == 0:
        return
    print(f"peers.py: installing into {venv}: {check.stdout.strip() or check.stderr.strip()}", file=sys.stderr)
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-input", "-r", str(REQUIREMENTS)],
        env=env,
    )
    if r.returncode != 0:
        fail(f"pip install -r {REQUIREMENTS} into {venv} failed (exit {r.returncode})")
    check = subprocess.run([str(py), "-c", _CHECK, str(REQUIREMENTS)], capture_output=True, text=True)
    if check.returncode != 0:
        fail(f"still missing after pip install: {check.stdout.strip() or check.stderr.strip()}")


# ------------------------------------------------------------------- peers


def import_peer(peer, threads):
    if peer == "polars":
        # Read once when polars loads its thread pool: must be set before import.
        os.environ["POLARS_MAX_THREADS"] = str(threads)
        import polars as pl

        return pl
    if peer == "pyarrow":
        import pyarrow as pa
        import pyarrow.csv  # noqa: F401
        import pyarrow.json  # noqa: F401
        import pyarrow.parquet  # noqa: F401

        pa.set_cpu_count(threads)
        pa.set_io_thread_count(threads)
        return pa
    if peer == "duckdb":
        import duckdb

        return duckdb
    raise ValueError(peer)


def run_pyarrow(pa, fmt, threads, src, outdir):
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson
    import pyarrow.parquet as pq

    use_threads = threads > 1
    out = outdir / "part-0.parquet"
    # The default 1 MiB blocks: 16 MiB ones made both readers ~2x slower here.
    # Types are inferred from the first block (a column empty there would be
    # typed null and fail later; the clickstream has none).
    block = 1 << 20
    if fmt == "csv":
        # The clickstream has quoted values with line breaks; without
        # newlines_in_values pyarrow stops with "CSV parser got out of sync with chunker".
        reader = pcsv.open_csv(
            src,
            read_options=pcsv.ReadOptions(use_threads=use_threads, block_size=block),
            parse_options=pcsv.ParseOptions(newlines_in_values=True),
        )
    elif hasattr(pjson, "open_json"):  # pyarrow >= 19: streaming NDJSON reader
        reader = pjson.open_json(src, read_options=pjson.ReadOptions(use_threads=use_threads, block_size=block))
    else:
        table = pjson.read_json(src, read_options=pjson.ReadOptions(use_threads=use_threads, block_size=block))
        pq.write_table(table, out, compression="zstd", compression_level=ZSTD_LEVEL)
        return
    # write_batch makes one row group per ~1 MiB batch (bigger files, slower);
    # gather batches into row groups of ROW_GROUP rows instead.
    with pq.ParquetWriter(out, reader.schema, compression="zstd", compression_level=ZSTD_LEVEL) as writer:
        pending, rows = [], 0
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= ROW_GROUP:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=rows)
                pending, rows = [], 0
        if pending:
            writer.write_table(pa.Table.from_batches(pending), row_group_size=rows)


def run_polars(pl, fmt, threads, src, outdir):
    out = outdir / "part-0.parquet"
    lf = pl.scan_csv(src) if fmt == "csv" else pl.scan_ndjson(src)
    lf.sink_parquet(out, compression="zstd", compression_level=ZSTD_LEVEL)


def run_duckdb(duckdb, fmt, threads, src, outdir):
    out = outdir / "part-0.parquet"
    con = duckdb.connect(":memory:", config={"threads": threads})
    try:
        con.execute(f"SET threads = {int(threads)}")
        reader = "read_csv_auto" if fmt == "csv" else "read_json_auto"
        q = lambda s: "'" + str(s).replace("'", "''") + "'"  # noqa: E731
        con.execute(
            f"COPY (SELECT * FROM {reader}({q(src)})) TO {q(out)} "
            f"(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {ZSTD_LEVEL})"
        )
    finally:
        con.close()


RUNNERS = {"pyarrow": run_pyarrow, "polars": run_polars, "duckdb": run_duckdb}


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def parse(args):
    src = Path(args.input)
    outdir = Path(args.outdir)
    if not src.is_file():
        fail(f"input {src} is not a file")
    outdir.mkdir(parents=True, exist_ok=True)
    stale = sorted(outdir.glob("*.parquet"))
    if stale:
        fail(f"output dir {outdir} already holds Parquet files ({stale[0].name}, ...)")

    t0 = time.perf_counter()
    try:
        lib = import_peer(args.peer, args.threads)
    except ImportError as e:
        fail(f"cannot import {args.peer} ({e}); run `python3 {sys.argv[0]} ensure VENV` and use VENV/bin/python")
    import_seconds = time.perf_counter() - t0

    c0 = cpu_seconds()
    t0 = time.perf_counter()
    try:
        RUNNERS[args.peer](lib, args.format, args.threads, str(src), outdir)
    except Exception as e:  # the peer's own error, e.g. a type inference failure
        fail(f"{args.peer} failed on {args.format} {src}: {type(e).__name__}: {e}")
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds() - c0

    files = sorted(outdir.glob("*.parquet"))
    if not files:
        fail(f"{args.peer} wrote no Parquet file into {outdir}")
    print(
        json.dumps(
            {
                "peer": args.peer,
                "format": args.format,
                "threads": args.threads,
                "files": [str(f) for f in files],
                "seconds": round(seconds, 4),
                "import_seconds": round(import_seconds, 4),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "out_bytes": sum(f.stat().st_size for f in files),
                "cpu_seconds": round(cpu, 4),
            }
        ),
        flush=True,
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("ensure", help="create the venv and install the pinned peers")
    e.add_argument("venv")
    p = sub.add_parser("parse", help="convert one file to zstd Parquet with one peer")
    p.add_argument("--peer", required=True, choices=PEERS)
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--threads", required=True, type=int)
    p.add_argument("input")
    p.add_argument("outdir")
    args = ap.parse_args(argv)
    if args.cmd == "ensure":
        ensure(args.venv)
    else:
        if args.threads < 1:
            fail("--threads must be at least 1")
        parse(args)


if __name__ == "__main__":
    main()
