"""Standardisation rule sets of transcription projects through the API and the services: each
rule kind on real-looking transcripts, versions, bad rules naming the field, the regex time
limit, the what-if preview's figures against hand-computed ones, activation (raw transcripts
never change) and the receiver that normalises a transcript submitted afterwards."""

from __future__ import annotations

import itertools
import time

import pytest
from django.core.cache import cache
from django.utils import timezone

from annotations.models import Annotation, Item, LabelClass, Role, Round
from annotations.signals import annotation_committed
from consensus.data import project_transcripts_load
from consensus.metrics.text import text_agreement, text_alpha
from consensus.models import NormalizedTranscript, RuleSet
from consensus.services import rule_sets
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.django_db

_keys = itertools.count()

#: The project's rules used by most tests: case, the standard token, punctuation (the token keeps
#: its brackets), one filler spelling, whitespace last.
STANDARD = [
    {"kind": "case_fold"},
    {"kind": "token", "canonical": "[unintelligible]", "variants": ["[inaudible]"]},
    {"kind": "punctuation"},
    {"kind": "fillers", "canonical": "um", "variants": ["umm"], "note": "one spelling"},
    {"kind": "whitespace"},
]

#: Per item, labelers ana, ben, cy (None: no transcript).
TRANSCRIPTS = [
    ["Umm, nearest gas station", "um nearest gas station", "nearest gas station"],
    ["[inaudible] turn left", "[unintelligible] turn left", "[Inaudible] turn left."],
    ["go north now", "Go north", "go north."],
    ["Turn right", "turn right", None],
]
#: TRANSCRIPTS as STANDARD normalises them, written out by hand.
NORMALISED = [
    ["um nearest gas station", "um nearest gas station", "nearest gas station"],
    ["[unintelligible] turn left", "[unintelligible] turn left", "[unintelligible] turn left"],
    ["go north now", "go north", "go north"],
    ["turn right", "turn right", None],
]


def transcribe(item: Item, labeler, text: str, *, round_number: int = 1, **extra) -> Annotation:
    """A stored transcript, inserted as the submit service would store it."""
    return Annotation.objects.create(
        project_id=item.project_id,
        item=item,
        labeler=labeler,
        round=round_number,
        value={"text": text},
        label=None,
        idempotency_key=f"t-{next(_keys)}",
        **extra,
    )


@pytest.fixture
def tproject(db):
    # Project ids can repeat between tests on SQLite (rolled-back AUTOINCREMENT), and the
    # receiver caches each project's task type.
    cache.clear()
    project = ProjectFactory(task_type="transcription", name="Voice commands")
    LabelClass.objects.filter(project=project).delete()  # transcripts have no classes
    return project


@pytest.fixture
def people(tproject):
    def make(role, name):
        user = UserFactory(username=name)
        MembershipFactory(project=tproject, user=user, role=role)
        return user

    return {
        "manager": make(Role.MANAGER, "mia"),
        "reviewer": make(Role.REVIEWER, "rey"),
        "engineer": make(Role.ENGINEER, "eng"),
        "labeler": make(Role.LABELER, "lab"),
        "outsider": UserFactory(username="out"),
        "trio": [make(Role.LABELER, n) for n in ("ana", "ben", "cy")],
    }


@pytest.fixture
def transcribed(tproject, people):
    """TRANSCRIPTS stored, one item per row; returns the items."""
    items = []
    for n, row in enumerate(TRANSCRIPTS):
        item = ItemFactory(project=tproject, external_id=f"clip-{n}")
        for labeler, text in zip(people["trio"], row, strict=True):
            if text is not None:
                transcribe(item, labeler, text)
        items.append(item)
    return items


def _url(project, tail: str = "") -> str:
    return f"/api/v1/projects/{project.pk}/rules/{tail}"


def _preview(api, user, project, rules):
    return api(user).post(_url(project, "preview/"), {"rules": rules}, format="json")


