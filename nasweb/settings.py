"""nasweb settings, read from the environment.

DATABASE_URL selects PostgreSQL; without it an SQLite file (the embedded default).
REDIS_URL selects Redis for Celery and the channel layer; without it the channel
layer is in-process and an embedded worker runs tasks inside the server process.
"""

import warnings
from pathlib import Path

import plotly
from django.core.exceptions import ImproperlyConfigured

from .env import database_from_url, envbool, envint, envlist, envstr, redis_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("NASWEB_VAR_DIR") or BASE_DIR / "var")

DEBUG = envbool("DJANGO_DEBUG", False)
#: One switch for a deployment behind an HTTPS proxy (docker-compose sets it; `make run` leaves it off).
NASWEB_PRODUCTION = envbool("NASWEB_PRODUCTION", False)
SECRET_KEY = envstr("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if NASWEB_PRODUCTION or envbool("NASWEB_REQUIRE_SECRET", False):
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when NASWEB_PRODUCTION is on "
                                   "(50 or more random characters, e.g. from `openssl rand -base64 48`)")
    SECRET_KEY = "nasweb-insecure-development-key"
if NASWEB_PRODUCTION:
    if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is too weak for NASWEB_PRODUCTION: use 50 or more random "
                                   "characters (e.g. from `openssl rand -base64 48`)")
    if DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG must be off when NASWEB_PRODUCTION is on")
    # TLS ends at the proxy in front of daphne, which says so in X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = envint("NASWEB_HSTS_SECONDS", 31_536_000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("NASWEB_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("NASWEB_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "searches",
    "devices",
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
]

ROOT_URLCONF = "nasweb.urls"
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
            ],
        },
    },
]
WSGI_APPLICATION = None
ASGI_APPLICATION = "nasweb.asgi.application"

DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    SQLITE_PATH = Path(envstr("NASWEB_SQLITE_PATH") or BASE_DIR / "db.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            # WAL and immediate transactions let the embedded worker thread write
            # while requests read, without "database is locked" errors.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "searches:project_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# plotly.js is served from the pinned plotly package (no CDN: pages work offline).
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", Path(plotly.__file__).parent / "package_data")]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve straight from the app and static/ folders (no collectstatic needed for make run).
WHITENOISE_USE_FINDERS = True
# Without collectstatic there is no STATIC_ROOT yet; the finders serve everything.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(envstr("NASWEB_MEDIA_ROOT") or BASE_DIR / "media")
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
NASWEB_MAX_UPLOAD_BYTES = envint("NASWEB_MAX_UPLOAD_MB", 50, minimum=1) * 1024 * 1024

# --- Redis, Celery, Channels -------------------------------------------------------
REDIS_URL = redis_url(envstr("REDIS_URL"))
# Without Redis, tasks run on worker threads inside the server process.
NASWEB_EMBEDDED_WORKER = envbool("NASWEB_EMBEDDED_WORKER", not REDIS_URL)
NASWEB_EMBEDDED_THREADS = envint("NASWEB_EMBEDDED_THREADS", 1, minimum=1)

# channels-redis waits for a socket's next message with a 5 s blocking read on Redis
# (RedisChannelLayer.brpop_timeout); redis-py 8 gives every connection a 5 s socket timeout by
# default, so an idle socket's read timed out before Redis answered and the consumer died (1011).
# The client's timeout must outlast the blocking read: NASWEB_REDIS_SOCKET_TIMEOUT (default 30 s,
# at least 10) still bounds a read from a Redis that went away.
CHANNEL_REDIS_BLOCKING_READ_SECONDS = 5
NASWEB_REDIS_SOCKET_TIMEOUT = envint("NASWEB_REDIS_SOCKET_TIMEOUT", 30, minimum=2 * CHANNEL_REDIS_BLOCKING_READ_SECONDS)

# The channel layer carries the consumers' own channels, not the events: each server process reads
# the event log of the searches its sockets watch (searches/live_hub.py), so per event no layer sends a
# copy per socket (the core layer once did: bench/push_latency.py has the figures).
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": NASWEB_REDIS_SOCKET_TIMEOUT,
                           "socket_connect_timeout": 5, "socket_keepalive": True}],
                "prefix": envstr("NASWEB_CHANNEL_PREFIX", "nasweb"),
            },
        }
    }
else:
    # Only the consumers' own channels use it (events reach the sockets through searches/live_hub.py, and
    # nothing sends to a channel from a worker thread), so Channels' in-process layer as it is.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# The cache holds the login throttle's and the API throttles' counts and the chart caches: shared by every
# web process when Redis is there. It shares that database with the broker and the event logs, so its
# clear() deletes only its own keys (nasweb/cache.py), not the whole database as Django's does.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "nasweb.cache.PrefixedRedisCache", "LOCATION": REDIS_URL,
                          "KEY_PREFIX": envstr("NASWEB_CHANNEL_PREFIX", "nasweb")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
