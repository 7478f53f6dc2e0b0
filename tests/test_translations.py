"""The Simplified Chinese catalog is complete, compiled and in step with the code.

Regenerate after changing user-facing text:

    python manage.py makemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=tests --ignore=screenshots
    (translate the new or fuzzy entries in locale/zh_Hans/LC_MESSAGES/django.po)
    python manage.py compilemessages -l zh_Hans --ignore=.venv
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from django.apps import apps
from django.conf import settings
from django.utils import translation

ROOT = Path(__file__).resolve().parent.parent
LC_MESSAGES = ROOT / "locale" / "zh_Hans" / "LC_MESSAGES"
PO = LC_MESSAGES / "django.po"
MO = LC_MESSAGES / "django.mo"

# Directories makemessages must never read (virtualenv, runtime data, tests, generated files).
IGNORED = [".venv", "var", "tests", "screenshots", "node_modules"]
# Source directories of the project; the ones that do not exist yet are skipped.
SOURCE_DIRS = ["finance", "crm", "receivables", "credit", "experience", "analytics", "templates"]
PLACEHOLDER = re.compile(r"%\([A-Za-z_][A-Za-z0-9_]*\)[sdif]|%%|\{\{\s*[^}]+?\s*\}\}")


def _read_po(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _as_list(value: str | tuple[str, ...] | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _label(message) -> str:
    msgid = message.id if isinstance(message.id, str) else message.id[0]
    return f"{message.context + ' | ' if message.context else ''}{msgid!r}"


def _problems(catalog: Catalog) -> list[str]:
    """Entries (not the header) that are fuzzy or have an empty translation."""
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {_label(message)}")
        strings = _as_list(message.string)
        if not strings or not all(s.strip() for s in strings):
            problems.append(f"untranslated: {_label(message)}")
    return problems


def _entries(catalog: Catalog) -> dict[tuple[str | None, object], object]:
    return {(m.context, tuple(_as_list(m.id))): tuple(_as_list(m.string)) for m in catalog if m.id}


def test_every_message_is_translated_and_not_fuzzy() -> None:
    catalog = _read_po(PO)
    assert len(catalog) > 0
    problems = _problems(catalog)
    assert not problems, "locale/zh_Hans/LC_MESSAGES/django.po:\n" + "\n".join(problems)


def test_catalog_header() -> None:
    catalog = _read_po(PO)
    assert catalog.fuzzy is False, "the header is still marked fuzzy"
    assert str(catalog.locale) == "zh_Hans"
    assert catalog.charset.lower() == "utf-8"
    assert catalog.num_plurals == 1
    plural_forms = dict(catalog.mime_headers).get("Plural-Forms", "")
    assert plural_forms.replace(" ", "") == "nplurals=1;plural=0;"


def test_translations_keep_placeholders() -> None:
    problems = []
    for message in _read_po(PO):
        if not message.id:
            continue
        expected = sorted(PLACEHOLDER.findall(_as_list(message.id)[-1]))
        for string in _as_list(message.string):
            if string and sorted(PLACEHOLDER.findall(string)) != expected:
                problems.append(f"{_label(message)} -> {string!r}")
    assert not problems, "placeholders differ:\n" + "\n".join(problems)


def test_compiled_catalog_is_up_to_date() -> None:
    assert MO.exists(), "run: python manage.py compilemessages -l zh_Hans --ignore=.venv"
    compiled = io.BytesIO()
    write_mo(compiled, _read_po(PO))
    compiled.seek(0)
    expected = _entries(read_mo(compiled))
    with MO.open("rb") as f:
        committed = _entries(read_mo(f))
    stale = sorted(str(key) for key in expected.keys() ^ committed.keys())
    stale += sorted(str(key) for key in expected.keys() & committed.keys() if expected[key] != committed[key])
    assert not stale, (
        "django.mo does not match django.po; run: python manage.py compilemessages -l zh_Hans "
        "--ignore=.venv\n" + "\n".join(stale[:50])
    )


def _project_source_dirs() -> list[str]:
    """Top-level project directories holding translatable text: apps, templates, known app names."""
    names = {name for name in SOURCE_DIRS if (ROOT / name).is_dir()}
    for config in apps.get_app_configs():
        path = Path(config.path).resolve()
        if path.is_relative_to(ROOT) and path != ROOT:
            names.add(path.relative_to(ROOT).parts[0])
    for template in settings.TEMPLATES:
        for directory in template.get("DIRS", []):
            path = Path(directory).resolve()
            if path.is_relative_to(ROOT) and path != ROOT:
                names.add(path.relative_to(ROOT).parts[0])
    return sorted(names - set(IGNORED) - {"locale"})


def test_catalog_covers_every_message_in_the_code(tmp_path: Path) -> None:
    if not (shutil.which("xgettext") and shutil.which("msgmerge") and shutil.which("msgfmt")):
        pytest.skip("GNU gettext (xgettext, msgmerge, msgfmt) is not installed")

    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo")
    for name in _project_source_dirs():
        shutil.copytree(ROOT / name, tmp_path / name, ignore=skip)
    shutil.copy2(ROOT / "manage.py", tmp_path / "manage.py")
    shutil.copytree(ROOT / "locale", tmp_path / "locale", ignore=skip)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "finance.settings",
        "DJANGO_ENV": "test",
        "KEHU_VAR_DIR": str(tmp_path / "var"),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.pop("PYTHONPATH", None)
    command = [sys.executable, "manage.py", "makemessages", "-l", "zh_Hans", "--no-obsolete"]
    command += [f"--ignore={name}" for name in IGNORED]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

    catalog = _read_po(tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po")
    assert len(catalog) > 0
    problems = _problems(catalog)
    assert not problems, (
        "The code uses messages that locale/zh_Hans/LC_MESSAGES/django.po lacks or has out of date; "
        "run makemessages, translate, then compilemessages:\n" + "\n".join(problems)
    )


def test_django_serves_the_chinese_catalog() -> None:
    with translation.override("zh-hans"):
        assert translation.gettext("Customers") != "Customers"
        assert translation.gettext("Customers") == "客户"
        assert translation.gettext("Receivables") == "应收账款"
        assert (
            translation.ngettext("%(counter)s customer", "%(counter)s customers", 3) % {"counter": 3}
            == "共 3 个客户"
        )
        # Django's own catalogs (and those of installed libraries) still answer for their strings.
        assert translation.gettext("Enter a valid email address.") != "Enter a valid email address."
    with translation.override("en"):
        assert translation.gettext("Customers") == "Customers"
