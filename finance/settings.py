"""Kehu settings, read from the environment.

Every variable has a default that works on a laptop (a SQLite file, an embedded Celery broker,
console email); `DJANGO_ENV=production` refuses to start without a real `SECRET_KEY`.
The README lists every variable.
"""

import base64
import datetime
import hashlib
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("KEHU_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
if DJANGO_ENV not in {"development", "test", "production"}:
    raise ImproperlyConfigured("DJANGO_ENV must be development, test or production.")
PRODUCTION = DJANGO_ENV == "production"

_INSECURE_KEY = "dev-insecure-key-never-use-in-production-0123456789abcdefghijklmnop"
SECRET_KEY = env.str("SECRET_KEY", default=_INSECURE_KEY)
if PRODUCTION and (SECRET_KEY == _INSECURE_KEY or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "DJANGO_ENV=production needs a real SECRET_KEY (at least 50 random characters)."
    )

# --- Field encryption (finance/crypto.py) -----------------------------------------------------
# FIELD_ENCRYPTION_KEYS: "version:base64 Fernet key" pairs, comma-separated, newest first;
# BLIND_INDEX_KEY: the HMAC key of the tax id search index. Off production both default to keys
# derived from SECRET_KEY so `make run` and the tests work; production refuses to start without them.
_DEV_FIELD_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(f"kehu:field-encryption:{SECRET_KEY}".encode()).digest()
).decode()
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=[] if PRODUCTION else [f"1:{_DEV_FIELD_KEY}"]
)
BLIND_INDEX_KEY = env.str("BLIND_INDEX_KEY", default="" if PRODUCTION else f"blind-index:{SECRET_KEY}")
if PRODUCTION and not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("DJANGO_ENV=production needs FIELD_ENCRYPTION_KEYS (version:key,...).")
if PRODUCTION and len(BLIND_INDEX_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_ENV=production needs a BLIND_INDEX_KEY of at least 32 characters.")

DEBUG = env.bool("DEBUG", default=DJANGO_ENV == "development")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.admin",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # recovery codes
    "finance",
    "crm",
    "receivables",
    "credit",
    "experience",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # CSP, Permissions-Policy, no-store on everything past the static files (finance/headers.py).
    "finance.headers.SecurityHeadersMiddleware",
    "finance.middleware.RequestGuardMiddleware",
    # Inside the request id and tenant scope: logs every 403 and 429 as a security event.
    "finance.security_events.SecurityEventMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "finance.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "finance.middleware.TenantMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Failed sign-ins: after AXES_FAILURE_LIMIT failures for one email from one address, that pair is
# locked for AXES_COOLOFF_MINUTES; a successful sign-in resets the count (django-axes).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"  # the sign-in form's field (our users sign in with their email)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

# Two-factor sign-in (TOTP, django-otp): members with one of these roles in any organization must
# enroll an authenticator at their next sign-in; everyone else may enable it on /account/security/.
MFA_REQUIRED_ROLES = env.list("MFA_REQUIRED_ROLES", default=["owner", "admin", "finance_manager", "ar_clerk"])
OTP_TOTP_ISSUER = "Kehu"  # the account's name in authenticator apps

ROOT_URLCONF = "finance.urls"
WSGI_APPLICATION = "finance.wsgi.application"
AUTH_USER_MODEL = "finance.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "finance.context_processors.kehu",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# DATABASE_URL connects as the owner of the schema (it runs migrations). When DATABASE_APP_ROLE
# is set, every connection switches to that role (SET ROLE) for application work, so requests,
# tasks and commands run as a role that is neither superuser nor table owner and row-level
# security applies; `migrate` and `flush` switch back to the owner for their duration.
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'kehu.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# Connections are kept for a minute and reused (a new PostgreSQL backend per request cost a third
# of a list request's time in bench/api.py); each request leaves the connection's tenant settings
# empty (finance.tenancy.request_scope), and a connection is checked before it is reused.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server, the worker and beat share the file: write transactions start IMMEDIATE (so
    # they queue for the lock instead of failing with "database is locked"), and WAL lets reads
    # proceed during a write.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASE_APP_ROLE = env.str("DATABASE_APP_ROLE", default="")
# A PostgreSQL read replica (streaming replication of the primary) for reports and exports: reads
# inside `finance.routers.reporting()` go there, every write and every other read to the primary
# (docs/scaling.md). It connects like the primary: same owner role, same switch to the app role.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = env.db_url_config(DATABASE_REPLICA_URL)
    DATABASES["replica"]["ATOMIC_REQUESTS"] = False
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    # Tests read the primary's test database through the replica alias.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["finance.routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Email ----------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Kehu <no-reply@kehu.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# Signed out after this long without a request, and this long after signing in whatever the activity.
SESSION_IDLE_SECONDS = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
SESSION_ABSOLUTE_SECONDS = env.int("SESSION_ABSOLUTE_SECONDS", default=SESSION_COOKIE_AGE)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# No script reads the CSRF cookie: pages hand htmx the token in `hx-headers` (templates/base.html),
# the browsable API and Swagger UI render it into the page.
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
# Requests larger than this are refused with 413 (bulk endpoints take at most 1000 items).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    # `__Host-`: the browser accepts these cookies only over HTTPS, for this host, on path / (ASVS 3.3.1).
    SESSION_COOKIE_NAME = "__Host-kehu_session"
    CSRF_COOKIE_NAME = "__Host-kehu_csrftoken"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "finance.api.authentication.ApiKeyAuthentication",
        "finance.api.authentication.TenantSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["finance.api.permissions.RolePermission"],
    "DEFAULT_PAGINATION_CLASS": "finance.api.pagination.KehuCursorPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "finance.api.filters.FilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "finance.api.exceptions.exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": None,
    # Per API key and per signed-in user, never per address (finance/api/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "finance.api.throttling.ApiKeyRateThrottle",
        "finance.api.throttling.UserRateThrottle",
    ],
}
# Requests per minute: an API key without its own limit (nor its organization's
# settings["api_rate_limit_per_minute"]), and a signed-in browser user on the API.
API_KEY_RATE_LIMIT_PER_MINUTE = env.int("API_KEY_RATE_LIMIT_PER_MINUTE", default=600)
API_USER_RATE_LIMIT_PER_MINUTE = env.int("API_USER_RATE_LIMIT_PER_MINUTE", default=1200)
SPECTACULAR_SETTINGS = {
    "TITLE": "Kehu API",
    "DESCRIPTION": (
        "Kehu's REST API for ERP integrations. Authenticate with an organization API key: "
        "`Authorization: Bearer <key>`. Every POST honours `Idempotency-Key`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "finance.api.schema.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "crm.models.CustomerStatus",
        "LanguageEnum": "finance.models.Language",
        "BulkStatusEnum": ["created", "updated", "unchanged"],
        "CreditStatusEnum": "credit.models.CreditStatus",
        "LimitRequestStatusEnum": "credit.models.LimitRequest.Status",
        "OpenOrderStatusEnum": "credit.models.OpenOrder.Status",
        "CreditHoldReasonEnum": "credit.models.CreditHold.Reason",
        "ReasonEnum": "receivables.models.Dispute.Reason",  # the name it had before credit's holds
        # experience: several models have a status, kind or category of their own.
        "AttendanceStatusEnum": "experience.models.Attendance.Status",
        "ResourceKindEnum": "experience.models.Resource.Kind",
        "ServiceRequestStatusEnum": "experience.models.ServiceRequest.Status",
        "ServiceRequestCategoryEnum": "experience.models.ServiceRequest.Category",
        "ServiceRequestChannelEnum": "experience.models.ServiceRequest.Channel",
        "ServiceNoteKindEnum": "experience.models.ServiceNote.Kind",
        "FeedbackCategoryEnum": "experience.models.FeedbackItem.Category",
        "FeedbackSentimentEnum": "experience.models.FeedbackItem.Sentiment",
        "FeedbackStatusEnum": "experience.models.FeedbackItem.Status",
        "ImprovementActionStatusEnum": "experience.models.ImprovementAction.Status",
        "SurveyKindEnum": "experience.models.Survey.Kind",
        "SurveyTriggerEnum": "experience.models.Survey.Trigger",
        "SurveyQuestionKindEnum": "experience.models.SurveyQuestion.Kind",
        "SurveyInvitationStatusEnum": "experience.models.SurveyInvitation.Status",
        "SurveyResponseCategoryEnum": "experience.models.SurveyResponse.Category",
    },
}

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
KEHU_QUEUES = ("default", "dispatch", "jobs", "heavy", "delivery")
CELERY_BROKER_DIR = VAR_DIR / "broker"
# BROKER_URL: another broker than Redis for the tasks (RabbitMQ: amqp://user:pass@host:5672/vhost);
# Redis (REDIS_URL) still holds the cache (progress, rate limits, per-organization task slots).
BROKER_URL = env.str("BROKER_URL", default="")
if BROKER_URL:
    CELERY_BROKER_URL = BROKER_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
