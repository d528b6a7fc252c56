#!/usr/bin/env bash
# An ad-hoc investigation: how do surgeons compare on robotic cases of the last two years alone?
# Nothing here touches the nightly work directory's outputs: `-o -` sends results down the pipe instead.
# usage: examples/investigate-robotic.sh [WORKDIR]   (after `ector all` has built the case mart)
set -euo pipefail
workdir=${1:-ector-work}

# 1. Robotic cases since 2023 -> the surgeon view of just those cases -> a readable table.
ector -q -w "$workdir" transform -o - --since 2023-01-01 --where "approach = 'robotic'" \
  | ector -q -w "$workdir" workflow surgeon -i - -o - --format csv \
  | column -s, -t | head -n 25

# 2. Who is outside the 95% funnel limits for a major complication, in the full data?
ector -q -w "$workdir" show workflow/surgeon/funnel \
  --where "outcome = 'complication_major' AND flag <> 'as_expected' AND flag <> 'too_few_cases'" \
  --columns unit_id,measure,observed,denominator,value,flag --format csv

# 3. The monthly conversion rate of one family, as NDJSON for jq or a notebook.
ector -q -w "$workdir" transform -o - --format json --where "procedure_family = 'colectomy'" \
  | python3 -c 'import sys, polars as pl; m = pl.read_ndjson(sys.stdin.buffer); print(m.group_by("period_month").agg(pl.col("conversion").mean()).sort("period_month").tail(12))'
