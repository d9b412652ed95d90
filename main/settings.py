"""Settings for LLM Metadata, read from the environment (see README's configuration table).

Every variable is read through a small helper that refuses a malformed value with
ImproperlyConfigured naming the variable, so a typo stops start-up instead of
silently falling back to a default.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

TRUE_VALUES = {"1", "true", "yes", "on"}
CACHE_TABLE = "llm_metadata_cache"  # created by migration 0004 (the database cache's table)
FALSE_VALUES = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/true/yes/on or 0/false/no/off, got {raw!r}"
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if not value > minimum:
        raise ImproperlyConfigured(f"{name} must be greater than {minimum}, got {value}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default).lower() or default
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def env_domains(name: str) -> list[str]:
    """A comma list of e-mail domains (example.com), lower-cased; refuses anything else."""
    domains = [domain.lower() for domain in env_list(name)]
    for domain in domains:
        labels = domain.split(".")
        if len(labels) < 2 or not all(DOMAIN_LABEL.match(label) for label in labels):
            raise ImproperlyConfigured(
                f"{name} must be a comma list of domains like example.com, got {domain!r}"
            )
    return domains


def env_url(name: str) -> str:
    value = env_str(name).rstrip("/")
    if value:
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {value!r}")
    return value


# --- Core -------------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY to a long random string, "
            "or set DEBUG=1 for local development (which uses a development key)."
        )
    SECRET_KEY = "django-insecure-development-key-only-for-debug"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1")


def trusted_origins(entries: list[str], debug: bool) -> list[str]:
    """Origins as Django wants them: a bare host means https://host (and http://host in DEBUG)."""
    origins = []
    for entry in entries:
        if "://" in entry:
            if not entry.startswith(("http://", "https://")) or entry.endswith("://"):
                raise ImproperlyConfigured(
                    f"CSRF_TRUSTED_ORIGINS entries are hosts or http(s) origins, got {entry!r}"
                )
            origins.append(entry)
        elif not entry or "/" in entry:
            raise ImproperlyConfigured(
                f"CSRF_TRUSTED_ORIGINS entries are hosts or http(s) origins, got {entry!r}"
            )
        else:
            origins += [f"https://{entry}", *([f"http://{entry}"] if debug else [])]
    return origins


CSRF_TRUSTED_ORIGINS = trusted_origins(
    env_list("CSRF_TRUSTED_ORIGINS", "localhost,127.0.0.1"), DEBUG
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "allauth.socialaccount.providers.github",
    "csp",
    "llm_metadata",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "llm_metadata.body_limit.BodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # Synchronous only, and last: the chain then runs in one thread per request (see its class).
    "llm_metadata.middleware.UserTimezoneMiddleware",
]
if env_bool("BENCH_TIMING", False):
    # Benchmarks only (bench/): a Server-Timing header with the request's time and SQL count.
    MIDDLEWARE.insert(0, "llm_metadata.middleware_timing.ServerTimingMiddleware")

ROOT_URLCONF = "main.urls"
WSGI_APPLICATION = "main.wsgi.application"
ASGI_APPLICATION = "main.asgi.application"

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
                "llm_metadata.context_processors.llm_endpoint",
                "llm_metadata.context_processors.signup",
            ],
        },
    },
    {
        # The per-message partials only (templates/jinja2/): see llm_metadata/jinja_env.py.
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "llm_metadata.jinja_env.environment"},
    },
]

# --- Database ---------------------------------------------------------------------------------


def parse_database_url(name: str, url: str) -> dict:
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:  # dj-database-url raises several types for a bad URL
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if not config.get("ENGINE"):
        raise ImproperlyConfigured(f"{name} has an unsupported scheme: {url!r}")
    return config


def postgres_options(config: dict) -> None:
    """A bounded psycopg pool per worker; behind PgBouncer in transaction mode, no server-side
    cursors and no prepared statements (both live on one server connection, which PgBouncer
    hands to another client after every transaction)."""
    # Under ASGI each request runs in a thread of its own, so persistent connections would
    # pile up; psycopg's pool shares a bounded set of connections between them.
    config["CONN_MAX_AGE"] = 0
    options = config.setdefault("OPTIONS", {})
    options["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_SIZE", 10, minimum=1),
        "timeout": 10,
    }
    if DATABASE_PGBOUNCER:
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        options["prepare_threshold"] = None


