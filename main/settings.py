"""Settings for LLM Metadata, read from the environment (see README's configuration table).

Every variable is read through a small helper that refuses a malformed value with
ImproperlyConfigured naming the variable, so a typo stops start-up instead of
silently falling back to a default.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

TRUE_VALUES = {"1", "true", "yes", "on"}
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
    "llm_metadata",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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

DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
try:
    _db = dj_database_url.parse(DATABASE_URL)
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if not _db.get("ENGINE"):
    raise ImproperlyConfigured(f"DATABASE_URL has an unsupported scheme: {DATABASE_URL!r}")

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
    # Under ASGI each request runs in a thread of its own, so persistent connections would
    # pile up; psycopg's pool shares a bounded set of connections between them.
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_SIZE", 10, minimum=1),
        "timeout": 10,
    }
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

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
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}

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
API_TIMEOUT = env_float("API_TIMEOUT", 120.0)

# --- Files ------------------------------------------------------------------------------------

MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 30, minimum=1)
# Requests may carry the file plus the form; uploads above this go to a temporary file.
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
X_FRAME_OPTIONS = "DENY"
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
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"llm_metadata": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}},
}

# --- System checks ----------------------------------------------------------------------------

SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a commitment only the operator can make (submitting the domain to the
    # browsers' list); it is opt-in with SECURE_HSTS_PRELOAD=1, so the deploy check stays quiet.
    "security.W021",
]
