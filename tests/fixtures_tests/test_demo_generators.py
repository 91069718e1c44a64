"""Tests for the Django-free demo generators (phone-surface images and simulated labelers)."""

from __future__ import annotations

import io
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fixtures.phone_surfaces import CLASS_KEYS, CLASS_MIX, CLASSES, SIZE, DemoItem, generate_items
from fixtures.simulated_labelers import DEMO_LABELERS, SimulatedLabel, simulate_labels

REPO_ROOT = Path(__file__).resolve().parents[2]
N_ITEMS = 200


@pytest.fixture(scope="module")
def items() -> list[DemoItem]:
    """The default demo set, generated once because drawing 200 images takes a few seconds."""
    return generate_items(N_ITEMS, seed=0)


@pytest.fixture(scope="module")
def small_items() -> list[DemoItem]:
    """A small set for property tests, where only ids, truth and ambiguity matter."""
    return generate_items(30, seed=1)


def _accuracy_by_labeler(items: list[DemoItem], labels: list[SimulatedLabel]) -> dict[str, float]:
    truth = {item.external_id: item.true_class for item in items}
    hits: dict[str, list[bool]] = defaultdict(list)
    for label in labels:
        hits[label.username].append(label.label == truth[label.external_id])
    return {username: sum(values) / len(values) for username, values in hits.items()}


