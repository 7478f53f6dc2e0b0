# Kehu's production image: gunicorn for the web; the same image runs the Celery worker and beat.

# The source without local artefacts (the repository has no .dockerignore for these).
FROM python:3.11-slim AS source
COPY . /src
RUN rm -rf /src/.venv /src/var /src/.git /src/.ci /src/.pytest_cache /src/.ruff_cache \
    && find /src -name __pycache__ -type d -prune -exec rm -rf {} +

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KEHU_VAR_DIR=/app/var

# Pango and fonts for WeasyPrint PDFs (CJK for Chinese text), gettext for compilemessages.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fonts-noto-cjk gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY --from=source /src /app

# Static files and translations are built into the image. The key and database here exist only
# so that settings load during the build (DJANGO_ENV=production refuses a missing or short key).
RUN DJANGO_ENV=production \
    SECRET_KEY=build-only-not-a-secret-0123456789-abcdefghijklmnopqrstuvwxyz \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    FIELD_ENCRYPTION_KEYS=1:YnVpbGQtb25seS1ub3QtYS1zZWNyZXQtMDEyMzQ1Njc= \
    BLIND_INDEX_KEY=build-only-not-a-secret-blind-index-key \
    sh -c "python manage.py collectstatic --noinput && python manage.py compilemessages" \
    && rm -f /tmp/build.sqlite3

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin kehu \
    && mkdir -p /app/var \
    && chown -R kehu:kehu /app/var
USER kehu

EXPOSE 8000
CMD ["gunicorn", "finance.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-"]