def _save(api, user, project, rules, note=""):
    return api(user).post(_url(project), {"rules": rules, "note": note}, format="json")


def _activate(api, user, project, version):
    return api(user).post(_url(project, f"{version}/activate/"), format="json")


def _changes(preview: dict) -> dict[str, str]:
    return {s["before"]: s["after"] for s in preview["samples"]}


# ---------- each rule kind ----------

KIND_CASES = [
    (
        [{"kind": "case_fold"}],
        {"Umm, nearest gas station": "umm, nearest gas station", "Go to pier 9": "go to pier 9"},
    ),
    ([{"kind": "whitespace"}], {"  I'm gonna  turn\tleft ": "I'm gonna turn left"}),
    (
        [{"kind": "punctuation", "keep": "'"}],
        {
            "Umm, nearest gas station": "Umm nearest gas station",
            "[inaudible] turn left": "inaudible turn left",
        },
    ),
    (
        [{"kind": "fillers", "canonical": "um", "variants": ["umm"], "pattern": "u+h*m+"}],
        {
            "Umm, nearest gas station": "um, nearest gas station",
            "uhmm Go to pier 9": "um Go to pier 9",  # the pattern catches other spellings
            "um nearest gas station": None,
        },
    ),
    (
        [{"kind": "replace", "find": "gonna", "replace": "going to", "whole_word": True}],
        {"  I'm gonna  turn\tleft ": "  I'm going to  turn\tleft "},
    ),
    (
        [{"kind": "regex", "pattern": r"^\s*u+m+,?\s+", "replace": "", "flags": "i"}],
        {
            "Umm, nearest gas station": "nearest gas station",
            "um nearest gas station": "nearest gas station",
            "uhmm Go to pier 9": None,  # "h" is not in the pattern
        },
    ),
    (
        [{"kind": "token", "canonical": "[unintelligible]", "variants": ["[inaudible]"]}],
        {"[inaudible] turn left": "[unintelligible] turn left"},
    ),
]
KIND_TEXTS = [
    "Umm, nearest gas station",
    "um nearest gas station",
    "nearest gas station",
    "[inaudible] turn left",
    "  I'm gonna  turn\tleft ",
    "Go to pier 9",
    "uhmm Go to pier 9",
]


@pytest.mark.parametrize(
    ("rules", "expected"), KIND_CASES, ids=[case[0][0]["kind"] for case in KIND_CASES]
)
def test_each_rule_kind_rewrites_real_looking_transcripts(api, tproject, people, rules, expected):
    # given a clip per transcript
    for n, text in enumerate(KIND_TEXTS):
        transcribe(ItemFactory(project=tproject), people["trio"][n % 3], text)
    # when a manager previews a rule set of that kind
    response = _preview(api, people["manager"], tproject, rules)
    # then the transcripts named change as written (None: stays), every other one stays
    assert response.status_code == 200, response.json()
    body = response.json()
    changes = _changes(body)
    for before, after in expected.items():
        if after is None:
            assert before not in changes
        else:
            assert changes[before] == after
    assert body["changed"] == len(changes)
    assert body["total"] == len(KIND_TEXTS)
    assert all(s["rules"][0]["kind"] == rules[0]["kind"] for s in body["samples"])


# ---------- versions ----------


