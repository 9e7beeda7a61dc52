"""KetaScreen settings: one module, read from the environment.

With no environment at all this gives a working development setup on an
SQLite file in the project folder. Production sets DEBUG=false, SECRET_KEY,
ALLOWED_HOSTS and DATABASE_URL (see README.md).
"""

import hashlib
import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
import xstatic.pkg.bootstrap
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default):
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"

# The audit trail's key (see screening.audit): each event's hash is an
# HMAC-SHA256 under a key that lives outside the database, so whoever can
# write the audit table cannot rewrite an event and recompute the chain.
# AUDIT_KEYS holds every key ever used, as `id:secret` pairs separated by
# commas (old keys stay so older events still verify); AUDIT_KEY_ID names
# the one new events use (by default the only one, or the last listed).
AUDIT_KEY_ID_PATTERN = r"\A[A-Za-z0-9_.-]{1,16}\Z"


def audit_keys(value, current, *, debug):
    """({key id: secret bytes}, current key id) from AUDIT_KEYS and
    AUDIT_KEY_ID; raises ImproperlyConfigured with what to fix."""
    import re

    if not value:
        if not debug:
            raise ImproperlyConfigured(
                "AUDIT_KEYS must be set when DEBUG is off: e.g. AUDIT_KEYS=k1:<a long random secret> "
                "(see docs/security.md)."
            )
        value = "dev:development-only-audit-key-never-use-in-production"
    keys = {}
    for item in value.split(","):
        key_id, sep, secret = item.strip().partition(":")
        if not sep or not re.match(AUDIT_KEY_ID_PATTERN, key_id) or not secret:
            raise ImproperlyConfigured(
                "AUDIT_KEYS must be id:secret pairs separated by commas; each id 1 to 16 letters, digits, "
                f"'.', '_' or '-' (could not read {key_id or item.strip()!r})."
            )
        if not debug and len(secret) < 32:
            raise ImproperlyConfigured(f"The audit key {key_id!r} is too short: use at least 32 random characters.")
        if key_id in keys:
            raise ImproperlyConfigured(f"AUDIT_KEYS names the key {key_id!r} twice.")
        keys[key_id] = secret.encode()
    current = current or list(keys)[-1]
    if current not in keys:
        raise ImproperlyConfigured(f"AUDIT_KEY_ID names {current!r}, which is not in AUDIT_KEYS.")
    return keys, current


AUDIT_KEYS, AUDIT_KEY_ID = audit_keys(
    os.environ.get("AUDIT_KEYS", ""), os.environ.get("AUDIT_KEY_ID", ""), debug=DEBUG
)
# Auditing can be switched off only to measure what it costs (bench/audit.py);
# `manage.py check --deploy` warns while it is off.
AUDIT_ENABLED = env_bool("AUDIT_ENABLED", True)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # Django's admin on a site that needs a second factor (accounts.sites).
    "accounts.admin_apps.KetaScreenAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    # Form widgets render through templates, ours in templates/ among them (FORM_RENDERER).
    "django.forms",
    "crispy_forms",
    "crispy_bootstrap5",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "accounts",
    "teams",
    "conditions",
    "rulebook",
    "screening",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.refusals_not_stored",
    "config.middleware.request_body_limited",
    "config.middleware.nul_in_admin_address_refused",
    "config.middleware.unserved_methods_refused",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.malformed_session_cookie_ignored",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.middleware.idle_session_expiry",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.htmx: the questionnaire answers htmx's requests with sections only.
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.second_factor_enforced",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.content_security_policy",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

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
                "config.context_processors.session_timeout",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# Database: DATABASE_URL selects PostgreSQL (psycopg 3); the default is an
# SQLite file beside manage.py. Persistent connections matter on PostgreSQL:
# a new connection per request cut throughput threefold when measured.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several requests at once (gunicorn workers, a second tab) on the one
    # file: a write transaction takes its lock when it starts and waits its
    # turn, rather than failing with "database is locked" halfway through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(transaction_mode="IMMEDIATE", timeout=20)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("CONN_MAX_AGE", "60"))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Prepared statements: PostgreSQL plans a query once per connection and
    # reuses the plan, instead of planning it again on every request (on the
    # summary page, planning took longer than running). They need
    # server-side parameter binding; turn both off behind a pooler in
    # transaction mode, which cannot keep a connection's prepared statements.
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=5)

