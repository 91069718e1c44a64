"""Benchmark of the standardisation-rule what-if preview on PostgreSQL (issue 5: "answers within
a second for 100,000 annotations").

What it measures
    One transcription project with ``--items`` clips (33,334) × 3 transcripts = 100,002 from 20
    labelers. Each clip has a voice command (one of 40 phrases plus a number that varies with
    the clip, so there are thousands of distinct sentences) and each labeler writes it the way
    real transcribers differ: a filler in front ("Um, ", "Umm, ", "um ", "uh " or none), the
    first letter capitalised or not, a full stop or not, and now and then "[inaudible]" or
    "[Inaudible]" for the number. Then:

    1. ``rule_set_preview`` of a six-rule set (case folding, the standard token, punctuation,
       fillers with a *pattern* — so the regex time limit is on for every text — a regex rule,
       whitespace), the whole service as the API calls it: read the current transcripts, the
       engine's preview, agreement before → after (text_agreement, text_alpha, medoid consensus
       on each side) and the consensus change count. Median, min and max of ``--runs`` (5) after
       a warm-up, with the time in SQL and the peak Python memory of one run (tracemalloc), and
       the median of ``--runs`` cold calls (the "before" side's cache bypassed, so it is
       computed each time);
       once with no active version (before = the raw text, trimmed) and once with version 1
       active (before = version 1 applied in memory);
    2. ``rule_set_activate`` of the rules (stores 100,002 ``NormalizedTranscript`` rows);
    3. the figures before → after, to show the data is realistic.

Method
    Database ``--db`` (``labelhub_bench_rules``) on the server of ``DATABASE_URL``, dropped,
    created, migrated and seeded with ``INSERT ... SELECT generate_series``; dropped at the end
    unless ``--keep``. ``--profile`` prints a cProfile of one preview.

Run: ``python bench/rule_preview.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.review_queue import (  # noqa: E402 (the repository must be importable first)
    SqlClock,
    drop_database,
    prepare_database,
    server_params,
    setup_django,
)

PHRASES = [
    "nearest gas station",
    "turn left at the next light",
    "call mom",
    "play some jazz",
    "navigate to pier",
    "set a timer for minutes",
    "what is the weather in berlin",
    "send a message to alex",
    "open the garage door",
    "turn the volume down",
    "find a coffee shop near me",
    "read my last email",
    "skip this song",
    "remind me to buy milk",
    "how long to the airport",
    "turn off the lights in the kitchen",
    "start a workout",
    "book a table for",
    "add eggs to the shopping list",
    "what time is it in tokyo",
    "call the office",
    "lock the front door",
    "show me photos from last week",
    "translate good morning to spanish",
    "pause the music",
    "turn on do not disturb",
    "where did i park",
    "set an alarm for",
    "text sam i am running late",
    "find the nearest pharmacy",
    "play the news",
    "how tall is mount everest",
    "take me home",
    "turn the heating up",
    "call a taxi",
    "what is on my calendar today",
    "order more coffee pods",
    "find parking near the stadium",
    "resume the podcast",
    "go to platform",
]

RULES = [
    {"kind": "case_fold"},
    {"kind": "token", "canonical": "[unintelligible]", "variants": ["[inaudible]"]},
    {"kind": "punctuation"},
    {"kind": "fillers", "canonical": "um", "variants": ["umm"], "pattern": "u+h*m+"},
    {"kind": "regex", "pattern": r"\buh\b", "replace": "um", "flags": "i"},
    {"kind": "whitespace"},
]
# Version 1 (activated for the second measurement): everything but the fillers.
ACTIVE = [RULES[0], RULES[1], RULES[2], RULES[5]]


def seed(args: argparse.Namespace):
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from annotations.models import Membership, Role
    from annotations.services.projects import project_create

    users = get_user_model()
    with transaction.atomic():
        manager = users.objects.create_user("bench-manager")
        project = project_create(
            creator=manager, name="bench-rules", overlap=3, task_type="transcription"
        )
        labelers = users.objects.bulk_create(
            users(username=f"bench-labeler-{i:02d}") for i in range(20)
        )
        Membership.objects.bulk_create(
            Membership(project=project, user=u, role=Role.LABELER) for u in labelers
        )
        with connection.cursor() as cur:
            cur.execute("SELECT setseed(0.23)")
            cur.execute(
                """
                INSERT INTO annotations_item (project_id, external_id, text, image, image_url,
                    thumbnail, slices, metadata, status, round, labels_done, extra_labels,
                    created_at)
                SELECT %s, 'clip-' || i, '', '', '', '', '{}', '{}', 'complete', 1, 3, 0, now()
                FROM generate_series(1, %s) AS i""",
                [project.pk, args.items],
            )
            # Each transcript: [filler] phrase [number or token] [.] with a random first-letter
            # case; the phrase and number follow the clip, the spelling the transcriber.
            cur.execute(
                """
                INSERT INTO annotations_annotation (project_id, item_id, labeler_id, round, value,
                    label_id, created_at, time_spent_ms, idempotency_key, guideline_version,
                    withdrawn)
                SELECT %(project)s, item_id, (%(labelers)s::bigint[])[1 + (7 * i + 11 * k) %% 20],
                    1, jsonb_build_object('text', CASE WHEN random() < 0.5
                        THEN upper(left(body, 1)) || substr(body, 2) ELSE body END),
                    NULL, now(), 4000, 'b-' || item_id || '-' || k, 0, false
                FROM (
                    SELECT item_id, i, k,
                        (ARRAY['', '', '', 'Um, ', 'Umm, ', 'um ', 'uh '])[
                            1 + floor(random() * 7)::int]
                        || (%(phrases)s::text[])[1 + i %% 40]
                        || CASE WHEN random() < %(unsure)s
                                THEN (ARRAY[' [inaudible]', ' [Inaudible]', ' [unintelligible]'])[
                                    1 + floor(random() * 3)::int]
                                ELSE ' ' || (i %% %(numbers)s) END
                        || CASE WHEN random() < 0.4 THEN '.' ELSE '' END AS body
                    FROM (
                        SELECT id AS item_id, row_number() OVER (ORDER BY id) AS i
                        FROM annotations_item WHERE project_id = %(project)s
                    ) AS items, generate_series(0, 2) AS k
                ) AS transcripts""",
                {
                    "project": project.pk,
                    "labelers": [u.pk for u in labelers],
                    "phrases": PHRASES,
                    "unsure": args.unsure,
                    "numbers": args.numbers,
                },
            )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    return project, manager


def measure(label: str, call, runs: int) -> dict:
    from django.db import connection

    first = time.perf_counter()
    call()  # warm-up; with a cold cache of the "before" side
    first = time.perf_counter() - first
    times, cpu_times, sql_times = [], [], []
    result: dict = {}
    for _ in range(runs):
        timer = SqlClock()
        with connection.execute_wrapper(timer):
            begun, cpu = time.perf_counter(), time.process_time()
            result = call()
            times.append(time.perf_counter() - begun)
            cpu_times.append(time.process_time() - cpu)
        sql_times.append(timer.seconds)
    # Cold: the "before" side computed every time (its cache bypassed), as on a first preview
    # or after any transcript changed; a median over runs instead of the single first call.
    cold_times, cold_cpu = [], []
    with _before_uncached():
        for _ in range(runs):
            begun, cpu = time.perf_counter(), time.process_time()
            call()
            cold_times.append(time.perf_counter() - begun)
            cold_cpu.append(time.process_time() - cpu)
    tracemalloc.start()
    call()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{label}: first (cold cache) {first:.3f} s; then median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}; this process's CPU median "
        f"{statistics.median(cpu_times):.3f} s; SQL median {statistics.median(sql_times):.3f} s); "
        f"cold median {statistics.median(cold_times):.3f} s (min {min(cold_times):.3f}, "
        f"max {max(cold_times):.3f}; CPU median {statistics.median(cold_cpu):.3f} s); "
        f"peak Python memory {peak / 2**20:.0f} MB; load average {os.getloadavg()[0]:.1f}"
    )
    return result


class _NoCache:
    """Stands in for the cache in ``rule_sets`` so the "before" side is computed on every call."""

    def get(self, key, default=None):
        return default

    def set(self, *args, **kwargs) -> None:
        pass


@contextlib.contextmanager
def _before_uncached():
    from consensus.services import rule_sets

    saved = rule_sets.cache
    rule_sets.cache = _NoCache()
    try:
        yield
    finally:
        rule_sets.cache = saved


def breakdown(project) -> None:
    """CPU seconds of the preview's three parts, each run alone: reading the transcripts, the
    engine's preview of the candidate, and one side's metrics (the other side is cached)."""
    from consensus import standardise
    from consensus.data import transcript_rows
    from consensus.services import rule_sets

    def cpu(call):
        begun = time.process_time()
        value = call()
        return time.process_time() - begun, value

    read, (items, labelers, raw) = cpu(lambda: transcript_rows(project=project))
    compiled = standardise.compile_rules(RULES)
    engine, result = cpu(lambda: standardise.preview(compiled, raw))
    after = [result.outputs[t] for t in raw]
    layout = rule_sets._Layout(items, labelers)
    metrics, _ = cpu(lambda: rule_sets._figures(layout.table(after)))
    print(
        f"  CPU breakdown: read {read:.3f} s, engine preview {engine:.3f} s, one side's metrics "
        f"(text_figures: agreement, alpha, consensus) {metrics:.3f} s"
    )


def describe(result: dict) -> None:
    def fmt(value) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    before, after = result["before"], result["after"]
    print(
        f"  {result['total']:,} transcripts ({result['distinct_before']:,} distinct → "
        f"{result['distinct_after']:,}), {result['changed']:,} changed, {result['items']:,} items; "
        f"{result['changed_items']:,} items change consensus"
    )
    for name in ("exact_agreement", "word_error_rate", "character_error_rate", "alpha"):
        print(f"  {name}: {fmt(before[name])} → {fmt(after[name])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=33_334)
    parser.add_argument("--unsure", type=float, default=0.1, help="share of [inaudible] numbers")
    parser.add_argument(
        "--numbers", type=int, default=997, help="distinct numbers said after a phrase"
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default="labelhub_bench_rules")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile one preview")
    args = parser.parse_args()

    pg = server_params()
    prepare_database(pg, args.db, reuse=False)
    setup_django(pg, args.db)
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            drop_database(pg, args.db)


def run(args: argparse.Namespace) -> None:
    from annotations.models import Annotation
    from consensus.models import NormalizedTranscript
    from consensus.services import rule_sets

    # Without a broker the recompute that activation asks for would run in-process and be timed
    # with it; it is the report's cost, measured by bench/recompute.py, not the activation's.
    rule_sets.report_recompute_enqueue = lambda project_id: False

    started = time.perf_counter()
    project, manager = seed(args)
    count = Annotation.objects.filter(project=project).count()
    seconds = time.perf_counter() - started
    print(f"seeded {args.items:,} clips, {count:,} transcripts in {seconds:.1f} s")

    def preview() -> dict:
        return rule_sets.rule_set_preview(user=manager, project_id=project.pk, rules=RULES)

    result = measure("preview, no active version", preview, args.runs)
    describe(result)
    breakdown(project)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(preview)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)

    rule_sets.rule_set_create(user=manager, project_id=project.pk, rules=ACTIVE, note="v1")
    begun = time.perf_counter()
    rule_sets.rule_set_activate(user=manager, project_id=project.pk, version=1)
    activated = time.perf_counter() - begun
    stored = NormalizedTranscript.objects.filter(rule_set__project=project).count()
    print(f"activate v1: {activated:.3f} s, {stored:,} normalised rows stored")

    result = measure("preview, version 1 active", preview, args.runs)
    describe(result)


if __name__ == "__main__":
    main()
