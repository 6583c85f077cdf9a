# The service image: the wheel built in a first stage, installed (not editable) in a slim final one.
# Production points DATABASE_URL at PostgreSQL >= 15.
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-cache-dir --disable-pip-version-check --no-deps --wheel-dir /dist .

FROM python:3.11.14-slim-bookworm
RUN useradd --system --create-home --uid 10001 helpdesk
COPY constraints.txt /tmp/constraints.txt
COPY --from=build /dist/ /tmp/dist/
# The wheel carries the migrations (app/migrations), so nothing of the source tree is needed here.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -c /tmp/constraints.txt /tmp/dist/*.whl \
 && rm -rf /tmp/dist /tmp/constraints.txt \
 && mkdir -p /srv/helpdesk/data && chown helpdesk /srv/helpdesk/data
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    HELPDESK_DATA_DIR=/srv/helpdesk/data
WORKDIR /srv/helpdesk
USER helpdesk
# Attachments on local storage, secret.key when HELPDESK_SECRET_KEY is unset, the embedded PostgreSQL.
VOLUME /srv/helpdesk/data
# The API; 2525 is the SMTP listener of `helpdesk worker --smtp`.
EXPOSE 8000 2525
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)"]
# DATABASE_URL and HELPDESK_SECRET_KEY come from the environment; run `helpdesk migrate` once per release.
CMD ["helpdesk", "serve", "--host", "0.0.0.0", "--port", "8000"]
