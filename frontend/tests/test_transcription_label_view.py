"""The labeling page of a transcription project: the player, transcript box, tokens and their
keys are on the page and in label.js's config; a classification page has none of them."""

import json
import re

import pytest

from annotations.models import Role, TaskType
from annotations.services.projects import project_create
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def config_of(html: str) -> dict:
    match = re.search(r'<script id="label-config" type="application/json">(.*?)</script>', html)
    assert match, "the page hands label.js its config"
    return json.loads(match.group(1))


def test_transcription_label_page_has_player_box_tokens_and_keys(client):
    # given a transcription project with two standard tokens and a labeler
    project = project_create(
        creator=UserFactory(),
        name="Calls",
        task_type=TaskType.TRANSCRIPTION,
        transcript_tokens=["[unintelligible]", "<noise&hum>"],
        allow_empty_transcripts=True,
    )
    labeler = MembershipFactory(project=project, role=Role.LABELER).user
    client.force_login(labeler)
    # when the labeler opens the labeling page
    html = client.get(f"/projects/{project.pk}/label/").content.decode()
    # then the config tells label.js the task and the tokens
    config = config_of(html)
    assert config["task_type"] == "transcription"
    assert config["transcript_tokens"] == ["[unintelligible]", "<noise&hum>"]
    assert config["allow_empty_transcripts"] is True
    assert config["classes"] == []
    # and the page holds the player, the box, its stylesheet and the keys (tokens escaped)
    for needle in ('id="item-audio"', 'id="transcript"', "frontend/transcribe.css"):
        assert needle in html
    assert "Insert <code>&lt;noise&amp;hum&gt;</code> at the cursor" in html
    assert "<kbd>Alt</kbd>+<kbd>2</kbd>" in html
    assert "<noise&hum>" not in html  # escaped everywhere, the JSON config included


def test_classification_label_page_has_no_transcription_parts(client, project, labeler):
    client.force_login(labeler)
    html = client.get(f"/projects/{project.pk}/label/").content.decode()
    config = config_of(html)
    assert config["task_type"] == "classification"
    assert config["transcript_tokens"] == []
    for needle in ('id="item-audio"', 'id="transcript"', "transcribe.css", "Alt</kbd>+<kbd>R"):
        assert needle not in html
    assert 'id="classes" class="classes" role="group" aria-label="Labels">' in html
