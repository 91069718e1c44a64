"""The review pages without a browser: who may open the queue and an item's review, and what
the pages hand to their scripts; the links to them from home and the dashboard; the bell."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.models import Role, TaskType
from annotations.services.annotations import annotation_submit
from frontend.tests.pages import HOME, LOGIN, page_config
from tests.factories import ItemFactory, MembershipFactory, ProjectFactory


def queue_url(project) -> str:
    return reverse("frontend:review-queue", kwargs={"project_id": project.pk})


def item_url(project, item) -> str:
    return reverse("frontend:review-item", kwargs={"project_id": project.pk, "item_id": item.pk})


@pytest.fixture
def item(project):
    return ItemFactory(project=project, external_id="weld-7", slices={"camera": "A"})


# ---------- access ----------


def test_review_pages_require_login(client, project, item):
    for url in (queue_url(project), item_url(project, item)):
        response = client.get(url)

        assert response.status_code == 302
        assert response["Location"] == f"{LOGIN}?next={url}"


@pytest.mark.parametrize("role", [Role.REVIEWER, Role.ENGINEER, Role.MANAGER])
def test_reviewers_engineers_and_managers_open_both_pages(client, project, member, item, role):
    client.force_login(member(role))

    assert client.get(queue_url(project)).status_code == 200
    assert client.get(item_url(project, item)).status_code == 200


def test_labelers_get_403_on_both_pages(client, project, labeler, item):
    # given a labeler of the project (labeling is blind; review shows every label)
    client.force_login(labeler)

    # then both pages refuse them, saying why
    for url in (queue_url(project), item_url(project, item)):
        response = client.get(url)
        assert response.status_code == 403
        assert "Disagreement review is for reviewers" in response.content.decode()


def test_non_members_get_404(client, project, item, db):
    # given a reviewer of another project
    client.force_login(MembershipFactory(role=Role.REVIEWER).user)

    # then neither this project nor its item exists for them, nor a made-up project
    assert client.get(queue_url(project)).status_code == 404
    assert client.get(item_url(project, item)).status_code == 404
    missing = reverse("frontend:review-queue", kwargs={"project_id": 999_999})
    assert client.get(missing).status_code == 404


def test_an_item_of_another_project_is_404(client, project, member, db):
    # given a reviewer of two projects, and an item of the second
    reviewer = member(Role.REVIEWER)
    other = ProjectFactory()
    MembershipFactory(project=other, user=reviewer, role=Role.REVIEWER)
    foreign = ItemFactory(project=other)
    client.force_login(reviewer)

    # then the item is not found under the first project's URL, nor is a made-up item
    assert client.get(item_url(project, foreign)).status_code == 404
    made_up = reverse("frontend:review-item", kwargs={"project_id": project.pk, "item_id": 999_999})
    assert client.get(made_up).status_code == 404
    assert client.get(item_url(other, foreign)).status_code == 200


# ---------- what the scripts get ----------


def test_queue_page_hands_filters_and_urls_to_the_script(client, project, member):
    # given items with slices, two labelers and a reviewer
    ItemFactory(project=project, slices={"camera": "B", "light": "dim"})
    ItemFactory(project=project, slices={"camera": "A"})
    ItemFactory(project=project, slices={})
    member(Role.LABELER, username="lena")
    member(Role.LABELER, username="abe")
    client.force_login(member(Role.REVIEWER, username="sme"))

    # when the reviewer opens the queue
    response = client.get(queue_url(project))

    # then the script gets the classes in order, the slice values, labelers, rounds and URLs
    config = page_config(response, "review-queue-config")
    assert [c["key"] for c in config["classes"]] == ["clean", "scratch", "dent", "borderline"]
    assert config["slices"] == [
        {"name": "camera", "values": ["A", "B"]},
        {"name": "light", "values": ["dim"]},
    ]
    assert config["labelers"] == ["abe", "lena"]
    assert config["rounds"] == [1]
    assert config["can_start_round"] is False
    assert config["urls"]["queue_api"] == f"/api/v1/projects/{project.pk}/disagreements/"
    assert config["urls"]["pairs_api"] == f"/api/v1/projects/{project.pk}/disagreements/pairs/"
    assert config["urls"]["rounds_api"] == f"/api/v1/projects/{project.pk}/rounds/"
    item_page = config["urls"]["item_page"].replace(config["urls"]["id_placeholder"], "5")
    assert item_page == f"/projects/{project.pk}/review/5/"
    # and a reviewer gets no round button; it is for managers
    assert 'id="start-round"' not in response.content.decode()


def test_only_managers_get_the_round_button(client, project, member):
    client.force_login(member(Role.MANAGER))

    response = client.get(queue_url(project))

    assert page_config(response, "review-queue-config")["can_start_round"] is True
    assert 'id="start-round"' in response.content.decode()


@pytest.mark.parametrize(
    ("role", "can_decide"),
    [(Role.REVIEWER, True), (Role.MANAGER, True), (Role.ENGINEER, False)],
)
def test_item_page_hands_the_item_and_urls_to_the_script(
    client, project, member, item, role, can_decide
):
    # given members of every role
    member(Role.LABELER, username="lab")
    user = member(role, username="me")
    client.force_login(user)

    # when they open an item's review page
    response = client.get(item_url(project, item))

    # then the script gets the item, who may decide, who can be mentioned, and the API URLs
    assert response.status_code == 200
    config = page_config(response, "review-item-config")
    assert config["item"] == {"id": item.pk, "external_id": "weld-7"}
    assert config["me"] == "me"
    assert config["can_decide"] is can_decide
    assert "lab" not in config["members"]  # labelers cannot open the page they would be sent to
    assert "me" in config["members"]
    assert config["consensus"] is None  # no labels yet
    urls = config["urls"]
    assert urls["review"] == f"/api/v1/items/{item.pk}/review/"
    assert urls["comments"] == f"/api/v1/items/{item.pk}/comments/"
    assert urls["decision"] == f"/api/v1/items/{item.pk}/decision/"
    assert urls["comment_edit"].replace(urls["id_placeholder"], "3") == "/api/v1/comments/3/"
    assert "weld-7" in response.content.decode()


def test_item_page_escapes_the_external_id(client, project, member):
    item = ItemFactory(project=project, external_id="<img src=x onerror=alert(1)>")
    client.force_login(member(Role.REVIEWER))

    page = client.get(item_url(project, item)).content.decode()

    assert "<img src=x" not in page


# ---------- links and the bell ----------


def test_home_links_the_queue_for_roles_that_review(client, project, member):
    reviewer, labeler = member(Role.REVIEWER), member(Role.LABELER)

    client.force_login(reviewer)
    assert queue_url(project) in client.get(HOME).content.decode()

    client.force_login(labeler)
    assert queue_url(project) not in client.get(HOME).content.decode()


def test_the_dashboard_links_the_queue(client, project, member):
    client.force_login(member(Role.REVIEWER))

    page = client.get(reverse("frontend:consistency", kwargs={"project_id": project.pk}))

    assert queue_url(project) in page.content.decode()


def test_the_bell_is_there_for_logged_in_users_only(client, project, member):
    # given the login page, anonymous
    page = client.get(LOGIN).content.decode()
    assert 'id="bell"' not in page
    assert "notifications.js" not in page

    # when someone logs in, every page carries the bell and its API URLs
    client.force_login(member(Role.LABELER))
    page = client.get(HOME).content.decode()
    assert 'id="bell"' in page
    assert 'data-list-url="/api/v1/notifications/"' in page
    assert 'data-read-url="/api/v1/notifications/read/"' in page
    assert "frontend/notifications.js" in page


# ---------- a transcription item ----------


def test_a_transcription_item_page_hands_transcripts_tokens_and_the_consensus(
    client, django_capture_on_commit_callbacks, db
):
    # given a transcription project with standard tokens, three labelers' transcripts of one
    # item (two agree after whitespace clean-up) and a reviewer
    project = ProjectFactory(
        task_type=TaskType.TRANSCRIPTION, transcript_tokens=["[unintelligible]", "[noise]"]
    )
    item = ItemFactory(project=project, external_id="call-3", text="caller asks for a station")
    texts = ["nearest  gas station ", "Um nearest gas station", "nearest gas station"]
    for n, text in enumerate(texts):
        user = MembershipFactory(project=project, role=Role.LABELER).user
        with django_capture_on_commit_callbacks(execute=True):
            annotation_submit(
                labeler=user, item_id=item.pk, value={"text": text}, idempotency_key=f"k{n}"
            )
    client.force_login(MembershipFactory(project=project, role=Role.REVIEWER).user)

    # when the reviewer opens the item's review page
    response = client.get(item_url(project, item))

    # then the script is told it is a transcription item, with the tokens and empty-text rule
    assert response.status_code == 200
    config = page_config(response, "review-item-config")
    assert config["task_type"] == "transcription"
    assert config["transcript_tokens"] == ["[unintelligible]", "[noise]"]
    assert config["allow_empty_transcripts"] is False
    # and the consensus is the medoid transcript, with its share and the hand-computed WER:
    # pairs (1,2) 1 edit over 3+4 words, (1,3) 0, (2,3) 1 over 4+3 → Σ2E/Σ(|a|+|b|) = 4/20
    consensus = config["consensus"]
    assert consensus["text"] == "nearest gas station"
    assert consensus["label"] is None
    assert consensus["majority_share"] == pytest.approx(2 / 3)
    assert consensus["word_error_rate"] == pytest.approx(4 / 20)
    assert consensus["n_labels"] == 3
    # and the page has the final-transcript box instead of the class select, and its styles
    page = response.content.decode()
    assert 'id="decision-text"' in page
    assert 'id="decision-label"' not in page
    assert "frontend/review_transcript.css" in page
    assert ">Transcripts</h2>" in page


def test_a_classification_item_page_keeps_the_class_select(client, project, member, item):
    client.force_login(member(Role.REVIEWER))

    response = client.get(item_url(project, item))

    config = page_config(response, "review-item-config")
    assert config["task_type"] == "classification"
    page = response.content.decode()
    assert 'id="decision-label"' in page
    assert 'id="decision-text"' not in page
    assert "review_transcript.css" not in page