elif REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # Embedded broker: kombu's filesystem transport, so `make run` needs no Redis.
    (CELERY_BROKER_DIR / "queue").mkdir(parents=True, exist_ok=True)
    (CELERY_BROKER_DIR / "processed").mkdir(parents=True, exist_ok=True)
    (CELERY_BROKER_DIR / "control").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
# The cache carries progress of long operations between the worker and the web processes.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "cache"),
    }
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Queues per kind of work (docs/scaling.md). A worker started without -Q consumes all of them, as
# on one machine; on several, `celery -A finance worker -Q heavy` gives the nightly recomputes and
# imports machines of their own, `-Q dispatch,jobs,default` keeps the small work moving.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = {name: {"exchange": name, "routing_key": name} for name in KEHU_QUEUES}
CELERY_TASK_ROUTES = {
    # Beat's dispatchers: one quick fan-out each, never behind a long job.
    "finance.dispatch_jobs": {"queue": "dispatch"},
    "experience.dispatch_sla_checks": {"queue": "dispatch"},
    # The per-organization daily jobs (aging snapshot, dunning, statements, reviews, alerts...).
    "finance.run_tenant_job": {"queue": "jobs"},
    "experience.sla_check": {"queue": "jobs"},
    # Minutes of CPU and memory each: the analytics recompute and ERP file imports.
    "analytics.recompute": {"queue": "heavy"},
    "receivables.import_run": {"queue": "heavy"},
    # Talking to the outside world: e-mail and webhooks, retried with backoff.
    "receivables.deliver_dunning_message": {"queue": "delivery"},
    "receivables.deliver_dunning_messages": {"queue": "delivery"},
    "finance.deliver_webhook": {"queue": "delivery"},
    # Everything else (credit rescoring after a change) stays on "default".
}
# At most this many tasks of one organization run at once across all workers, so one large tenant
# cannot take every worker (finance/concurrency.py); a task over the limit waits and retries.
TENANT_TASK_CONCURRENCY = env.int("TENANT_TASK_CONCURRENCY", default=2)

# --- Logging --------------------------------------------------------------------------------
# Security events (finance/security_events.py) are JSON lines on stdout, and also appended to
# SECURITY_LOG_FILE when set; they carry no personal data.
SECURITY_LOG_FILE = env.str("SECURITY_LOG_FILE", default="")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "security_json": {"()": "finance.security_events.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "security_stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "security_json",
        },
        **(
            {
                "security_file": {
                    "class": "logging.handlers.WatchedFileHandler",
                    "filename": SECURITY_LOG_FILE,
                    "formatter": "security_json",
                }
            }
            if SECURITY_LOG_FILE
            else {}
        ),
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "kehu.security": {
            "handlers": ["security_stdout", *(["security_file"] if SECURITY_LOG_FILE else [])],
            "level": "INFO",
            "propagate": False,
        },
    },
}

# --- Kehu -----------------------------------------------------------------------------------
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48)
BULK_MAX_ITEMS = 1000
# Webhooks go to HTTPS only; plain http://localhost is allowed outside production for local tests.
WEBHOOKS_ALLOW_HTTP_LOCALHOST = env.bool("WEBHOOKS_ALLOW_HTTP_LOCALHOST", default=not PRODUCTION)