# Least privilege on PostgreSQL: DATABASE_URL signs the app in as a role that
# owns nothing, and MIGRATE_DATABASE_URL (the same database, as the role that
# owns its tables) is used by `manage.py migrate` and `manage.py flush` only.
# Migrations grant the app role what it needs and no more (see the screening
# migration "app_role_privileges"): it cannot TRUNCATE, ALTER or DROP
# anything, switch a trigger off, or UPDATE or DELETE audit events and stored
# PDFs. Without MIGRATE_DATABASE_URL one role does everything, as on SQLite.
MIGRATE_DATABASE_URL = os.environ.get("MIGRATE_DATABASE_URL", "")
DATABASE_ROLES = {}
if MIGRATE_DATABASE_URL:
    _owner = dj_database_url.parse(MIGRATE_DATABASE_URL)
    if (_owner["ENGINE"], _owner["NAME"]) != (DATABASES["default"]["ENGINE"], DATABASES["default"]["NAME"]):
        raise ImproperlyConfigured(
            "MIGRATE_DATABASE_URL must name the same PostgreSQL database as DATABASE_URL, with the owner role."
        )
    _sign_in = ("USER", "PASSWORD", "HOST", "PORT")
    DATABASE_ROLES = {
        "owner": {key: _owner[key] for key in _sign_in},
        "app": {key: DATABASES["default"][key] for key in _sign_in},
    }


def release_digest():
    """A short digest of the code and templates this process runs: cache
    keys start with it, so a deploy never reads markup an older release
    rendered, whichever cache the hosts share."""
    digest = hashlib.sha256()
    for folder in ("config", "rules", "accounts", "teams", "conditions", "rulebook", "screening", "templates"):
        for path in sorted((BASE_DIR / folder).rglob("*")):
            if path.suffix in {".py", ".html"}:
                digest.update(path.relative_to(BASE_DIR).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


# The cache: what never changes once written (a rulebook by version, a
# summary by screening revision) and sessions. Local memory per process by
# default; REDIS_URL (e.g. redis://127.0.0.1:6379/0) shares one Redis
# between every process and host.
RELEASE = os.environ.get("RELEASE") or release_digest()
REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES = {
    "default": {
        "BACKEND": (
            "django.core.cache.backends.redis.RedisCache" if REDIS_URL
            else "django.core.cache.backends.locmem.LocMemCache"
        ),
        "LOCATION": REDIS_URL or "ketascreen",
        "KEY_PREFIX": f"ketascreen-{RELEASE}",
        "TIMEOUT": int(os.environ.get("CACHE_TIMEOUT_SECONDS", str(24 * 60 * 60))),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses sign-ins while a username is locked out.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]

# Sign-in throttling: 5 failures for one username from one address lock that
# pair out for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "config.views.locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# django-axes keeps what failed sign-ins posted; never the codes.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# Two-factor sign-in (django-otp, TOTP with recovery codes; see
# docs/security.md). Clinical leads, staff and superusers must use it;
# TWO_FACTOR_FOR_CLINICIANS makes everyone use it. Wrong codes count
# towards the django-axes lockout above, so django-otp's own per-device
# delays are off: one rule, one message, for passwords and codes alike.
TWO_FACTOR_FOR_CLINICIANS = env_bool("TWO_FACTOR_FOR_CLINICIANS", False)
OTP_TOTP_ISSUER = "KetaScreen"
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# Client addresses, for sign-in lockouts and the audit trail, come from
# django-ipware. TRUSTED_PROXY_COUNT is the number of reverse proxies in front
# of gunicorn, each adding the address it was reached from to the end of
# X-Forwarded-For (nginx: `proxy_add_x_forwarded_for`). With 0 (the default)
# the header is ignored and the address is the connection's own. With N, the
# client's address is the N-th entry from the right: whatever a client wrote
# further left is never believed. django-ipware counts the proxies after the
# client in the header, hence N - 1; "not strict" takes that entry however
# many a client put before it.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")


def ipware_settings(trusted_proxy_count):
    """django-axes' django-ipware settings for a number of trusted proxies;
    screening.audit.client_address reads the same ones."""
    if trusted_proxy_count == 0:
        return {
            "AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",),
            "AXES_IPWARE_PROXY_COUNT": None,
        }
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
        "AXES_IPWARE_PROXY_COUNT": trusted_proxy_count - 1,
    }


