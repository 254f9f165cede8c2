"""100,000 generated callbacks against the webhook (the CI test runs 3,000): prints the count,
the time and the server errors (must be 0).

    .venv/bin/python bench/webhook_fuzz.py [--examples 100000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=100_000)
    args = ap.parse_args()
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_webhook_fuzz.py"],
                       cwd=ROOT, env={**os.environ, "FUZZ_EXAMPLES": str(args.examples)}, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    print(f"{args.examples} generated callbacks in {elapsed:.0f} s ({args.examples / elapsed:.0f}/s): "
          f"{'0 server errors' if r.returncode == 0 else 'FAILED'}")
    if r.returncode:
        print(r.stdout[-3000:])
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
