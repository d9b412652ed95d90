"""Loaded by pytest before Django reads its settings (`-p tests.environment` in pyproject).

Tests run the production settings (DEBUG off) over plain HTTP on 127.0.0.1, with a test-only
key, no configured LLM endpoint and uploads in a temporary folder; a variable already set in the
environment (DATABASE_URL, say) wins.
"""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="llm-metadata-test-media-"))
for name in ("API_URL", "API_KEY", "API_KIND", "API_MODELS", "API_TIMEOUT"):
    os.environ.pop(name, None)
