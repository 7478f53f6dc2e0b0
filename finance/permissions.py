"""Who may do what: one table mapping each role to its allowed actions.

Views, API views and services ask `can(actor, action)`; an action missing from the table is
denied (fail closed). API keys act as the pseudo-roles `api_read` / `api_write` from their scopes.
The full matrix is tested in tests/finance/test_permissions.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finance.actors import Actor

# Every action Kehu checks. Later modules add theirs here.
VIEW_ACTIONS = frozenset(
    {
        "organization.view",
        "customer.view",
        "contact.view",
        "interaction.view",
        "followup.view",
        "receivables.view",
        "collections.view",
        "credit.view",
        "analytics.view",
        "experience.view",
    }
)
ACTIONS = VIEW_ACTIONS | {
    "customer.create",
    "customer.change",
    "customer.archive",
    "customer.delete",
    "customer.assign_owner",
    "contact.change",
    "interaction.log",
    "followup.change",
    "audit.view",
    "apikey.manage",
    "jobs.run",
    "invoice.create",
    "invoice.void",
    "credit_note.create",
    "payment.post",
    "writeoff.request",
    "writeoff.approve",
    "exchange_rate.change",
    "webhook.manage",
    "dunning_policy.change",
    "promise.record",
    "dispute.open",
    "dispute.resolve",
    "collections.assign",
    "collections.work",
    "credit.request",
    "credit.approve",
    "credit.manage",
    "credit.policy",
    "credit.statement",
    "credit.order",
    "analytics.portfolio",
    "analytics.run",
    "analytics.policy",
    "survey.manage",
    "survey.send",
    "feedback.change",
    "service.work",
    "service.policy",
    "loyalty.manage",
    "loyalty.redeem",
    "loyalty.adjust",
    "education.change",
    "privacy.view",
    "privacy.export",
    "privacy.erase",
    "privacy.manage",
    # Unmasked tax ids, bank accounts and identity numbers (finance/sensitive.py); each view is audited.
    "sensitive.view",
}

# Working the relationship: feedback, service requests, education (sales reps on their own customers).
_EXPERIENCE_WORK = {"feedback.change", "service.work", "education.change"}

# The whole portfolio's analytics (dashboard, cohorts, summary, exports): everyone but sales reps,
# who see the figures of their own customers only.
_PORTFOLIO = {"analytics.portfolio"}

# Feeding credit: asking for a limit change, entering statements, reporting ERP orders.
_CREDIT_INPUT = {"credit.request", "credit.statement", "credit.order"}

# Collecting: recording promises, disputes and their outcome, working the worklist.
_COLLECTION_WORK = {"promise.record", "dispute.open", "dispute.resolve", "collections.work"}

# Posting documents and cash: the finance roles and write integrations.
_LEDGER_WRITES = {
    "invoice.create",
    "invoice.void",
    "credit_note.create",
    "payment.post",
    "writeoff.request",
    "exchange_rate.change",
}

_RELATIONSHIP_WRITES = {
    "customer.create",
    "customer.change",
    "contact.change",
    "interaction.log",
    "followup.change",
}

# Personal information rights (crm/privacy.py): reading the register and retention policies,
# exporting a subject's data, erasing it, and keeping the register. Consents ride on contact.view /
# contact.change, since reps must know and record them. Erasing and keeping the register: owner/admin.

PERMISSIONS: dict[str, frozenset[str]] = {
    "owner": frozenset(ACTIONS),
    "admin": frozenset(ACTIONS),
    "finance_manager": VIEW_ACTIONS
    | _RELATIONSHIP_WRITES
    | _LEDGER_WRITES
    | _COLLECTION_WORK
    | _CREDIT_INPUT
    | {"customer.archive", "customer.assign_owner", "jobs.run", "writeoff.approve", "collections.assign"}
    | {"credit.approve", "credit.manage"}
    | _PORTFOLIO
    | {"analytics.run", "analytics.policy"}
    | _EXPERIENCE_WORK
    | {"survey.manage", "survey.send", "loyalty.manage", "loyalty.redeem", "loyalty.adjust"}
    | {"privacy.view", "privacy.export"}
    | {"sensitive.view"},
    "ar_clerk": VIEW_ACTIONS
    | _RELATIONSHIP_WRITES
    | _LEDGER_WRITES
    | _COLLECTION_WORK
    | _CREDIT_INPUT
    | _PORTFOLIO
    | _EXPERIENCE_WORK
    | {"survey.send", "loyalty.redeem"},
    # A rep hears the complaint first: they may open a dispute on their own customers' invoices.
    "sales_rep": VIEW_ACTIONS | _RELATIONSHIP_WRITES | {"dispute.open"} | _EXPERIENCE_WORK,
    "auditor": VIEW_ACTIONS | {"audit.view", "privacy.view"} | _PORTFOLIO,
    "api_read": VIEW_ACTIONS | _PORTFOLIO | {"privacy.view"},
    "api_write": VIEW_ACTIONS
    | _RELATIONSHIP_WRITES
    | _LEDGER_WRITES
    | {"promise.record", "dispute.open", "dispute.resolve"}
    | _CREDIT_INPUT
    | {"customer.archive", "customer.assign_owner", "webhook.manage"}
    | _PORTFOLIO
    | _EXPERIENCE_WORK
    | {"loyalty.redeem"}
    | {"privacy.view", "privacy.export"}
    # The ERP matches customers by tax id and pays to bank accounts: write keys see them, audited.
    | {"sensitive.view"},
}

# Roles that see only the customers they own (and those customers' relationship data).
OWN_CUSTOMERS_ONLY = frozenset({"sales_rep"})


def role_can(role: str, action: str) -> bool:
    return action in PERMISSIONS.get(role, frozenset())


def can(actor: Actor | None, action: str) -> bool:
    return actor is not None and role_can(actor.role, action)
