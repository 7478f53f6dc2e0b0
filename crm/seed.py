"""crm's part of the demo organization: customers with Chinese and English names, contacts,
interactions and follow-ups, spread over the demo sales reps."""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from crm import services
from crm.models import Customer
from finance.actors import Actor
from finance.models import Membership, Organization

CUSTOMERS = [
    (
        "上海华东机电有限公司",
        "Shanghai Huadong Electromechanical Co., Ltd.",
        "CN",
        "CNY",
        "Machinery",
        "Key accounts",
        "91310000775785552L",
    ),
    (
        "北京远航科技有限公司",
        "Beijing Yuanhang Technology Co., Ltd.",
        "CN",
        "CNY",
        "Software",
        "Key accounts",
        "91110000600037341L",
    ),
    (
        "深圳明光电子有限公司",
        "Shenzhen Mingguang Electronics Co., Ltd.",
        "CN",
        "CNY",
        "Electronics",
        "Distributors",
        "",
    ),
    ("杭州绿源食品有限公司", "Hangzhou Lvyuan Foods Co., Ltd.", "CN", "CNY", "Food", "Retail", ""),
    (
        "广州南方物流有限公司",
        "Guangzhou Nanfang Logistics Co., Ltd.",
        "CN",
        "CNY",
        "Logistics",
        "Distributors",
        "",
    ),
    (
        "成都天府建材有限公司",
        "Chengdu Tianfu Building Materials Co., Ltd.",
        "CN",
        "CNY",
        "Construction",
        "Retail",
        "",
    ),
    (
        "苏州精工模具有限公司",
        "Suzhou Jinggong Moulds Co., Ltd.",
        "CN",
        "CNY",
        "Machinery",
        "Key accounts",
        "",
    ),
    (
        "武汉长江医药有限公司",
        "Wuhan Changjiang Pharma Co., Ltd.",
        "CN",
        "CNY",
        "Healthcare",
        "Distributors",
        "",
    ),
    ("Northwind Traders", "Northwind Traders Ltd.", "GB", "GBP", "Wholesale", "Export", ""),
    ("Contoso Manufacturing", "Contoso Manufacturing GmbH", "DE", "EUR", "Machinery", "Export", ""),
    ("Pacific Rim Imports", "Pacific Rim Imports Inc.", "US", "USD", "Retail", "Export", ""),
    ("Maple Leaf Distribution", "Maple Leaf Distribution Corp.", "CA", "CAD", "Logistics", "Export", ""),
    ("青岛海风贸易有限公司", "Qingdao Haifeng Trading Co., Ltd.", "CN", "CNY", "Wholesale", "Retail", ""),
    ("南京金陵印刷有限公司", "Nanjing Jinling Printing Co., Ltd.", "CN", "CNY", "Printing", "Retail", ""),
    ("Sakura Components", "Sakura Components K.K.", "JP", "JPY", "Electronics", "Export", ""),
    (
        "厦门鹭岛家居有限公司",
        "Xiamen Ludao Home Furnishing Co., Ltd.",
        "CN",
        "CNY",
        "Furniture",
        "Retail",
        "",
    ),
]
CONTACT_NAMES = [
    "王伟",
    "李娜",
    "张敏",
    "刘洋",
    "陈静",
    "杨帆",
    "James Miller",
    "Anna Schmidt",
    "Yuki Tanaka",
    "Sarah Brown",
]
SUMMARIES = [
    ("call", "Discussed the next quarter's order volume", "Customer expects 10% more volume."),
    (
        "visit",
        "Visited the warehouse and met the purchasing team",
        "Good relationship; wants faster delivery.",
    ),
    ("email", "Sent the updated price list", ""),
    ("meeting", "Annual contract review", "Asked for 60-day payment terms."),
    ("message", "WeChat: confirmed delivery date", ""),
    ("call", "Reminded about the overdue invoice", "Promised to pay by Friday."),
]


def seed(organization: Organization) -> None:
    rng = random.Random(20261124)
    reps = [
        m.user
        for m in Membership.objects.filter(role="sales_rep").select_related("user").order_by("user__email")
    ]
    owner = Membership.objects.filter(role="owner").select_related("user").first()
    actor = Actor(organization=organization, role="owner", user=owner.user if owner else None)
    now = timezone.now()
    today = organization.local_today()
    for index, (name, legal, country, currency, industry, group, tax_id) in enumerate(CUSTOMERS):
        rep = reps[index % len(reps)] if reps else None
        customer = services.customer_create(
            actor=actor,
            external_id=f"ERP-C{1001 + index}",
            name=name,
            legal_name=legal,
            tax_id=tax_id,
            country=country,
            currency=currency,
            industry=industry,
            customer_group=group,
            owner=rep,
            email=f"ap{index + 1}@example.com",
            phone=f"+86 21 5555 {1000 + index}",
            billing_address=f"{100 + index} Example Road\n{legal}",
            lifecycle_stage=rng.choice(["first_purchase", "repeat", "repeat", "loyal", "at_risk"]),
            tags=rng.sample(["strategic", "export", "wechat", "net-60", "new"], 2),
        )
        for c in range(rng.randint(1, 3)):
            services.contact_create(
                actor=actor,
                customer=customer,
                name=rng.choice(CONTACT_NAMES),
                title=["Purchasing manager", "Finance director", "Accounts payable"][c],
                email=f"contact{c + 1}.c{index + 1}@example.com",
                phone=f"+86 138 0000 {index:02d}{c:02d}",
                preferred_language="zh-hans" if country == "CN" else "en",
                is_primary=c == 0,
                is_billing=c == 2 or (c == 0 and index % 2 == 0),
            )
        rep_actor = Actor(organization=organization, role="sales_rep", user=rep) if rep else actor
        for i in range(rng.randint(2, 5)):
            kind, summary, outcome = rng.choice(SUMMARIES)
            with_follow_up = i == 0 and index % 2 == 0
            services.interaction_log(
                actor=rep_actor,
                customer=customer,
                kind=kind,
                summary=summary,
                outcome=outcome,
                occurred_at=now - datetime.timedelta(days=rng.randint(1, 120), hours=rng.randint(0, 8)),
                next_action="Call back about the order" if with_follow_up else "",
                next_action_due=today + datetime.timedelta(days=rng.randint(-5, 10))
                if with_follow_up
                else None,
            )
    Customer.objects.filter(name="Maple Leaf Distribution").update(status="archived")