def test_versions_are_numbered_and_unchanged_rules_are_refused(api, tproject, people):
    manager = people["manager"]
    # when a manager saves rules, then the same rules, then the same with a note and a default
    # spelled out, then different rules
    first = _save(api, manager, tproject, STANDARD, note="  house style  ")
    again = _save(api, manager, tproject, STANDARD)
    noted = [dict(rule) for rule in STANDARD]
    noted[0]["note"] = "lower case everything"
    noted[2]["keep"] = ""  # the default
    same_behaviour = _save(api, manager, tproject, noted)
    second = _save(api, manager, tproject, STANDARD[:-1])
    # then versions 1 and 2 exist; the repeats are 409 unchanged naming version 1
    assert first.status_code == 201, first.json()
    assert first.json()["version"] == 1
    assert first.json()["note"] == "house style"
    assert first.json()["rules"] == STANDARD
    assert first.json()["created_by"] == "mia"
    for refused in (again, same_behaviour):
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "unchanged"
        assert "version 1" in refused.json()["error"]["message"]
    assert second.status_code == 201
    assert second.json()["version"] == 2
    assert second.json()["fingerprint"] != first.json()["fingerprint"]
    # and the list is newest first; none is active until one is activated
    listed = api(people["reviewer"]).get(_url(tproject)).json()
    assert [r["version"] for r in listed] == [2, 1]
    assert [r["active"] for r in listed] == [False, False]
    assert _activate(api, manager, tproject, 1).status_code == 200
    listed = api(people["reviewer"]).get(_url(tproject)).json()
    assert [r["active"] for r in listed] == [False, True]
    assert listed[1]["activated_at"] is not None


def test_after_a_different_version_the_first_rules_can_be_saved_again(api, tproject, people):
    manager = people["manager"]
    _save(api, manager, tproject, STANDARD)
    _save(api, manager, tproject, STANDARD[:2])
    # only the newest version is compared: going back to version 1's rules is version 3
    back = _save(api, manager, tproject, STANDARD)
    assert back.status_code == 201
    assert back.json()["version"] == 3


BAD_RULES = [
    ([{"kind": "case_fold"}, {"kind": "regex", "pattern": "(", "replace": ""}], "rules[1].pattern"),
    ([{"kind": "fillers", "canonical": "um", "variants": ["umm", 3]}], "rules[0].variants[1]"),
    (
        [{"kind": "replace", "find": "gonna", "replace": "going to", "whole_words": True}],
        "rules[0].whole_words",
    ),
    ([{"kind": "whitespace"}, {"kind": "shout"}], "rules[1].kind"),
    ([{"kind": "regex", "pattern": "(a)", "replace": r"\2"}], "rules[0].replace"),
    ([{"kind": "regex", "pattern": "x", "replace": "", "flags": "g"}], "rules[0].flags"),
    ([{"kind": "case_fold"}, "whitespace"], "rules[1]"),
    # the classic catastrophic shape is refused before it ever runs
    (
        [{"kind": "case_fold"}, {"kind": "whitespace"}, {"kind": "regex", "pattern": "(a+)+$"}],
        "rules[2].replace",
    ),
    (
        [
            {"kind": "case_fold"},
            {"kind": "whitespace"},
            {"kind": "regex", "pattern": "(a+)+$", "replace": ""},
        ],
        "rules[2].pattern",
    ),
]


@pytest.mark.parametrize(("rules", "field"), BAD_RULES)
def test_bad_rules_are_400_naming_the_exact_field_and_write_nothing(
    api, tproject, people, transcribed, rules, field
):
    for response in (
        _save(api, people["manager"], tproject, rules),
        _preview(api, people["manager"], tproject, rules),
    ):
        assert response.status_code == 400, response.json()
        assert response.json()["error"]["field"] == field
    assert not RuleSet.objects.filter(project=tproject).exists()