NASWEB_LOGIN_FAILURES_PER_ADDRESS = envint("NASWEB_LOGIN_FAILURES_PER_ADDRESS", 5, minimum=1)
NASWEB_LOGIN_FAILURES_PER_USER = envint("NASWEB_LOGIN_FAILURES_PER_USER", 20, minimum=1)
NASWEB_LOGIN_WINDOW_SECONDS = envint("NASWEB_LOGIN_WINDOW_SECONDS", 900, minimum=1)

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers and the web reconnect to a restarted Redis: retry for ever, check idle connections.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_HEARTBEAT = 10
CELERY_BROKER_TRANSPORT_OPTIONS = {"health_check_interval": 10, "socket_keepalive": True,
                                   "retry_on_timeout": True, "socket_connect_timeout": 5}
CELERY_BROKER_POOL_LIMIT = 10
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Sending a task while Redis is down waits for it a while instead of failing the request at once.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 5, "interval_start": 0.5, "interval_step": 1, "interval_max": 3}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A queue prefix lets test runs share one Redis without seeing each other's tasks.
NASWEB_QUEUE_PREFIX = envstr("NASWEB_QUEUE_PREFIX")

# Recovery (searches/services/recovery.py). A trial's holder beats every HEARTBEAT seconds from a
# thread while it trains; a running trial whose heartbeat is older than STALE seconds is lost and goes
# back to the queue (resuming from its checkpoint), at most MAX_ATTEMPTS claims in all, then it fails
# and says why. A queued trial not claimed within RESEND seconds is sent again (its message was lost).
# The sweep that does this runs every SWEEP seconds (Celery beat, or a timer in the embedded worker).
NASWEB_TRIAL_HEARTBEAT_SECONDS = envint("NASWEB_TRIAL_HEARTBEAT_SECONDS", 3, minimum=1)
NASWEB_TRIAL_STALE_SECONDS = envint("NASWEB_TRIAL_STALE_SECONDS", 15, minimum=2)
if NASWEB_TRIAL_STALE_SECONDS < 2 * NASWEB_TRIAL_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(f"NASWEB_TRIAL_STALE_SECONDS={NASWEB_TRIAL_STALE_SECONDS} must be at least twice "
                               f"NASWEB_TRIAL_HEARTBEAT_SECONDS={NASWEB_TRIAL_HEARTBEAT_SECONDS}")
NASWEB_TRIAL_MAX_ATTEMPTS = envint("NASWEB_TRIAL_MAX_ATTEMPTS", 5, minimum=1)
NASWEB_TRIAL_RESEND_SECONDS = envint("NASWEB_TRIAL_RESEND_SECONDS", 60, minimum=1)
# Celery's trial workers share their slots fairly: each run_trial message takes the queued trial of the
# search whose turn it is (round robin across searches). Off: the old first-in-first-out order, where
# a search that queued 500 trials holds up the next one behind all of them (bench/fair_queues.py).
NASWEB_FAIR_QUEUES = envbool("NASWEB_FAIR_QUEUES", True)
NASWEB_SWEEP_SECONDS = envint("NASWEB_SWEEP_SECONDS", 5, minimum=1)
# A device measurement still running after this long is taken over by another claim.
NASWEB_MEASUREMENT_STALE_SECONDS = envint("NASWEB_MEASUREMENT_STALE_SECONDS", 900, minimum=10)
# Costs on hardware targets are measured for a search's top k trials by its first objective (and its
# Pareto front); any other trial on request from the device page.
NASWEB_MEASURE_TOP_K = envint("NASWEB_MEASURE_TOP_K", 5, minimum=0)
# Benchmark-table (lookup) trials are answered in batches inside the advance step rather than sent one
# by one to the workers (searches/services/lookups.py); off sends them to the workers like any trial.
NASWEB_LOOKUPS_IN_ADVANCE = envbool("NASWEB_LOOKUPS_IN_ADVANCE", True)
# Torch CPU threads per training process (0 = torch's default).
NASWEB_TORCH_THREADS = envint("NASWEB_TORCH_THREADS", 0, minimum=0)
#: Trained weights kept per search for export: the best k completed trials by the primary objective
#: (0 keeps none); the others are deleted when a trial completes. See searches/weights.py.
NASWEB_KEEP_WEIGHTS = envint("NASWEB_KEEP_WEIGHTS", 10, minimum=0)

# --- REST API (searches/api/) -------------------------------------------------------
# Token auth for scripts, session auth for the browser; every rate is per user (anonymous: per address).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "searches.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser", "rest_framework.parsers.MultiPartParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "searches.api.errors.json_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle",
                                 "rest_framework.throttling.UserRateThrottle",
                                 "rest_framework.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": envstr("NASWEB_API_ANON_RATE", "60/minute"),
        "user": envstr("NASWEB_API_USER_RATE", "3000/minute"),
        "tokens": envstr("NASWEB_API_TOKEN_RATE", "30/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "nasweb API",
    "DESCRIPTION": "Projects, searches and trials of nasweb; ask/tell for trials your own code trains.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("NASWEB_LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
