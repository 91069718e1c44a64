"""The demo's transcription project: real clips imported through the audio importer, three
simulated transcripts per clip that differ the way real ones do, and a slot left for the demo
labeler."""

import wave

import pytest

from annotations.models import Annotation, Item, Membership, Project, TaskType
from annotations.services.assignments import assignment_next
from fixtures.demo import demo_load
from fixtures.demo_transcription import DEMO_TRANSCRIPTION_PROJECT, TOKENS
from fixtures.make_audio import AUDIO_DIR, CLIPS, RATE

pytestmark = pytest.mark.django_db


def test_committed_clips_are_small_8_khz_mono_wav():
    total = 0
    for stem, _text, _noise in CLIPS:
        path = AUDIO_DIR / f"{stem}.wav"
        with wave.open(str(path)) as clip:
            assert (clip.getframerate(), clip.getnchannels(), clip.getsampwidth()) == (RATE, 1, 2)
            assert 1.0 < clip.getnframes() / RATE < 4.0  # short spoken requests
        total += path.stat().st_size
    assert len(CLIPS) == 12
    assert total < 1_000_000


def test_demo_holds_a_transcription_project_with_differing_transcripts():
    # when the demo is loaded
    demo_load(n_items=12, seed=3)
    project = Project.objects.get(name=DEMO_TRANSCRIPTION_PROJECT)
    # then it is a transcription project with the standard tokens and 12 stored clips
    assert project.task_type == TaskType.TRANSCRIPTION
    assert project.transcript_tokens == TOKENS
    items = Item.objects.filter(project=project)
    assert items.count() == 12
    assert all(item.audio and item.metadata["audio_format"] == "wav" for item in items)
    assert sorted({item.slices["noise"] for item in items}) == ["burst", "none"]
    # and three transcripts per clip, stored as {"text": ...}, that differ as real ones do
    texts: dict[str, list[str]] = {}
    for row in Annotation.objects.filter(project=project).select_related("item"):
        assert set(row.value) == {"text"}
        texts.setdefault(row.item.external_id, []).append(row.value["text"])
    assert {k: len(v) for k, v in texts.items()} == {item.external_id: 3 for item in items}
    assert {"Um, nearest gas station.", "Umm, nearest gas station."} <= set(texts["clip-01"])
    assert sum("[unintelligible]" in t for ts in texts.values() for t in ts) >= 4
    assert sum(len(set(ts)) > 1 for ts in texts.values()) == 12  # every clip has a disagreement
    # and the demo logins keep their roles; the labeler has a clip to transcribe
    roles = dict(Membership.objects.filter(project=project).values_list("user__username", "role"))
    assert (roles["labeler"], roles["manager"], roles["sme"], roles["mle"]) == (
        "labeler",
        "manager",
        "reviewer",
        "engineer",
    )
    labeler = Membership.objects.get(project=project, user__username="labeler").user
    assert assignment_next(project=project, labeler=labeler) is not None
    # and a saved, inactive rule set whose preview raises agreement
    from consensus.models import RuleSet
    from consensus.services.rule_sets import rule_set_preview

    rules = RuleSet.objects.get(project=project)
    assert project.rule_set_version == 0
    manager = Membership.objects.get(project=project, user__username="manager").user
    preview = rule_set_preview(user=manager, project_id=project.pk, rules=rules.rules)
    assert preview["after"]["exact_agreement"] > preview["before"]["exact_agreement"] + 0.3
    assert preview["warnings"] == []
