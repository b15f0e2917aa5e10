# syntax=docker/dockerfile:1
# One image for every process: api (the default CMD), worker and relay (compose overrides the
# command). Build: docker build -t loyalty-platform:$(git rev-parse --short HEAD) .

# --- builder: resolve and install into a virtualenv ---------------------------------------------
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so a code change does not re-download them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# Then the project itself (its dependencies are already there).
COPY . .
RUN pip install --no-deps . \
    && python -m compileall -q /opt/venv

# --- runtime ----------------------------------------------------------------------------------
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8080

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# The source tree too: manage.py, templates and static files are read from here.
COPY --chown=app:app . .
# Static files for the admin and portal, served by WhiteNoise from inside the app.
RUN SECRET_KEY=collectstatic-only-0123456789abcdef0123 python manage.py collectstatic --noinput -v 0 \
    && chown -R app:app /app/staticfiles

USER app

EXPOSE 8080

# /live answers while the process serves; worker and relay switch this off in compose.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/live' % os.environ.get('PORT', '8080'), timeout=4)"]

CMD ["gunicorn", "config.wsgi:application", "-c", "config/gunicorn.py"]
