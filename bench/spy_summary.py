"""Summarise a py-spy raw (folded stacks) profile of the gunicorn workers.

``bench/api_load.py --py-spy DIR`` records the workers with ``py-spy record --gil`` during the
measured window, so every sample is Python running with the GIL: CPU time, not waiting for
Postgres. This prints where those samples fall:

* by stage of a request: whole-frame (inclusive) shares of frames that name a stage (token
  authentication, project lookup, the next/submit services, DRF serialization, ...);
* by layer: the self time of the innermost frame, grouped by package (Django ORM, psycopg, DRF,
  gunicorn, the project's own code, ...).

Usage: ``python bench/spy_summary.py DIR/py-spy-sync-2x1.txt``.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

#: Stage name -> regular expression on "function (file)" of any frame on the stack.
STAGES = {
    "gunicorn: accept, parse, write": r"SyncWorker\.handle \(|ThreadWorker\.handle \(",
    "Django handler + middleware": r"WSGIHandler\.__call__",
    "DRF dispatch (the view, auth included)": r"APIView\.dispatch",
    "  DRF token authentication": r"TokenAuthentication\.authenticate \(",
    "  project_get_for_user": r"project_get_for_user",
    "  next: assignment_next": r"assignment_next \(",
    "    next: candidate query (_candidates + lock)": r"item_lock_first_free|_candidates \(",
    "    next: _resume": r"_resume \(",
    "    next: item_has_open_slot": r"item_has_open_slot",
    "    next/submit: assignment_put": r"assignment_put",
    "  submit: annotation_submit": r"annotation_submit \(",
    "  DRF serializers (input and output)": r"rest_framework/(serializers|fields)\.py",
    "  DRF response rendering": r"Response\.rendered_content|JSONRenderer",
    "ORM: building and compiling SQL": r"SQLCompiler\.as_sql|QuerySet\._filter_or_exclude|"
    r"Query\.add_q|resolve_expression",
    "psycopg: send query, read result": r"psycopg/",
    "Django: turning rows into model objects": r"ModelIterable\.__iter__.*from_db|"
    r"Model\.from_db",
    "transaction.atomic enter/exit": r"Atomic\.__enter__|Atomic\.__exit__",
    "connection health check (SELECT 1)": r"close_if_health_check_failed",
}

#: Package of the innermost frame: first matching pattern on its file.
LAYERS = [
    ("django ORM (django/db)", r"django/db/"),
    ("psycopg", r"psycopg/"),
    ("DRF (rest_framework)", r"rest_framework/"),
    ("django other", r"django/"),
    ("gunicorn", r"gunicorn/"),
    ("whitenoise", r"whitenoise/"),
    ("project code", r"^(annotations|labelhub|consensus|frontend)/"),
    ("stdlib and other", r""),
]


def read_stacks(path: Path) -> Counter:
    """Folded stacks -> count, with the process prefix dropped."""
    stacks: Counter = Counter()
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        stacks[tuple(frames)] += int(count)
    return stacks


def frame_file(frame: str) -> str:
    match = re.search(r"\(([^()]*?)(?::\d+)?\)$", frame)
    path = match.group(1) if match else ""
    return path.split("site-packages/")[-1].replace("/work/main/", "")


def summarise(stacks: Counter) -> None:
    total = sum(stacks.values())
    print(f"{total:,} samples with the GIL held")
    print("\nby stage (a sample counts for every stage on its stack):")
    for name, pattern in STAGES.items():
        regex = re.compile(pattern)
        hits = sum(n for frames, n in stacks.items() if any(regex.search(f) for f in frames))
        print(f"  {100 * hits / total:5.1f}%  {name}")
    print("\nby layer (innermost frame only):")
    layers: Counter = Counter()
    for frames, n in stacks.items():
        path = frame_file(frames[-1]) if frames else ""
        layer = next(name for name, pattern in LAYERS if re.search(pattern, path))
        layers[layer] += n
    for name, n in layers.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path, help="a raw py-spy file")
    summarise(read_stacks(parser.parse_args().profile))
    return 0


if __name__ == "__main__":
    sys.exit(main())
