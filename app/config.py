from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_DB_", extra="ignore")

    # Small on purpose: more transactions in flight than cores only queue up inside PostgreSQL.
    pool_size: int = Field(4, ge=1, le=200)
    max_overflow: int = Field(4, ge=0, le=200)
    pool_timeout_seconds: float = Field(10.0, gt=0)
    statement_timeout_ms: int = Field(30_000, ge=0)
    # What DATABASE_URL points at: PostgreSQL itself, or a PgBouncer pooling transactions (no
    # prepared statement outlives its transaction, and no setting but the few PgBouncer tracks
    # travels in the startup packet).
    pooler: Literal["none", "pgbouncer_transaction"] = "none"


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_WEBHOOK_", extra="ignore")

    allow_http: bool = False
    # Comma-separated networks that webhooks may reach although they are private (e.g. 10.0.0.0/8).
    allowed_networks: str = ""
    timeout_seconds: float = Field(15.0, gt=0, le=60)
    disable_after_days: float = Field(5.0, gt=0)
    secret_grace_hours: float = Field(24.0, ge=0)
    max_in_flight_per_endpoint: int = Field(4, ge=1, le=100)


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_WORKER_", extra="ignore")

    # Run the worker inside `helpdesk serve`: "auto" does so on the embedded database only.
    in_api: str = Field("auto", pattern="^(auto|true|false)$")
    poll_seconds: float = Field(1.0, gt=0, le=60)
    concurrency: int = Field(64, ge=1, le=1000)
    lease_seconds: float = Field(60.0, ge=5)
    # Tickets waiting in a group are handed out on this beat, and at once when an agent becomes available.
    assignment_seconds: float = Field(5.0, gt=0, le=300)
    # SLA warnings and breaches are looked for on this beat: they go out at most this late.
    sla_seconds: float = Field(10.0, gt=0, le=50)
    # Automations act on the tickets whose time has come on this beat: at most this late.
    automation_seconds: float = Field(30.0, gt=0, le=300)
    shutdown_grace_seconds: float = Field(20.0, ge=0)
    # Inbound channel messages threaded at once per worker (each in its own transaction).
    inbound_concurrency: int = Field(4, ge=1, le=64)
    # A loop whose round runs longer than this (or whose wait outlasts its interval by this) is stalled.
    stalled_round_seconds: float = Field(300.0, gt=0)
    # /readyz fails while the oldest event not yet fanned out to webhooks is older than this.
    ready_max_outbox_lag_seconds: float = Field(300.0, gt=0)
    # `helpdesk worker` serves /metrics, /livez and /readyz on this port (none when unset).
    metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"


class AttachmentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_ATTACHMENT_", extra="ignore")

    max_file_bytes: int = Field(25 * 1024 * 1024, ge=1)
    max_files_per_comment: int = Field(20, ge=1, le=100)
    # Uploads not referenced by a comment within this time are deleted with their bytes.
    unattached_ttl_hours: float = Field(24.0, gt=0)
    # A file linked from a channel's message (Messenger, Zalo, chat by URL) must download within this.
    download_timeout_seconds: float = Field(60.0, gt=0, le=600)
    # Where the bytes are kept: `local`, files under the data directory; `s3`, a bucket (HELPDESK_S3_*).
    storage: Literal["local", "s3"] = "local"


class PrivacySettings(BaseSettings):
    """Customers' exports and erasures (app/privacy)."""

    model_config = SettingsConfigDict(env_prefix="HELPDESK_PRIVACY_", extra="ignore")

    # How long an export's archive may be downloaded; then it is deleted.
    export_ttl_hours: float = Field(72.0, gt=0, le=24 * 30)
    # Rows an erasure or a retention handles in one transaction.
    batch_size: int = Field(500, ge=1, le=10_000)


