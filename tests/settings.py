"""Test settings: the real settings, with fast hashing, eager tasks and in-memory email."""

import os

os.environ.setdefault("DJANGO_ENV", "test")

from finance.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

if not REDIS_URL:  # noqa: F405
    # A broker folder of the test run's own, never the one `make run` uses.
    import tempfile
    from pathlib import Path

    _broker = Path(tempfile.mkdtemp(prefix="kehu-test-broker-"))
    (_broker / "queue").mkdir()
    (_broker / "processed").mkdir()
    (_broker / "control").mkdir()
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "queue"),
        "data_folder_out": str(_broker / "queue"),
        "processed_folder": str(_broker / "processed"),
        "control_folder": str(_broker / "control"),
        "store_processed": False,
    }

# Rate limits no other test (fuzzing, imports, bulk) can reach; tests of the limits override them.
API_KEY_RATE_LIMIT_PER_MINUTE = 1_000_000
API_USER_RATE_LIMIT_PER_MINUTE = 1_000_000
# Security events stay out of the test output; tests read them with caplog.
LOGGING["handlers"]["security_null"] = {"class": "logging.NullHandler"}  # noqa: F405
LOGGING["loggers"]["kehu.security"]["handlers"] = ["security_null"]  # noqa: F405