def test_generators_do_not_import_django() -> None:
    code = (
        "import sys, fixtures.phone_surfaces, fixtures.simulated_labelers; "
        "print(any(m.split('.')[0] == 'django' for m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_classes_table() -> None:
    assert CLASS_KEYS == ("clean", "scratch", "dent", "pit_mark", "discoloration", "borderline")
    kinds = {key: kind for key, _, kind in CLASSES}
    assert kinds.pop("borderline") == "borderline"
    assert set(kinds.values()) == {"normal"}
    assert all(display for _, display, _ in CLASSES)


def test_generate_items_is_deterministic_for_a_seed() -> None:
    assert generate_items(8, seed=5) == generate_items(8, seed=5)
    assert generate_items(8, seed=5) != generate_items(8, seed=6)


def test_generate_items_handles_zero_and_rejects_negative() -> None:
    assert generate_items(0) == []
    with pytest.raises(ValueError, match="non-negative"):
        generate_items(-1)


def test_pngs_decode_at_expected_size(items: list[DemoItem]) -> None:
    for item in items:
        with Image.open(io.BytesIO(item.png)) as image:
            assert image.format == "PNG"
            assert image.size == (SIZE, SIZE) == (256, 256)
            assert image.mode == "RGB"


def test_external_ids_are_unique_and_numbered(items: list[DemoItem]) -> None:
    ids = [item.external_id for item in items]
    assert ids[0] == "phone-0001"
    assert ids[-1] == "phone-0200"
    assert len(set(ids)) == len(ids)


def test_class_mix_is_close_to_target(items: list[DemoItem]) -> None:
    counts = Counter(item.true_class for item in items)
    assert set(counts) == set(CLASS_MIX)
    for key, share in CLASS_MIX.items():
        assert abs(counts[key] / len(items) - share) <= 0.03, key


def test_slices_cover_both_cameras_and_lightings(items: list[DemoItem]) -> None:
    assert all(set(item.slices) == {"camera", "lighting"} for item in items)
    assert {item.slices["camera"] for item in items} == {"A", "B"}
    assert {item.slices["lighting"] for item in items} == {"bright", "dim"}


def test_dim_images_are_darker(items: list[DemoItem]) -> None:
    def brightness(item: DemoItem) -> float:
        with Image.open(io.BytesIO(item.png)) as image:
            return float(np.asarray(image.convert("L")).mean())

    by_lighting: dict[str, list[float]] = defaultdict(list)
    for item in items:
        by_lighting[item.slices["lighting"]].append(brightness(item))
    mean = {key: sum(values) / len(values) for key, values in by_lighting.items()}
    assert mean["dim"] < 0.75 * mean["bright"]


def test_gold_is_about_a_quarter_and_equals_truth(items: list[DemoItem]) -> None:
    gold = [item for item in items if item.gold is not None]
    assert 0.2 <= len(gold) / len(items) <= 0.3
    assert all(item.gold == item.true_class for item in gold)


def test_ambiguity_range_and_faint_share(items: list[DemoItem]) -> None:
    assert all(0.0 <= item.ambiguity <= 1.0 for item in items)
    faint = [item for item in items if item.ambiguity >= 0.5]
    assert 0.10 <= len(faint) / len(items) <= 0.20
    assert all(item.true_class != "clean" for item in faint)


def test_simulate_labels_is_deterministic(items: list[DemoItem]) -> None:
    assert simulate_labels(items, seed=3) == simulate_labels(items, seed=3)
    assert simulate_labels(items, seed=3) != simulate_labels(items, seed=4)


def test_simulated_labels_are_valid(items: list[DemoItem]) -> None:
    labels = simulate_labels(items)
    usernames = {labeler.username for labeler in DEMO_LABELERS}
    assert all(label.label in CLASS_KEYS for label in labels)
    assert all(label.username in usernames for label in labels)
    assert all(1500 <= label.time_spent_ms <= 9000 for label in labels)
    assert "borderline" in {label.label for label in labels}


def test_coverage_leaves_some_work_open(items: list[DemoItem]) -> None:
    per_item = Counter(label.external_id for label in simulate_labels(items))
    counts = [per_item[item.external_id] for item in items]
    full = sum(count == 3 for count in counts)
    assert full == round(0.85 * len(items))
    assert all(count <= 2 for count in counts if count != 3)
    assert any(count == 0 for count in counts)


def test_ambiguous_items_take_longer(items: list[DemoItem]) -> None:
    ambiguity = {item.external_id: item.ambiguity for item in items}
    times: dict[bool, list[int]] = defaultdict(list)
    for label in simulate_labels(items):
        times[ambiguity[label.external_id] >= 0.5].append(label.time_spent_ms)
    assert sum(times[True]) / len(times[True]) > 1.3 * sum(times[False]) / len(times[False])


def test_better_labelers_agree_with_truth_more_often(items: list[DemoItem]) -> None:
    pooled = [label for seed in range(5) for label in simulate_labels(items, seed=seed)]
    accuracy = _accuracy_by_labeler(items, pooled)
    ranked = sorted(DEMO_LABELERS, key=lambda labeler: labeler.accuracy, reverse=True)
    measured = [accuracy[labeler.username] for labeler in ranked]
    assert measured == sorted(measured, reverse=True)

    single = _accuracy_by_labeler(items, simulate_labels(items, seed=0))
    best, worst = ranked[0].username, ranked[-1].username
    assert single[best] - single[worst] >= 0.2


def test_systematic_confusion_shows_up(items: list[DemoItem]) -> None:
    truth = {item.external_id: item.true_class for item in items}
    pooled = [label for seed in range(5) for label in simulate_labels(items, seed=seed)]
    chen_dent_errors = Counter(
        label.label
        for label in pooled
        if label.username == "chen" and truth[label.external_id] == "dent" and label.label != "dent"
    )
    assert chen_dent_errors.most_common(1)[0][0] == "pit_mark"


def test_simulate_labels_rejects_impossible_overlap(small_items: list[DemoItem]) -> None:
    with pytest.raises(ValueError, match="overlap must be between"):
        simulate_labels(small_items, overlap=len(DEMO_LABELERS) + 1)
    with pytest.raises(ValueError, match="coverage must be between"):
        simulate_labels(small_items, coverage=1.5)


@settings(max_examples=40, deadline=None)
@given(
    overlap=st.integers(min_value=1, max_value=len(DEMO_LABELERS)),
    coverage=st.floats(min_value=0.0, max_value=1.0),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_no_labeler_twice_and_never_above_overlap(
    small_items: list[DemoItem], overlap: int, coverage: float, seed: int
) -> None:
    labels = simulate_labels(small_items, overlap=overlap, coverage=coverage, seed=seed)
    pairs = [(label.external_id, label.username) for label in labels]
    assert len(pairs) == len(set(pairs))
    per_item = Counter(label.external_id for label in labels)
    assert all(count <= overlap for count in per_item.values())
    full = sum(count == overlap for count in per_item.values())
    assert full >= round(coverage * len(small_items))
