"""education's part of the demo: a Chinese and an English guide on reading statements and paying
online, a course, and a webinar with a past and a coming session; about ten customers invited,
some of whom attended or completed, with ratings and feedback (and it shows on their timelines)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Contact, Customer
from experience import education
from experience.models import Attendance, Resource
from finance.actors import Actor
from finance.models import Membership, Organization

RESOURCES = [
    {
        "title": "如何阅读对账单并在线付款",
        "kind": Resource.Kind.GUIDE,
        "topic": "对账单与付款",
        "language": "zh-hans",
        "url": "https://example.com/guides/statements-zh",
        "description": "一步一步读懂月度对账单，核对发票，并通过网银或支付宝在线付款。",
    },
    {
        "title": "Reading your statement and paying online",
        "kind": Resource.Kind.GUIDE,
        "topic": "Statements and payments",
        "language": "en",
        "url": "https://example.com/guides/statements-en",
        "description": "How to read the monthly statement, match it to your invoices and pay by transfer.",
    },
    {
        "title": "Finance basics for purchasing teams",
        "kind": Resource.Kind.COURSE,
        "topic": "Payment terms and credit",
        "language": "en",
        "url": "https://example.com/courses/finance-basics",
        "description": "Four short lessons: payment terms, credit limits, disputes and early payment.",
    },
    {
        "title": "线上研讨会：电子发票与在线对账",
        "kind": Resource.Kind.WEBINAR,
        "topic": "电子发票",
        "language": "zh-hans",
        "url": "https://example.com/webinars/e-invoice",
        "description": "介绍电子发票、在线对账平台以及常见问题解答。",
    },
]
FEEDBACK = [
    (5, "Very clear, our AP clerk now pays online."),
    (4, "讲解清楚，希望多一些实际操作演示。"),
    (3, "Useful, a bit long."),
    (5, "非常实用，已经开始使用电子发票。"),
]


def _host(organization: Organization) -> Actor:
    membership = (
        Membership.objects.filter(role__in=["finance_manager", "owner"])
        .select_related("user")
        .order_by("role")
        .first()
    )
    if membership is None:
        return Actor.system(organization)
    return Actor(organization=organization, role=membership.role, user=membership.user)


def seed(organization: Organization) -> None:
    actor = _host(organization)
    customers = list(Customer.objects.filter(status="active").order_by("pk")[:10])
    if not customers:
        return
    today = organization.local_today()
    now = timezone.now()
    guide_zh, guide_en, course, webinar = (
        education.resource_create(actor=actor, **fields) for fields in RESOURCES
    )
    past = education.session_create(
        actor=actor,
        resource=webinar,
        starts_at=now - datetime.timedelta(days=21),
        duration_minutes=90,
        location="腾讯会议 / Tencent Meeting",
        host=actor.user,
    )
    education.session_create(
        actor=actor,
        resource=webinar,
        starts_at=now + datetime.timedelta(days=14),
        duration_minutes=90,
        location="腾讯会议 / Tencent Meeting",
        host=actor.user,
    )
    course_session = education.session_create(
        actor=actor,
        resource=course,
        starts_at=now - datetime.timedelta(days=10),
        duration_minutes=120,
        location="Shanghai office, room 3",
        host=actor.user,
    )
    contacts = {}
    for contact in Contact.objects.filter(customer__in=customers).order_by("-is_primary", "pk"):
        contacts.setdefault(contact.customer_id, contact)

    def invite(resource, customer, session=None):  # noqa: ANN001, ANN202
        place, _created = education.attendance_invite(
            actor=actor,
            resource=resource,
            session=session,
            customer=customer,
            contact=contacts.get(customer.pk),
        )
        return place

    places = []
    for index, customer in enumerate(customers):
        guide = guide_zh if any("\u4e00" <= ch <= "\u9fff" for ch in customer.name) else guide_en
        places.append(("guide", invite(guide, customer)))
        if index % 2 == 0:
            places.append(("webinar", invite(webinar, customer, past)))
        if index % 3 == 0:
            places.append(("course", invite(course, customer, course_session)))
    # The invitations went out a month ago, before the sessions.
    Attendance.objects.filter(pk__in=[place.pk for _kind, place in places]).update(
        invited_on=today - datetime.timedelta(days=30)
    )
    counters: dict[str, int] = {}
    for kind, place in places:
        number = counters[kind] = counters.get(kind, -1) + 1  # the place's rank among its kind
        rating, feedback = FEEDBACK[number % len(FEEDBACK)]
        if kind == "guide" and number % 3 == 0:
            education.attendance_update(
                actor=actor,
                attendance=place,
                status=Attendance.Status.COMPLETED,
                on=today - datetime.timedelta(days=number % 20),
                rating=rating,
                feedback=feedback,
            )
        elif kind == "webinar":
            if number % 4 == 3:
                education.attendance_update(
                    actor=actor,
                    attendance=place,
                    status=Attendance.Status.NO_SHOW,
                    on=today - datetime.timedelta(21),
                )
            else:
                education.attendance_update(
                    actor=actor,
                    attendance=place,
                    status=Attendance.Status.ATTENDED,
                    on=today - datetime.timedelta(days=21),
                    rating=rating,
                    feedback=feedback,
                )
        elif kind == "course":
            education.attendance_update(
                actor=actor,
                attendance=place,
                status=Attendance.Status.ATTENDED,
                on=today - datetime.timedelta(10),
            )
            if number % 2 == 0:
                education.attendance_update(
                    actor=actor,
                    attendance=place,
                    status=Attendance.Status.COMPLETED,
                    on=today - datetime.timedelta(days=3),
                    rating=rating,
                    feedback=feedback,
                )