DATABASE_PGBOUNCER = env_bool("DATABASE_PGBOUNCER", False)
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
_db = parse_database_url("DATABASE_URL", DATABASE_URL)

if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run while a turn is written; synchronous=NORMAL makes each commit
    # one fsync-free append instead of two synced writes (the seed lost half its turn time here).
    # Writers queue for SQLite's one write lock (IMMEDIATE: at BEGIN, where the wait applies);
    # when hundreds of chats start at once the queue can pass 5 s, so a writer waits up to 20 s.
    _db["OPTIONS"] = {
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
elif _db["ENGINE"] == "django.db.backends.postgresql":
    postgres_options(_db)
DATABASES = {"default": _db}
# A read replica for analytics and bulk exports (llm_metadata.db_routing); the primary otherwise.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = parse_database_url("DATABASE_REPLICA_URL", DATABASE_REPLICA_URL)
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        postgres_options(DATABASES["replica"])
    # A replica is migrated by replication, and in tests it stands for the primary's copy.
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["llm_metadata.db_routing.PrimaryRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and sessions -----------------------------------------------------------------------

# Everything the app counts or caches (allauth's rate limits, the model list, the per-user
# counters of llm_metadata.counters) goes through this cache, so it must be shared by every
# worker process: Redis when REDIS_URL is set (and by every server), else a table in the
# database (shared by every process and server that use the same database).
REDIS_URL = env_str("REDIS_URL")
CACHE_KEY_PREFIX = env_str("CACHE_KEY_PREFIX")
if REDIS_URL:
    if urlparse(REDIS_URL).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured("REDIS_URL must be a redis://, rediss:// or unix:// URL")
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            # A Redis that stops answering fails the request quickly instead of hanging it.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    # Sessions read from Redis, written through to the database (they survive a Redis restart).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": CACHE_TABLE,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }

# --- Auth (django-allauth) --------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "llm_metadata:ask"
ACCOUNT_LOGOUT_REDIRECT_URL = "llm_metadata:home"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION", "optional", ("none", "optional", "mandatory")
)
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_GET = False
# allauth counts these in Django's cache ("default"): per process with the local-memory cache,
# shared by every worker and server once the cache is (REDIS_URL). /admin/login/ redirects here,
# so the admin's login is limited too (main/urls.py).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# Who may sign up (llm_metadata/accounts.py): open, or closed (only admins create accounts);
# and, when set, only addresses at these domains (also for social signups).
ACCOUNT_SIGNUP = env_choice("ACCOUNT_SIGNUP", "open", ("open", "closed"))
SIGNUP_EMAIL_DOMAINS = env_domains("SIGNUP_EMAIL_DOMAINS")
ACCOUNT_ADAPTER = "llm_metadata.accounts.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "llm_metadata.accounts.SocialAccountAdapter"

SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
for _provider in ("google", "github"):
    _id = env_str(f"{_provider.upper()}_CLIENT_ID")
    _secret = env_str(f"{_provider.upper()}_CLIENT_SECRET")
    if bool(_id) != bool(_secret):
        raise ImproperlyConfigured(
            f"{_provider.upper()}_CLIENT_ID and {_provider.upper()}_CLIENT_SECRET "
            "must be set together"
        )
    if _id:
        SOCIALACCOUNT_PROVIDERS[_provider] = {"APPS": [{"client_id": _id, "secret": _secret}]}
SOCIALACCOUNT_PROVIDERS.setdefault("google", {}).setdefault("SCOPE", ["profile", "email"])

# --- E-mail -----------------------------------------------------------------------------------

EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_HOST = env_str("EMAIL_HOST", "smtp.gmail.com")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or EMAIL_HOST_USER or "webmaster@localhost"
if EMAIL_HOST_USER and EMAIL_HOST_PASSWORD:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- LLM endpoint -----------------------------------------------------------------------------

API_URL = env_url("API_URL")
API_KEY = env_str("API_KEY")
API_KIND = env_choice("API_KIND", "openai", ("openai", "ollama"))
API_MODELS = env_list("API_MODELS")
API_TIMEOUT = env_float("API_TIMEOUT", 120.0)  # per read: the first byte, each stall after it
API_MAX_DURATION = env_float("API_MAX_DURATION", 600.0)  # one whole answer
# Calls open at once to the endpoint from each worker (streams past it wait for a connection).
API_MAX_CONNECTIONS = env_int("API_MAX_CONNECTIONS", 1000, minimum=1)
# Stream starts let into each worker at a time (llm_metadata/start_gate.py; 0 = no gate): a
# burst of chats queues on the event loop instead of as hundreds of request threads.
STREAM_STARTS_AT_ONCE = env_int("STREAM_STARTS_AT_ONCE", 8)

# --- Limits per user (llm_metadata/limits.py) --------------------------------------------------

# Model calls per user per minute on every path that calls a model (0 = off), and tokens
# (prompt + completion) per user per day and per month in the user's time zone (0 = no budget).
# The admin overrides each per user and per group.
RATE_LIMIT_PER_MINUTE = env_int("RATE_LIMIT_PER_MINUTE", 30)
TOKEN_BUDGET_PER_DAY = env_int("TOKEN_BUDGET_PER_DAY", 0)
TOKEN_BUDGET_PER_MONTH = env_int("TOKEN_BUDGET_PER_MONTH", 0)

# --- Files ------------------------------------------------------------------------------------

# A request body over MAX_UPLOAD_MB (+1 MB for the form's fields) is refused with 413 before it
# is read (llm_metadata/body_limit.py). DATA_UPLOAD_MAX_MEMORY_SIZE caps only the fields (not
# the files) that Django reads into memory; FILE_UPLOAD_MAX_MEMORY_SIZE is where an upload moves
# from memory to a temporary file.
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 30, minimum=1)
# Text kept from one uploaded file (about 125,000 tokens); the rest is cut with a note.
MAX_FILE_TEXT_CHARS = env_int("MAX_FILE_TEXT_CHARS", 500_000, minimum=1000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "media")
MEDIA_URL = "/media/"

