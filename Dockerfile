# The one image for every Dropguard process: web, worker, beat and migrations differ by command only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/dropguard

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir app && touch app/__init__.py && pip install . && pip uninstall -y dropguard && rm -r app

COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY app ./app
# Editable: the code finds alembic.ini, migrations/ and templates/ beside itself (app/paths.py).
# The code stays root-owned (read-only to the app); the directory itself is writable because beat
# keeps its schedule file in the working directory.
RUN pip install --no-deps -e . \
    && useradd --system --home-dir /srv/dropguard --shell /usr/sbin/nologin dropguard \
    && chown dropguard:dropguard /srv/dropguard

USER dropguard
EXPOSE 8000 9808
CMD ["dropguard", "serve", "--host", "0.0.0.0", "--port", "8000"]