def test_rules_that_are_not_a_list_are_400_on_rules(api, tproject, people):
    response = _save(api, people["manager"], tproject, {"kind": "case_fold"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "rules"


RUNAWAY = [{"kind": "regex", "pattern": "(a|aa){1,1000}$", "replace": ""}]


def test_a_runaway_regex_is_stopped_by_the_time_limit_in_preview_and_activation(
    api, tproject, people
):
    # given a transcript on which the pattern backtracks without end (it passes the static scan)
    item = ItemFactory(project=tproject)
    transcribe(item, people["trio"][0], "a" * 5000 + "b")
    transcribe(item, people["trio"][1], "nearest gas station")
    manager = people["manager"]
    # when it is previewed, then 400 naming the rule, quickly
    started = time.perf_counter()
    response = _preview(api, manager, tproject, RUNAWAY)
    assert time.perf_counter() - started < 10
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "rule_timeout"
    assert response.json()["error"]["field"] == "rules[0].pattern"
    # when it is saved (it compiles) and activated, then 400 too and nothing is stored
    assert _save(api, manager, tproject, RUNAWAY).status_code == 201
    started = time.perf_counter()
    activated = _activate(api, manager, tproject, 1)
    assert time.perf_counter() - started < 10
    assert activated.status_code == 400
    assert activated.json()["error"]["field"] == "rules[0].pattern"
    assert not NormalizedTranscript.objects.exists()
    tproject.refresh_from_db()
    assert tproject.rule_set_version == 0
    assert RuleSet.objects.get(project=tproject).activated_at is None


# ---------- the preview ----------


def test_preview_counts_samples_and_warnings(api, tproject, people, transcribed):
    response = _preview(api, people["reviewer"], tproject, STANDARD)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == 11
    assert body["changed"] == 6
    assert body["distinct_before"] == 11
    assert body["distinct_after"] == 6
    assert body["empty_after"] == 0
    assert body["items"] == 4
    assert body["active_version"] == 0
    # the first sample: which rules changed it and the word diff
    first = body["samples"][0]
    assert first["before"] == "Umm, nearest gas station"
    assert first["after"] == "um nearest gas station"
    assert [r["kind"] for r in first["rules"]] == ["case_fold", "punctuation", "fillers"]
    assert first["rules"][2]["note"] == "one spelling"
    assert {"op": "replace", "before": "Umm,", "after": "um"} in first["diff"]
    # the whitespace rule changes nothing here: warned, by index
    assert body["rule_changes"][4] == 0
    assert [(w["code"], w["rule_index"]) for w in body["warnings"]] == [("rule_no_effect", 4)]
    # nothing is written
    assert not RuleSet.objects.exists()
    assert not NormalizedTranscript.objects.exists()


def test_rules_that_make_every_transcript_the_same_warn_but_are_allowed(
    api, tproject, people, transcribed
):
    rules = [{"kind": "regex", "pattern": "^.*$", "replace": "same", "flags": "s"}]
    response = _preview(api, people["manager"], tproject, rules)
    assert response.status_code == 200
    warnings = {w["code"]: w for w in response.json()["warnings"]}
    assert "same_output" in warnings
    assert "'same'" in warnings["same_output"]["message"]
    assert response.json()["after"]["exact_agreement"] == 1.0
    assert _save(api, people["manager"], tproject, rules).status_code == 201


def _figures(table):
    agreement = text_agreement(table)
    alpha = text_alpha(table, distance="word")
    return {
        "exact_agreement": agreement.exact_agreement,
        "word_error_rate": agreement.wer_overall,
        "character_error_rate": agreement.cer_overall,
        "alpha": alpha.value,
    }


def _assert_figures(got: dict, expected: dict) -> None:
    for name, value in expected.items():
        assert got[name] == pytest.approx(value, abs=1e-12), name


def test_preview_figures_equal_text_agreement_on_the_hand_normalised_table(
    api, tproject, people, transcribed
):
    # when previewing STANDARD with no active rules
    body = _preview(api, people["engineer"], tproject, STANDARD).json()
    # then before = the raw transcripts (trimmed; none has inner runs of spaces), after = the
    # hand-normalised table, both as the metrics compute them on items × labelers tables
    raw = [[t.strip() if t is not None else None for t in row] for row in TRANSCRIPTS]
    _assert_figures(body["before"], _figures(raw))
    _assert_figures(body["after"], _figures(NORMALISED))
    assert body["after"]["exact_agreement"] > body["before"]["exact_agreement"]
    assert body["after"]["word_error_rate"] < body["before"]["word_error_rate"]
    assert body["before"]["pairs"] == body["after"]["pairs"] == 3 + 3 + 3 + 1
    # and one item's consensus changes: "go north now" (ana, the lowest labeler, on a three-way
    # tie before) loses to "go north", which ben and cy now share; the other items keep the
    # transcript chosen before, rewritten
    assert body["changed_items"] == 1


def test_preview_before_is_the_active_version(api, tproject, people, transcribed):
    manager = people["manager"]
    _save(api, manager, tproject, STANDARD)
    assert _activate(api, manager, tproject, 1).status_code == 200
    # when previewing rules that also drop fillers
    dropping = [*STANDARD[:3], {"kind": "fillers", "canonical": "", "variants": ["um", "umm"]}]
    dropping.append({"kind": "whitespace"})
    body = _preview(api, manager, tproject, dropping).json()
    # then before is version 1's text, after drops "um"
    assert body["active_version"] == 1
    _assert_figures(body["before"], _figures(NORMALISED))
    after = [list(row) for row in NORMALISED]
    after[0] = ["nearest gas station"] * 3
    _assert_figures(body["after"], _figures(after))


def test_preview_before_and_after_are_what_the_report_reads(api, tproject, people, transcribed):
    # given a transcript with stray whitespace, which the report cleans up
    transcribe(transcribed[3], people["trio"][2], "  turn   Right ")
    manager = people["manager"]
    # when previewing, then "before" is the report's table now ...
    body = _preview(api, manager, tproject, STANDARD).json()
    _assert_figures(body["before"], _figures(project_transcripts_load(project=tproject).table))
    # ... and "after" the report's table once the rules are active
    _save(api, manager, tproject, STANDARD)
    _activate(api, manager, tproject, 1)
    tproject.refresh_from_db()
    table = project_transcripts_load(project=tproject).table
    _assert_figures(body["after"], _figures(table))
    # and the stored normalised texts are the report's cells
    stored = NormalizedTranscript.objects.filter(rule_set__project=tproject)
    assert sorted(stored.values_list("text", flat=True)) == sorted(
        cell for row in table for cell in row if cell is not None
    )


def test_only_current_transcripts_are_previewed(api, tproject, people, transcribed):
    # given a withdrawn transcript and an item moved to round 2 whose round-1 text is history
    ana, ben, _ = people["trio"]
    Annotation.objects.filter(item=transcribed[3], labeler=ben).update(
        withdrawn=True, withdrawn_at=timezone.now()
    )
    Round.objects.create(project=tproject, number=2)
    Item.objects.filter(pk=transcribed[2].pk).update(round=2)
    transcribe(transcribed[2], ana, "Go north now!", round_number=2)
    body = _preview(api, people["manager"], tproject, STANDARD).json()
    # then: 11 − 1 withdrawn − 3 round-1 transcripts of item 2 + 1 round-2 transcript
    assert body["total"] == 8
    assert "go north." not in _changes(body)
    assert _changes(body)["Go north now!"] == "go north now"


def test_not_a_transcription_project(api, project, manager):
    for response in (
        api(manager).post(_url(project), {"rules": STANDARD}, format="json"),
        api(manager).post(_url(project, "preview/"), {"rules": STANDARD}, format="json"),
        api(manager).post(_url(project, "0/activate/"), format="json"),
    ):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "not_transcription"
        assert response.json()["error"]["field"] == "task_type"
        assert "classification" in response.json()["error"]["message"]


# ---------- activation ----------


def _annotation_rows(project):
    return list(
        Annotation.objects.filter(project=project)
        .order_by("pk")
        .values_list("pk", "value", "label_id", "withdrawn", "round", "item_id")
    )


def test_activation_stores_every_transcript_and_leaves_annotations_untouched(
    api, tproject, people, transcribed, monkeypatch, django_capture_on_commit_callbacks
):
    # given a past-round transcript and a withdrawn one besides the current ones
    ana, ben, _ = people["trio"]
    Round.objects.create(project=tproject, number=2)
    Item.objects.filter(pk=transcribed[2].pk).update(round=2)
    transcribe(transcribed[2], ana, "GO  NORTH", round_number=2)
    withdrawn = transcribe(
        ItemFactory(project=tproject), ben, "Umm", withdrawn=True, withdrawn_at=timezone.now()
    )
    raw_before = _annotation_rows(tproject)
    asked = []
    monkeypatch.setattr(rule_sets, "report_recompute_enqueue", asked.append)
    manager = people["manager"]
    _save(api, manager, tproject, STANDARD)
    # when version 1 is activated
    with django_capture_on_commit_callbacks(execute=True):
        response = _activate(api, manager, tproject, 1)
    # then every non-withdrawn transcript of every round has its normalised text for v1
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 1
    assert response.json()["active"] is True
    stored = dict(
        NormalizedTranscript.objects.filter(rule_set__version=1).values_list(
            "annotation_id", "text"
        )
    )
    expected = {}
    for item, texts in zip(transcribed, NORMALISED, strict=True):
        for labeler, text in zip(people["trio"], texts, strict=True):
            if text is not None:
                expected[Annotation.objects.get(item=item, labeler=labeler, round=1).pk] = text
    expected[Annotation.objects.get(item=transcribed[2], round=2).pk] = "go north"
    assert stored == expected
    assert withdrawn.pk not in stored
    # and the raw transcripts are exactly as they were; the project reads version 1 now
    assert _annotation_rows(tproject) == raw_before
    tproject.refresh_from_db()
    assert tproject.rule_set_version == 1
    assert asked == [tproject.pk]


def test_activating_again_adds_only_missing_rows_and_zero_returns_to_raw(
    api, tproject, people, transcribed
):
    manager = people["manager"]
    _save(api, manager, tproject, STANDARD)
    _activate(api, manager, tproject, 1)
    first_ids = set(NormalizedTranscript.objects.values_list("pk", flat=True))
    # given a transcript that got no row (e.g. stored while its receiver could not run)
    late = transcribe(ItemFactory(project=tproject), people["trio"][0], "Umm, pier nine")
    # when version 1 is activated again
    assert _activate(api, manager, tproject, 1).status_code == 200
    # then the old rows stay as they were and only the missing one is added
    rows = NormalizedTranscript.objects.all()
    assert first_ids < set(rows.values_list("pk", flat=True))
    assert rows.count() == len(first_ids) + 1
    assert rows.get(annotation=late).text == "um pier nine"
    # when version 0 is activated: back to the raw transcripts; stored rows are kept
    zero = _activate(api, manager, tproject, 0)
    assert zero.status_code == 200
    assert zero.json()["version"] == 0
    assert zero.json()["rules"] == []
    assert zero.json()["active"] is True
    tproject.refresh_from_db()
    assert tproject.rule_set_version == 0
    assert NormalizedTranscript.objects.count() == len(first_ids) + 1
    assert _activate(api, manager, tproject, 7).status_code == 404


def test_a_transcript_submitted_after_activation_gets_its_row(
    api, tproject, people, transcribed, monkeypatch
):
    monkeypatch.setattr("consensus.receivers.report_recompute_enqueue", lambda project_id: None)
    manager = people["manager"]
    _save(api, manager, tproject, STANDARD)
    _activate(api, manager, tproject, 1)
    item = ItemFactory(project=tproject)
    # when a transcript is committed and announced as the submit service announces it
    annotation = transcribe(item, people["trio"][1], "Umm, [INAUDIBLE] pier 9!")
    annotation_committed.send(
        sender=Annotation,
        project_id=tproject.pk,
        item_id=item.pk,
        annotation_id=annotation.pk,
        withdrawn=False,
    )
    # then its normalised text is stored under version 1, the raw text kept
    row = NormalizedTranscript.objects.get(annotation=annotation)
    assert row.rule_set.version == 1
    assert row.text == "um [unintelligible] pier 9"
    annotation.refresh_from_db()
    assert annotation.value == {"text": "Umm, [INAUDIBLE] pier 9!"}


def test_the_receiver_hook_is_cheap(tproject, people, project, django_assert_num_queries):
    # classification: one query on the first label, then a cache read only
    cache.clear()
    assert rule_sets.project_transcribes(project_id=project.pk) is False
    assert rule_sets.project_transcribes(project_id=tproject.pk) is True
    with django_assert_num_queries(0):
        assert rule_sets.project_transcribes(project_id=project.pk) is False
        assert rule_sets.project_transcribes(project_id=tproject.pk) is True
    # transcription without an active version: one select, nothing stored
    annotation = transcribe(ItemFactory(project=tproject), people["trio"][0], "um nearest")
    with django_assert_num_queries(1):
        assert (
            rule_sets.transcript_normalize(project_id=tproject.pk, annotation_id=annotation.pk)
            is None
        )
    # with an active version: one select and one insert (the compiled rules are cached)
    version = RuleSet.objects.create(
        project=tproject, version=1, rules=STANDARD, fingerprint="x", note=""
    )
    tproject.rule_set_version = 1
    tproject.save(update_fields=["rule_set_version"])
    rule_sets._COMPILED.pop(version.pk, None)
    rule_sets.transcript_normalize(project_id=tproject.pk, annotation_id=annotation.pk)
    other = transcribe(ItemFactory(project=tproject), people["trio"][1], "Umm nearest")
    with django_assert_num_queries(2):
        stored = rule_sets.transcript_normalize(project_id=tproject.pk, annotation_id=other.pk)
    assert stored is not None
    assert NormalizedTranscript.objects.get(annotation=other).text == "um nearest"


# ---------- permissions ----------


def test_permissions_per_role(api, tproject, people, transcribed):
    _save(api, people["manager"], tproject, STANDARD)
    expected = {
        # role: (list, preview, save, activate)
        "manager": (200, 200, 201, 200),
        "reviewer": (200, 200, 403, 403),
        "engineer": (200, 200, 403, 403),
        "labeler": (403, 403, 403, 403),
        "outsider": (404, 404, 404, 404),
    }
    for role, codes in expected.items():
        user = people[role]
        got = (
            api(user).get(_url(tproject)).status_code,
            _preview(api, user, tproject, STANDARD).status_code,
            _save(api, user, tproject, STANDARD[:1]).status_code,
            _activate(api, user, tproject, 1).status_code,
        )
        assert got == codes, role
    assert api(None).get(_url(tproject)).status_code in (401, 403, 404)
    assert RuleSet.objects.filter(project=tproject).count() == 2  # the manager's second save


def test_preview_of_a_project_without_transcripts_says_why_figures_are_undefined(
    api, tproject, people
):
    response = _preview(api, people["manager"], tproject, [])
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["total"] == 0
    assert body["changed_share"] is None
    assert body["changed_items"] == 0
    for side in ("before", "after"):
        assert body[side]["word_error_rate"] is None
        assert body[side]["alpha"] is None
        assert body[side]["reason"]
        assert body[side]["alpha_reason"]


def test_one_transcript_per_item_has_no_pairs_to_compare(api, tproject, people):
    for n, labeler in enumerate(people["trio"]):
        transcribe(ItemFactory(project=tproject), labeler, f"Umm, call {n}")
    body = _preview(api, people["manager"], tproject, STANDARD).json()
    assert body["changed"] == 3
    assert body["after"]["pairs"] == 0
    assert body["after"]["exact_agreement"] is None
    assert "two" in body["after"]["reason"]  # no item has transcripts from two labelers
