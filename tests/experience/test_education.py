"""Customer education through its services, selectors and pages: the catalogue and its sessions,
inviting a customer or a segment (idempotent), the attendance flow with its dates and timeline,
the figures, who may see and do what, and the experience hub."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Interaction
from experience import education
from experience.models import Attendance, Resource, Session
from finance import tenancy
from finance.actors import Actor
from finance.models import AuditEvent
from tests.conftest import actor_for, login
from tests.factories import ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db
Status = Attendance.Status


def make_resource(org, kind=Resource.Kind.WEBINAR, **fields):
    with tenancy.tenant(org):
        return education.resource_create(
            actor=Actor.system(org),
            title=fields.pop("title", f"Paying online {kind}"),
            kind=kind,
            topic=fields.pop("topic", "Payments"),
            language=fields.pop("language", "en"),
            **fields,
        )


def make_session(org, resource, days=7):
    with tenancy.tenant(org):
        return education.session_create(
            actor=Actor.system(org),
            resource=resource,
            starts_at=timezone.now() + datetime.timedelta(days=days),
        )


def invite(org, resource, customer, *, actor=None, **kwargs):
    with tenancy.tenant(org):
        place, _created = education.attendance_invite(
            actor=actor or Actor.system(org), resource=resource, customer=customer, **kwargs
        )
    return place


def backdate(org, place, days=30):
    with tenancy.tenant(org):
        Attendance.objects.filter(pk=place.pk).update(
            invited_on=org.local_today() - datetime.timedelta(days=days)
        )
        place.refresh_from_db()
    return place


def update(org, place, actor=None, **fields):
    with tenancy.tenant(org):
        return education.attendance_update(actor=actor or Actor.system(org), attendance=place, **fields)


# The catalogue ------------------------------------------------------------------------------


def test_a_resource_is_created_changed_and_audited(org, owner_actor):
    with tenancy.tenant(org):
        resource = education.resource_create(
            actor=owner_actor, title="读懂对账单", kind="guide", topic="对账单", language="zh-hans"
        )
        education.resource_update(actor=owner_actor, resource=resource, is_active=False)
        resource.refresh_from_db()
        assert not resource.is_active
        actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["education.resource_created", "education.resource_updated"]


def test_bad_resource_fields_are_field_errors(org, owner_actor):
    with tenancy.tenant(org), pytest.raises(ValidationError) as error:
        education.resource_create(actor=owner_actor, title="", kind="podcast", topic="x", language="fr")
    assert {"title", "kind", "language"} <= set(error.value.message_dict)


def test_a_guide_has_no_sessions(org):
    guide = make_resource(org, kind="guide")
    with tenancy.tenant(org), pytest.raises(ValidationError) as error:
        education.session_create(actor=Actor.system(org), resource=guide, starts_at=timezone.now())
    assert "resource" in error.value.message_dict


def test_a_resource_with_invitations_cannot_be_deleted(org):
    resource = make_resource(org)
    invite(org, resource, CustomerFactory(organization=org))
    with tenancy.tenant(org), pytest.raises(ValidationError):
        education.resource_delete(actor=Actor.system(org), resource=resource)
    empty = make_resource(org, title="Empty")
    with tenancy.tenant(org):
        education.resource_delete(actor=Actor.system(org), resource=empty)
        assert not Resource.objects.filter(pk=empty.pk).exists()


def test_an_auditor_cannot_change_the_catalogue(org, members):
    auditor = actor_for(org, members["auditor"], "auditor")
    with tenancy.tenant(org), pytest.raises(PermissionDenied):
        education.resource_create(actor=auditor, title="x", kind="guide", topic="x", language="en")


# Invitations --------------------------------------------------------------------------------


def test_inviting_the_same_place_twice_writes_nothing_twice(org):
    resource = make_resource(org)
    buyer = CustomerFactory(organization=org)
    with tenancy.tenant(org):
        first, created = education.attendance_invite(
            actor=Actor.system(org), resource=resource, customer=buyer
        )
        again, created_again = education.attendance_invite(
            actor=Actor.system(org), resource=resource, customer=buyer
        )
        assert created and not created_again and first.pk == again.pk
        assert Attendance.objects.count() == 1
        assert AuditEvent.objects.filter(action="education.invited").count() == 1


def test_a_contact_of_another_customer_is_refused(org):
    resource = make_resource(org)
    buyer = CustomerFactory(organization=org)
    stranger = ContactFactory(customer=CustomerFactory(organization=org))
    with tenancy.tenant(org), pytest.raises(ValidationError) as error:
        education.attendance_invite(
            actor=Actor.system(org), resource=resource, customer=buyer, contact=stranger
        )
    assert "contact" in error.value.message_dict


def test_a_session_of_another_resource_is_refused(org):
    resource = make_resource(org)
    other = make_session(org, make_resource(org, title="Other"))
    with tenancy.tenant(org), pytest.raises(ValidationError) as error:
        education.attendance_invite(
            actor=Actor.system(org),
            resource=resource,
            session=other,
            customer=CustomerFactory(organization=org),
        )
    assert "session" in error.value.message_dict


def test_a_segment_is_invited_once_however_often_it_is_asked(org):
    resource = make_resource(org)
    session = make_session(org, resource)
    a_class = [CustomerFactory(organization=org, abc_class="A") for _ in range(3)]
    CustomerFactory(organization=org, abc_class="B")
    CustomerFactory(organization=org, abc_class="A", status="archived")
    invite(org, resource, a_class[0], session=session)
    with tenancy.tenant(org):
        result = education.attendances_invite_segment(
            actor=Actor.system(org), resource=resource, session=session, abc_class="A"
        )
        assert (result.count, result.already) == (2, 1)
        repeat = education.attendances_invite_segment(
            actor=Actor.system(org), resource=resource, session=session, abc_class="A"
        )
        assert (repeat.count, repeat.already) == (0, 3)
        assert set(Attendance.objects.values_list("customer_id", flat=True)) == {c.pk for c in a_class}


def test_a_segment_needs_a_criterion(org):
    resource = make_resource(org)
    with tenancy.tenant(org), pytest.raises(ValidationError):
        education.attendances_invite_segment(actor=Actor.system(org), resource=resource)


def test_a_segment_of_a_rep_holds_only_their_customers(org, rep_actor, members):
    resource = make_resource(org)
    mine = CustomerFactory(organization=org, customer_group="Retail", owner=members["sales_rep"])
    CustomerFactory(organization=org, customer_group="Retail", owner=members["owner"])
    with tenancy.tenant(org):
        result = education.attendances_invite_segment(
            actor=rep_actor, resource=resource, customer_group="Retail"
        )
    assert [place.customer_id for place in result.invited] == [mine.pk]


def test_a_rep_cannot_invite_another_reps_customer(org, rep_actor, members):
    resource = make_resource(org)
    theirs = CustomerFactory(organization=org, owner=members["owner"])
    with tenancy.tenant(org), pytest.raises(ValidationError):
        education.attendance_invite(actor=rep_actor, resource=resource, customer=theirs)


def test_the_invitation_is_emailed_in_the_contacts_language(org, django_capture_on_commit_callbacks):
    resource = make_resource(org, title="Online payments")
    buyer = CustomerFactory(organization=org)
    contact = ContactFactory(customer=buyer, email="li@buyer.test", preferred_language="zh-hans")
    with django_capture_on_commit_callbacks(execute=True):
        invite(org, resource, buyer, contact=contact, send_email=True)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["li@buyer.test"]
    assert "Online payments" in mail.outbox[0].subject


# Attendance ---------------------------------------------------------------------------------


def test_attended_then_completed_dates_the_place_and_logs_the_timeline(org):
    resource = make_resource(org, title="E-invoice webinar")
    session = make_session(org, resource, days=-5)
    place = backdate(org, invite(org, resource, CustomerFactory(organization=org), session=session))
    today = org.local_today()
    place = update(org, place, status=Status.ATTENDED, on=today - datetime.timedelta(days=5))
    assert place.attended_on == today - datetime.timedelta(days=5)
    place = update(org, place, status=Status.COMPLETED, rating=4, feedback="Clear")
    assert (place.status, place.completed_on, place.rating, place.feedback) == (
        Status.COMPLETED,
        today,
        4,
        "Clear",
    )
    with tenancy.tenant(org):
        summaries = list(
            Interaction.objects.filter(customer_id=place.customer_id).values_list("summary", flat=True)
        )
        assert len(summaries) == 2 and all("E-invoice webinar" in s for s in summaries)
        assert AuditEvent.objects.filter(action="education.attendance_updated").count() == 2


def test_completing_a_guide_needs_no_attendance(org):
    guide = make_resource(org, kind="guide")
    place = update(org, invite(org, guide, CustomerFactory(organization=org)), status=Status.COMPLETED)
    assert place.completed_on == org.local_today() and place.attended_on is None


@pytest.mark.parametrize(
    "path,refused",
    [
        ([Status.COMPLETED], Status.INVITED),
        ([Status.COMPLETED], Status.NO_SHOW),
        ([Status.ATTENDED], Status.NO_SHOW),
        ([Status.ATTENDED], Status.INVITED),
    ],
)
def test_a_place_cannot_go_back(org, path, refused):
    place = invite(org, make_resource(org), CustomerFactory(organization=org))
    for status in path:
        place = update(org, place, status=status)
    with pytest.raises(ValidationError) as error:
        update(org, place, status=refused)
    assert "status" in error.value.message_dict


def test_a_no_show_may_turn_out_to_have_attended(org):
    place = invite(org, make_resource(org), CustomerFactory(organization=org))
    place = update(org, place, status=Status.NO_SHOW)
    assert place.attended_on is None
    assert update(org, place, status=Status.ATTENDED).status == Status.ATTENDED


def test_dates_must_fall_between_the_invitation_and_today(org):
    place = invite(org, make_resource(org), CustomerFactory(organization=org))
    today = org.local_today()
    for day in (today + datetime.timedelta(days=1), today - datetime.timedelta(days=1)):
        with pytest.raises(ValidationError) as error:
            update(org, place, status=Status.ATTENDED, on=day)
        assert "on" in error.value.message_dict


def test_only_who_attended_rates(org):
    place = invite(org, make_resource(org), CustomerFactory(organization=org))
    with pytest.raises(ValidationError) as error:
        update(org, place, rating=5)
    assert "rating" in error.value.message_dict
    place = update(org, place, status=Status.ATTENDED)
    with pytest.raises(ValidationError) as error:
        update(org, place, rating=6)
    assert "rating" in error.value.message_dict


# Figures ------------------------------------------------------------------------------------


def test_figures_count_places_rate_and_average(org):
    resource = make_resource(org)
    places = [invite(org, resource, CustomerFactory(organization=org)) for _ in range(5)]
    update(org, places[0], status=Status.COMPLETED, rating=5)
    update(org, places[1], status=Status.COMPLETED, rating=2)
    update(org, places[2], status=Status.ATTENDED, rating=4)
    update(org, places[3], status=Status.NO_SHOW)
    make_resource(org, title="Nobody invited")
    with tenancy.tenant(org):
        rows = {row.title: row for row in education.resource_figures(actor=Actor.system(org))}
    row = rows[resource.title]
    assert (row.invited, row.attended, row.completed, row.no_show) == (5, 3, 2, 1)
    assert row.completion_rate == 40.0
    assert row.avg_rating == pytest.approx(11 / 3)
    empty = rows["Nobody invited"]
    assert (empty.invited, empty.completion_rate, empty.avg_rating) == (0, None, None)


def test_a_reps_figures_count_only_their_customers(org, rep_actor, members):
    resource = make_resource(org)
    invite(org, resource, CustomerFactory(organization=org, owner=members["sales_rep"]))
    invite(org, resource, CustomerFactory(organization=org, owner=members["owner"]))
    with tenancy.tenant(org):
        (row,) = education.resource_figures(actor=rep_actor)
    assert row.invited == 1


def test_a_customers_education_lists_what_they_were_invited_to(org):
    buyer = CustomerFactory(organization=org)
    first = invite(org, make_resource(org, title="One"), buyer)
    invite(org, make_resource(org, title="Two"), buyer)
    update(org, first, status=Status.COMPLETED)
    with tenancy.tenant(org):
        summary = education.customer_education(buyer)
    assert (summary.invited, summary.attended, summary.completed) == (2, 1, 1)


def test_figures_take_as_many_queries_for_many_resources(org):
    def count():
        with tenancy.tenant(org), CaptureQueriesContext(connection) as queries:
            education.resource_figures(actor=Actor.system(org))
            education.upcoming_sessions(actor=Actor.system(org))
        return len(queries)

    resource = make_resource(org)
    make_session(org, resource)
    few = count()
    for n in range(6):
        other = make_resource(org, title=f"R{n}")
        make_session(org, other)
        invite(org, other, CustomerFactory(organization=org))
    assert count() == few


# Pages --------------------------------------------------------------------------------------


def test_the_education_pages_render_for_the_owner(client, org, members):
    resource = make_resource(org, title="E-invoice webinar")
    session = make_session(org, resource)
    buyer = CustomerFactory(organization=org, name="Buyer One")
    invite(org, resource, buyer, session=session)
    login(client, members["owner"])
    home = client.get("/experience/education/")
    assert home.status_code == 200 and "E-invoice webinar" in home.content.decode()
    detail = client.get(f"/experience/education/resources/{resource.pk}/")
    assert detail.status_code == 200 and "Buyer One" in detail.content.decode()
    page = client.get(f"/customers/{buyer.pk}/").content.decode()
    assert 'data-testid="education-panel"' in page and "E-invoice webinar" in page


def test_a_resource_is_created_through_its_form(client, org, members):
    login(client, members["finance_manager"])
    bad = client.post("/experience/education/resources/new/", {"title": "", "kind": "guide"})
    assert bad.status_code == 400
    response = client.post(
        "/experience/education/resources/new/",
        {"title": "Statements", "kind": "guide", "topic": "Billing", "language": "en", "is_active": "on"},
    )
    assert response.status_code == 302
    with tenancy.tenant(org):
        assert Resource.objects.get().title == "Statements"


def test_the_segment_form_invites_and_reports(client, org, members):
    resource = make_resource(org)
    for _ in range(2):
        CustomerFactory(organization=org, lifecycle_stage="loyal")
    login(client, members["ar_clerk"])
    url = f"/experience/education/resources/{resource.pk}/invite/"
    assert client.post(url, {}).status_code == 400
    assert client.post(url, {"lifecycle_stage": "loyal"}).status_code == 302
    assert client.post(url, {"lifecycle_stage": "loyal"}).status_code == 302
    with tenancy.tenant(org):
        assert Attendance.objects.count() == 2


def test_the_attendance_is_updated_inline(client, org, members):
    place = invite(org, make_resource(org), CustomerFactory(organization=org))
    login(client, members["owner"])
    url = f"/experience/education/attendances/{place.pk}/"
    form = client.get(url, headers={"HX-Request": "true"})
    assert form.status_code == 200 and 'data-testid="attendance-form"' in form.content.decode()
    bad = client.post(
        url, {f"a{place.pk}-status": "invited", f"a{place.pk}-rating": "5"}, headers={"HX-Request": "true"}
    )
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    row = client.post(
        url, {f"a{place.pk}-status": "attended", f"a{place.pk}-rating": "5"}, headers={"HX-Request": "true"}
    )
    assert row.status_code == 200 and 'data-testid="attendance-status"' in row.content.decode()
    with tenancy.tenant(org):
        place.refresh_from_db()
    assert (place.status, place.rating) == (Status.ATTENDED, 5)


def test_a_customer_is_invited_from_their_page(client, org, members):
    resource = make_resource(org)
    buyer = CustomerFactory(organization=org)
    stranger = ContactFactory(customer=CustomerFactory(organization=org))
    login(client, members["owner"])
    url = f"/experience/education/customers/{buyer.pk}/invite/"
    assert client.get(url).status_code == 200
    assert client.post(url, {"resource": resource.pk, "contact": stranger.pk}).status_code == 400
    assert client.post(url, {"resource": resource.pk}).status_code == 302
    with tenancy.tenant(org):
        assert Attendance.objects.filter(customer=buyer).count() == 1


def test_a_rep_sees_and_updates_only_their_customers_places(client, org, members):
    resource = make_resource(org)
    mine = invite(
        org, resource, CustomerFactory(organization=org, owner=members["sales_rep"], name="Mine Ltd")
    )
    theirs = invite(
        org, resource, CustomerFactory(organization=org, owner=members["owner"], name="Theirs Ltd")
    )
    login(client, members["sales_rep"])
    page = client.get(f"/experience/education/resources/{resource.pk}/").content.decode()
    assert "Mine Ltd" in page and "Theirs Ltd" not in page
    assert client.get(f"/experience/education/attendances/{theirs.pk}/").status_code == 404
    assert client.get(f"/experience/education/attendances/{mine.pk}/").status_code == 200
    assert client.get(f"/experience/education/customers/{theirs.customer_id}/invite/").status_code == 404


def test_an_auditor_reads_but_cannot_change(client, org, members):
    resource = make_resource(org)
    place = invite(org, resource, CustomerFactory(organization=org))
    login(client, members["auditor"])
    assert client.get(f"/experience/education/resources/{resource.pk}/").status_code == 200
    assert client.get("/experience/education/resources/new/").status_code == 403
    assert client.post(f"/experience/education/attendances/{place.pk}/", {}).status_code == 403


def test_another_organizations_ids_are_404(client, org, outsider_org, members):
    theirs = make_resource(outsider_org)
    their_place = invite(outsider_org, theirs, CustomerFactory(organization=outsider_org))
    their_session = make_session(outsider_org, theirs)
    login(client, members["owner"])
    assert client.get(f"/experience/education/resources/{theirs.pk}/").status_code == 404
    assert client.get(f"/experience/education/attendances/{their_place.pk}/").status_code == 404
    assert client.get(f"/experience/education/sessions/{their_session.pk}/edit/").status_code == 404
    assert (
        client.post(f"/experience/education/resources/{theirs.pk}/invite/", {"abc_class": "A"}).status_code
        == 404
    )


def test_the_resource_page_takes_as_many_queries_for_many_places(client, org, members):
    resource = make_resource(org)
    login(client, members["owner"])
    url = f"/experience/education/resources/{resource.pk}/"

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    invite(org, resource, CustomerFactory(organization=org))
    client.get(url)
    few = count()
    for _ in range(8):
        buyer = CustomerFactory(organization=org)
        invite(org, resource, buyer, contact=ContactFactory(customer=buyer))
    assert count() == few


# The experience hub -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "sales_rep", "auditor"])
def test_the_hub_renders_with_whatever_parts_exist(client, org, members, role):
    invite(
        org, make_resource(org), CustomerFactory(organization=org, owner=members[role], loyalty_tier="Gold")
    )
    login(client, members[role])
    response = client.get("/experience/")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-testid="hub-education"' in page and 'href="/experience/education/"' in page
    assert 'href="/experience/"' in page  # the nav's Experience link
    assert "Gold" in page


def test_the_hub_counts_only_a_reps_customers(client, org, members):
    CustomerFactory(organization=org, owner=members["owner"], loyalty_tier="Platinum")
    login(client, members["sales_rep"])
    assert "Platinum" not in client.get("/experience/").content.decode()


def test_the_experience_placeholder_is_gone(client, org, members):
    login(client, members["owner"])
    assert client.get("/modules/experience/").status_code == 404


def test_the_session_is_kept_in_the_tenant(org, outsider_org):
    make_session(outsider_org, make_resource(outsider_org))
    with tenancy.tenant(org):
        assert not Session.objects.exists()


# The demo seed ------------------------------------------------------------------------------


def test_the_seed_tells_the_education_story(org, members, django_capture_on_commit_callbacks):
    from experience import education_seed

    buyers = [
        CustomerFactory(organization=org, name=f"上海客户{n}有限公司" if n % 2 else f"Buyer {n} Ltd")
        for n in range(12)
    ]
    for buyer in buyers[:6]:
        ContactFactory(customer=buyer, is_primary=True)
    with django_capture_on_commit_callbacks(execute=True), tenancy.tenant(org):
        education_seed.seed(org)
    with tenancy.tenant(org):
        assert Resource.objects.count() == 4
        assert set(Resource.objects.values_list("kind", flat=True)) == {"guide", "course", "webinar"}
        assert Session.objects.filter(resource__kind="webinar").count() == 2
        assert Attendance.objects.values("customer").distinct().count() == 10
        assert Attendance.objects.filter(status=Status.COMPLETED, rating__isnull=False).exists()
        assert Attendance.objects.filter(status=Status.ATTENDED).exclude(feedback="").exists()
        assert Attendance.objects.filter(status=Status.NO_SHOW).exists()
        assert Interaction.objects.filter(summary__contains="Completed").exists()
        rows = education.resource_figures(actor=Actor.system(org))
    assert all(row.invited for row in rows)