# --- Static files -----------------------------------------------------------------------------

# WhiteNoise hands Django's ASGI handler plain file iterators, which it reads in a thread and
# warns about on every static request; that is the intended path for small hashed files.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators", category=Warning
)

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Uploads in S3 or an S3-compatible server (django-storages) when a bucket is named. Objects are
# private: the app streams each attachment to its owner after checking who asks.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env_url("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 60,
            "file_overwrite": False,
            # A download is spooled to a temporary file past this size, not held in memory.
            "max_memory_size": FILE_UPLOAD_MAX_MEMORY_SIZE,
        },
    }

# --- Internationalisation ---------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security ---------------------------------------------------------------------------------

SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp 4): scripts and styles only from our own static files,
# never inline (templates use classes from static/css/app.css); Bootstrap's CSS draws its icons
# as data: SVG images. form-action also governs where a form's redirect may go, so a social
# provider's sign-in page is allowed once that provider is configured.
_SOCIAL_ORIGINS = {"google": "https://accounts.google.com", "github": "https://github.com"}
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": [
            "'self'",
            *(
                _SOCIAL_ORIGINS[name]
                for name, conf in SOCIALACCOUNT_PROVIDERS.items()
                if "APPS" in conf
            ),
        ],
    }
}
# /healthz is probed over plain HTTP by load balancers and PaaS routers.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Logging ----------------------------------------------------------------------------------

LOG_LEVEL = env_choice("LOG_LEVEL", "info", ("debug", "info", "warning", "error")).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # No log line carries the endpoint's credentials (API_KEY, or any in API_URL).
    "filters": {
        "credentials": {
            "()": "llm_metadata.llm.redact.CredentialsFilter",
            "url": API_URL,
            "key": API_KEY,
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["credentials"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"llm_metadata": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}},
}

# --- System checks ----------------------------------------------------------------------------

SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a commitment only the operator can make (submitting the domain to the
    # browsers' list); it is opt-in with SECURE_HSTS_PRELOAD=1, so the deploy check stays quiet.
    "security.W021",
]