class S3Settings(BaseSettings):
    """The bucket of attachments on S3 or an S3-compatible server (MinIO, Ceph, ...).

    Frozen, so that it can name the one client a process keeps for it.
    """

    model_config = SettingsConfigDict(env_prefix="HELPDESK_S3_", extra="ignore", frozen=True)

    bucket: str = ""
    # An S3-compatible server's URL (http://minio:9000); empty: AWS's endpoint for the region.
    endpoint_url: str = ""
    region: str = "us-east-1"
    # Both empty: the credentials botocore finds itself (AWS_* variables, a profile, an instance role).
    access_key_id: str = ""
    secret_access_key: SecretStr = SecretStr("")
    # Put before every object's name, e.g. `helpdesk/attachments/`.
    prefix: str = ""
    # http://host/bucket/key rather than http://bucket.host/key: what most self-hosted servers want.
    force_path_style: bool = False
    # Downloads answered with a redirect to a short-lived signed URL of the object, rather than streamed
    # through the API.
    presigned_downloads: bool = False
    presign_seconds: int = Field(300, ge=1, le=7 * 24 * 3600)
    # Each connection to the server and each read from it; failed calls are tried up to three times.
    timeout_seconds: float = Field(30.0, gt=0, le=600)
    # Connections a process keeps to the server: every download streamed through the API holds one.
    max_connections: int = Field(64, ge=1, le=1000)

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            raise ValueError(f"{value!r} is not an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _both_keys_or_neither(self) -> Self:
        if bool(self.access_key_id) != bool(self.secret_access_key.get_secret_value()):
            raise ValueError("the access key id and the secret access key go together")
        return self


class EmailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_EMAIL_", extra="ignore")

    # The largest mail accepted, by the SMTP listener or POST /v1/channels/{id}/email.
    max_message_bytes: int = Field(40 * 1024 * 1024, ge=1024)
    # The most the files of one reply sent by email may weigh together: mail servers refuse larger
    # messages (commonly at 25 MB, and base64 makes files a third larger on the way).
    max_outgoing_bytes: int = Field(20 * 1024 * 1024, ge=1)
    # Workers started with `helpdesk worker --smtp`, or with this set, receive mail by SMTP.
    listen: bool = False
    listen_host: str = "127.0.0.1"
    listen_port: int = Field(2525, ge=0, le=65535)


class MacroSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_MACRO_", extra="ignore")

    # Templates rendered at once by one API or worker process (each in a process of its own), and
    # of those at most this many for one workspace.
    render_concurrency: int = Field(2, ge=1, le=64)
    render_concurrency_per_workspace: int = Field(1, ge=1, le=64)


class RateLimitSettings(BaseSettings):
    """Token buckets kept by each API process: a bucket holds `burst` requests and refills at
    `per_minute`, so a caller may send `burst` at once and `per_minute` a minute after that."""

    model_config = SettingsConfigDict(env_prefix="HELPDESK_RATE_LIMIT_", extra="ignore")

    enabled: bool = True
    # Each API key, or each agent acting through agent tokens.
    credential_per_minute: int = Field(400, ge=1)
    credential_burst: int = Field(100, ge=1)
    # All the credentials of a workspace together, unless the workspace has a limit of its own.
    workspace_per_minute: int = Field(700, ge=1)
    workspace_burst: int = Field(200, ge=1)
    # Requests whose credentials are refused (401), per client address.
    failed_auth_per_minute: int = Field(20, ge=1)
    failed_auth_burst: int = Field(20, ge=1)
    # What customers ask of the portal (/v1/portal), per client address.
    portal_per_minute: int = Field(120, ge=1)
    portal_burst: int = Field(60, ge=1)
    # What a channel receives (messages, provider events, mail, calls, uploads), per channel.
    channel_per_minute: int = Field(3000, ge=1)
    channel_burst: int = Field(300, ge=1)
    # How long a process keeps a workspace's own limit before reading it again.
    workspace_cache_seconds: float = Field(60.0, ge=0)


class PortalSettings(BaseSettings):
    """What customers open without an account: a ticket's link, and their list of tickets by email."""

    model_config = SettingsConfigDict(env_prefix="HELPDESK_PORTAL_", extra="ignore")

    # Where customers open the pages of the portal: a ticket's link is `{public_base_url}/t/{token}`,
    # the list sent by email `{public_base_url}/my/{token}`.
    public_base_url: str = "http://localhost:8000"
    # A ticket's link stops opening it this long after the ticket closed.
    link_days_after_close: float = Field(30.0, gt=0)
    # How long the link sent by email opens a contact's list (once), and the session it gives lasts.
    access_link_minutes: int = Field(15, ge=1, le=24 * 60)
    session_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    # Links sent to one email address, and requests of one client address (per minute), at most.
    access_per_address_per_hour: int = Field(5, ge=1)
    access_per_client_per_minute: int = Field(10, ge=1)

    @field_validator("public_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"{value!r} is not an http:// or https:// URL without query or fragment")
        return value.rstrip("/")


class CustomerPagesSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HELPDESK_PAGES_", extra="ignore")

    # The time zone the customer pages (/t/…, /my/…) show times in.
    time_zone: str = "Asia/Ho_Chi_Minh"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a time zone of the IANA database") from exc
        return value


class CorsSettings(BaseSettings):
    """Which browser pages, by origin, may call the API (CORS). The API authenticates with bearer
    credentials, never cookies, so a page needs no credentials mode to call it."""

    model_config = SettingsConfigDict(env_prefix="HELPDESK_CORS_", extra="ignore")

    # Comma-separated origins (`scheme://host[:port]`), or `*` for any. Empty: no CORS headers at all.
    allowed_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Let pages send cookies and HTTP authentication; never with `*`, which would open every
    # visitor's session to any site.
    allow_credentials: bool = False
    # How long a browser may keep a preflight's answer.
    max_age_seconds: int = Field(600, ge=0, le=86_400)

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        # Browsers send the origin in lower case, and the middleware compares it as a string.
        checked = [_origin(origin) for origin in origins]
        if "*" in checked and len(checked) > 1:
            raise ValueError("* allows every origin: it stands alone")
        return checked

    @model_validator(mode="after")
    def _no_credentials_for_everyone(self) -> Self:
        if self.allow_credentials and "*" in self.allowed_origins:
            raise ValueError("allow_credentials needs the origins named: it cannot go with *")
        return self


def _origin(value: str) -> str:
    """`value` as an origin a browser sends (`scheme://host[:port]`, lower case), or `*`."""
    if value == "*":
        return value
    origin = value.lower()
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an origin: {exc}") from exc
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or port == 0
        or f"{parts.scheme}://{parts.netloc}" != origin
    ):
        raise ValueError(f"{value!r} is not an origin: scheme://host[:port], no path and no trailing slash")
    if (parts.scheme, port) in (("http", 80), ("https", 443)):
        # Browsers leave the scheme's own port out of the origin they send.
        return origin.rsplit(":", 1)[0]
    return origin


# Several secret keys are listed newest first, separated by this (see `split_secret_keys`).
SECRET_KEY_SEPARATOR = ","  # noqa: S105 - a separator, not a secret


def split_secret_keys(value: str) -> list[str]:
    """The keys of a HELPDESK_SECRET_KEY (or key file) value, newest first, each exactly as written.

    A key is never trimmed: its characters are its key material, so `B, A` would make ` A` a key unlike
    `A`, and every secret encrypted under `A` unreadable. Such a list is refused instead."""
    keys = value.split(SECRET_KEY_SEPARATOR)
    if any(not key for key in keys):
        raise ValueError("an empty key: separate the keys with single commas, newest first")
    if any(key != key.strip() for key in keys):
        raise ValueError("a key begins or ends with whitespace: separate the keys with commas alone")
    if len(set(keys)) != len(keys):
        raise ValueError("a key is listed twice")
    return keys


class TracingSettings(BaseSettings):
    """OpenTelemetry tracing, on when an OTLP endpoint is set by OpenTelemetry's own variables (the
    exporter reads them, with OTEL_EXPORTER_OTLP_HEADERS and the rest, itself)."""

    model_config = SettingsConfigDict(env_prefix="HELPDESK_TRACING_", extra="ignore")

    traces_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    # Empty: helpdesk-api for `helpdesk serve`, helpdesk-worker for `helpdesk worker`.
    service_name: str = Field("", validation_alias="OTEL_SERVICE_NAME")
    # The share of traces started here that are kept; a trace a caller started follows the caller's choice.
    sample_ratio: float = Field(1.0, ge=0, le=1)

    @property
    def enabled(self) -> bool:
        return bool(self.traces_endpoint or self.endpoint)


class Settings(BaseSettings):
    """Every setting of the service; each reads the environment variable named in the README."""

    # An error never shows the value it refused: it may be a secret key or a URL with its password.
    model_config = SettingsConfigDict(env_prefix="HELPDESK_", extra="ignore", hide_input_in_errors=True)

    # PostgreSQL URL (postgresql://... or postgresql+asyncpg://...). Empty: the embedded server.
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    # PostgreSQL itself, when DATABASE_URL is a pooler: what a transaction-pooling PgBouncer cannot
    # carry (LISTEN, migrations) goes here. Empty: DATABASE_URL.
    database_direct_url: str | None = None
    data_dir: Path = Path("./data")
    # Encrypts secrets at rest: one key, or several separated by commas, newest first (the newest
    # encrypts, each decrypts), while `helpdesk secrets rotate` moves everything to the newest.
    secret_key: SecretStr | None = None
    log_level: str = "info"
    # `json`: one JSON object per line, for a log collector.
    log_format: Literal["text", "json"] = "text"
    default_phone_region: str = Field("VN", min_length=2, max_length=2)
    idempotency_ttl_hours: int = Field(24, ge=1)
    # The largest request body of a route without files (with files: the attachment limits).
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    agent_token_max_ttl_minutes: int = Field(24 * 60, ge=1)
    agent_token_secret_grace_minutes: int = Field(60, ge=0)
    # How long a stream token (POST /v1/events/stream-token) may open the live stream after it is made.
    stream_token_ttl_seconds: int = Field(300, ge=10, le=3600)
    event_retention_days: float = Field(30.0, gt=0)
    # How far behind the present the incremental export of tickets stays: room for the clocks of the
    # API processes (which stamp new tickets) to differ from the database's.
    export_margin_seconds: float = Field(5.0, ge=0, le=300)
    # On SIGTERM, how long `helpdesk serve` lets running requests finish before it cuts their
    # connections (live streams end at once).
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    # The longest a request's body may take to arrive, counted from the request's start: past it the
    # request is refused (408) and its connection closed, so a slow sender holds nothing longer.
    request_timeout_seconds: float = Field(60.0, gt=0)
    # When set, /metrics (of the API and of workers) answers only `Authorization: Bearer <this token>`.
    metrics_token: SecretStr | None = None
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    attachment: AttachmentSettings = Field(default_factory=AttachmentSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    macro: MacroSettings = Field(default_factory=MacroSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)
    pages: CustomerPagesSettings = Field(default_factory=CustomerPagesSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)

    @field_validator("secret_key")
    @classmethod
    def _secret_keys_are_listed_well(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            split_secret_keys(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _bucket_for_s3(self) -> Self:
        if self.attachment.storage == "s3" and not self.s3.bucket:
            raise ValueError("HELPDESK_ATTACHMENT_STORAGE=s3 needs HELPDESK_S3_BUCKET")
        return self

    @model_validator(mode="after")
    def _direct_url_behind_a_pooler(self) -> Self:
        if self.db.pooler != "none" and not self.database_direct_url:
            raise ValueError(
                "HELPDESK_DB_POOLER needs HELPDESK_DATABASE_DIRECT_URL: LISTEN and migrations cannot go "
                "through a transaction-pooling PgBouncer"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
