"""Writes of dunning policies: a policy and its ordered levels are saved together, validated as a
whole, so a policy is never left with half its levels."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from finance import audit
from finance.actors import Actor
from finance.models import Language
from receivables.dunning import validate_template
from receivables.models import Channel, DunningLevel, DunningPolicy

POLICY_FIELDS = (
    "name",
    "is_active",
    "is_default",
    "priority",
    "customer_groups",
    "abc_classes",
    "risk_classes",
    "per_invoice",
    "grace_days_after_payment",
    "promise_grace_days",
    "late_fee",
    "late_fee_amount",
    "late_fee_annual_rate",
)
LEVEL_FIELDS = (
    "name",
    "days",
    "channel",
    "minimum_amount",
    "pay_within_days",
    "send",
    "attach_statement",
    "create_task",
    "credit_hold",
    "charge_late_fee",
    "stop",
    "templates",
)
LANGUAGES = {code for code, _label in Language.choices}


def _validate_templates(templates: Any, prefix: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(templates, dict):
        return {prefix: [_("Give templates as {language: {subject, body}}.")]}
    for language, template in templates.items():
        if language not in LANGUAGES:
            errors[f"{prefix}.{language}"] = [_("Unknown language.")]
            continue
        if not isinstance(template, dict) or not all(
            isinstance(template.get(key), str) and template.get(key).strip() for key in ("subject", "body")
        ):
            errors[f"{prefix}.{language}"] = [_("Give a subject and a body.")]
            continue
        if len(template["subject"]) > 300 or len(template["body"]) > 20000:
            errors[f"{prefix}.{language}"] = [_("Too long.")]
            continue
        for key in ("subject", "body"):
            try:
                validate_template(template[key], f"{prefix}.{language}.{key}")
            except ValidationError as exc:
                errors.update(exc.message_dict)
    return errors


def _clean_levels(policy: DunningPolicy, levels: list[dict[str, Any]]) -> list[DunningLevel]:
    errors: dict[str, Any] = {}
    built: list[DunningLevel] = []
    if not levels:
        raise ValidationError({"levels": [_("Give the policy at least one level.")]})
    if len(levels) > 20:
        raise ValidationError({"levels": [_("At most 20 levels.")]})
    for index, data in enumerate(levels):
        level = DunningLevel(organization=policy.organization, policy=policy, sequence=index + 1)
        if data.get("id"):
            level.pk = data["id"]
        for name in LEVEL_FIELDS:
            if name in data:
                setattr(level, name, data[name])
        prefix = f"levels.{index}"
        try:
            level.full_clean(exclude=["organization", "policy", "sequence"], validate_unique=False)
        except ValidationError as exc:
            for field_name, messages in exc.message_dict.items():
                errors[f"{prefix}.{field_name}"] = messages
        errors.update(_validate_templates(level.templates, f"{prefix}.templates"))
        built.append(level)
    days = [level.days for level in built if isinstance(level.days, int)]
    if len(days) != len(set(days)):
        errors["levels"] = [_("Two levels cannot have the same number of days.")]
    if errors:
        raise ValidationError(errors)
    built.sort(key=lambda level: level.days)
    for sequence, level in enumerate(built, start=1):
        level.sequence = sequence
    return built


@transaction.atomic
def policy_save(
    *,
    actor: Actor,
    policy: DunningPolicy | None = None,
    levels: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> DunningPolicy:
    """Create or change a policy; with `levels`, replace its levels by these (ordered by days).

    A level keeps its identity when given its `id` (reminders point at it); a level that reminders
    already point at cannot be removed, only changed. Raises ValidationError with field paths
    such as `levels.1.days`; nothing is written then."""
    actor.require("dunning_policy.change")
    creating = policy is None
    if policy is None:
        policy = DunningPolicy(organization=actor.organization)
        if levels is None:
            raise ValidationError({"levels": [_("Give the policy at least one level.")]})
    before = audit.snapshot(policy)
    unknown = set(fields) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError({name: [_("Unknown field.")] for name in sorted(unknown)})
    for name, value in fields.items():
        setattr(policy, name, value)
    errors: dict[str, Any] = {}
    for name in ("customer_groups", "abc_classes", "risk_classes"):
        values = getattr(policy, name)
        if not isinstance(values, list) or not all(isinstance(v, str) and 0 < len(v) <= 100 for v in values):
            errors[name] = [_("Give a list of names.")]
    try:
        policy.full_clean(exclude=["organization"], validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if policy.late_fee == DunningPolicy.LateFee.FIXED and not policy.late_fee_amount:
        errors["late_fee_amount"] = [_("Give the fixed fee.")]
    if policy.late_fee == DunningPolicy.LateFee.INTEREST and not policy.late_fee_annual_rate:
        errors["late_fee_annual_rate"] = [_("Give the annual interest rate.")]
    name_taken = DunningPolicy.objects.filter(name=policy.name).exclude(pk=policy.pk).exists()
    if name_taken:
        errors["name"] = [_("A policy with this name exists already.")]
    if errors:
        raise ValidationError(errors)
    if policy.is_default:
        DunningPolicy.objects.filter(is_default=True).exclude(pk=policy.pk).update(is_default=False)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise ValidationError({"name": [_("A policy with this name exists already.")]}) from None
    if levels is not None:
        _replace_levels(policy, _clean_levels(policy, levels))
    audit.record(
        actor=actor,
        action="dunning_policy.created" if creating else "dunning_policy.changed",
        instance=policy,
        changes=audit.diff(before, audit.snapshot(policy)),
    )
    return policy


def _replace_levels(policy: DunningPolicy, levels: list[DunningLevel]) -> None:
    existing = {level.pk: level for level in DunningLevel.objects.filter(policy=policy)}
    kept_ids = {level.pk for level in levels if level.pk}
    unknown = kept_ids - set(existing)
    if unknown:
        raise ValidationError({"levels": [_("A level id does not belong to this policy.")]})
    removed = [pk for pk in existing if pk not in kept_ids]
    if removed:
        in_use = DunningLevel.objects.filter(pk__in=removed, reminders__isnull=False).distinct()
        if in_use.exists():
            names = ", ".join(level.name for level in in_use)
            raise ValidationError(
                {
                    "levels": [
                        _("Levels already used by reminders cannot be removed: %(names)s.") % {"names": names}
                    ]
                }
            )
        DunningLevel.objects.filter(pk__in=removed).delete()
    # Park kept levels on free sequence/days values first, so reordering never trips the unique keys.
    for offset, level in enumerate(levels):
        if level.pk:
            DunningLevel.objects.filter(pk=level.pk).update(sequence=1000 + offset, days=-1000 - offset)
    for level in levels:
        level.save()


@transaction.atomic
def policy_delete(*, actor: Actor, policy: DunningPolicy) -> None:
    """Delete a policy never used; a used one is deactivated instead (its reminders keep their levels)."""
    actor.require("dunning_policy.change")
    if DunningLevel.objects.filter(policy=policy, reminders__isnull=False).exists():
        raise ValidationError(_("This policy has sent reminders; deactivate it instead."))
    audit.record(actor=actor, action="dunning_policy.deleted", instance=policy)
    policy.delete()


def recommended_levels(language: str) -> list[dict[str, Any]]:
    """A sensible starting point: a friendly note, two reminders, a final notice with a credit hold."""
    with translation.override(language):
        return [
            {"name": _("Friendly reminder"), "days": -3, "channel": Channel.EMAIL},
            {"name": _("First reminder"), "days": 7, "channel": Channel.EMAIL},
            {
                "name": _("Second reminder"),
                "days": 21,
                "channel": Channel.EMAIL,
                "attach_statement": True,
                "create_task": True,
            },
            {
                "name": _("Final notice"),
                "days": 45,
                "channel": Channel.EMAIL,
                "attach_statement": True,
                "create_task": True,
                "credit_hold": True,
                "stop": True,
                "minimum_amount": Decimal("100.00"),
            },
        ]


def policy_create_recommended(*, actor: Actor) -> DunningPolicy:
    """The organization's first policy, made its default."""
    language = actor.organization.language
    with translation.override(language):
        name = _("Standard")
    if DunningPolicy.objects.filter(name=name).exists():
        raise ValidationError({"name": [_("A policy with this name exists already.")]})
    return policy_save(actor=actor, name=name, is_default=True, levels=recommended_levels(language))
