# The service image. Production points DATABASE_URL at PostgreSQL >= 15.
FROM python:3.11-slim
RUN useradd --system --create-home --uid 10001 helpdesk
WORKDIR /srv/helpdesk
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# Installed from the source tree, which keeps alembic.ini and migrations/ beside the code.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -c constraints.txt -e . \
 && mkdir -p /srv/helpdesk/data && chown helpdesk /srv/helpdesk/data
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    HELPDESK_DATA_DIR=/srv/helpdesk/data
USER helpdesk
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)"]
# DATABASE_URL and HELPDESK_SECRET_KEY come from the environment; run `helpdesk migrate` once per release.
CMD ["helpdesk", "serve", "--host", "0.0.0.0", "--port", "8000"]