AXES_IPWARE_PROXY_ORDER = "left-most"
AXES_IPWARE_META_PRECEDENCE_ORDER = ipware_settings(TRUSTED_PROXY_COUNT)["AXES_IPWARE_META_PRECEDENCE_ORDER"]
AXES_IPWARE_PROXY_COUNT = ipware_settings(TRUSTED_PROXY_COUNT)["AXES_IPWARE_PROXY_COUNT"]
IPWARE_STRICT = False

# Sessions live in the database and are read through the cache: a signed-in
# request reads its session from the cache, and only a miss reaches the
# database. Any number of app servers share them (with REDIS_URL set).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Sessions end after 30 idle minutes: requests move the expiry on (at most
# once a minute, see config.middleware.idle_session_expiry).
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_IDLE_MINUTES", "30")) * 60
SESSION_REFRESH_SECONDS = 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/screenings/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Bootstrap is served from the xstatic package, never from a CDN: the app has
# to work on a closed clinic network.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("bootstrap", xstatic.pkg.bootstrap.BASE_DIR),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# In development (and tests) WhiteNoise serves straight from the finders, so
# collectstatic is only needed in production.
WHITENOISE_USE_FINDERS = DEBUG

MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
MEDIA_URL = "media/"

# PDFs: each user may start this many draft renders a minute (a draft's PDF
# is cached per revision, so downloading one again costs nothing), and a
# render running longer than this is stopped with an error, so one request
# never holds a worker for long.
PDF_DRAFT_RENDERS_PER_MINUTE = int(os.environ.get("PDF_DRAFT_RENDERS_PER_MINUTE", "6"))
PDF_RENDER_TIMEOUT_SECONDS = float(os.environ.get("PDF_RENDER_TIMEOUT_SECONDS", "20"))

# Request bodies. No page takes a file, and the largest form (a knowledge-base
# page in the admin) posts well under a megabyte: a body declared larger than
# REQUEST_BODY_MAX_BYTES is refused with 413 before a byte of it is read
# (config.middleware.request_body_limited), so nothing is spooled to disk; Django
# itself refuses a form body over the same size, or a file, with 400. The
# reverse proxy should refuse it first (docs/deployment.md).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("REQUEST_BODY_MAX_BYTES", str(2 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
DATA_UPLOAD_MAX_NUMBER_FILES = 0

# What a new patient reference must look like (the form and `screen --save`;
# screening.models.new_patient_reference_validator). A regular expression the
# whole reference must match; the default asks for at least one digit, so a
# bare surname ("Smith") is refused. Whatever the pattern, a new reference
# never holds "/" or ".." (it is an identifier, not a path), nor a space or a
# control character (the model's own rule).
# The description is what the error message tells a clinician to write.
PATIENT_REFERENCE_PATTERN = os.environ.get(
    "PATIENT_REFERENCE_PATTERN", r"(?=[^0-9]*[0-9])[A-Za-z0-9][A-Za-z0-9._:#-]*"
)
try:
    re.compile(PATIENT_REFERENCE_PATTERN)
except re.error as error:
    raise ImproperlyConfigured(f"PATIENT_REFERENCE_PATTERN is not a regular expression: {error}.") from None
PATIENT_REFERENCE_DESCRIPTION = os.environ.get(
    "PATIENT_REFERENCE_DESCRIPTION",
    "letters and digits, with at least one digit, and - _ . : # (for example A-1027)",
)

# FHIR (docs/fhir.md): the base of every canonical URL and identifier system
# KetaScreen's resources carry. Set it to the site's own address, e.g.
# https://screen.example.org/fhir: a canonical names the questionnaire for
# ever, so it must not change with the host a request came in by.
FHIR_BASE_URL = os.environ.get("FHIR_BASE_URL", "http://localhost:8000/fhir").rstrip("/")

FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Security. In production (DEBUG off) cookies are secure and HTTPS is
# enforced; behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER too.
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The load balancer's health check arrives over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint reports every font and style step at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# The final screenings a rulebook preview compares (rulebook.publishing):
# the clinical record lives above the rulebook, which never imports it, so
# the project names the function that reads them.
RULEBOOK_PREVIEW_RECORDS = "screening.selectors.preview_records"
