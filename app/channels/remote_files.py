"""Files that customers' messages link to, downloaded by the worker before the message is threaded.

Providers' links expire (Messenger's and Zalo's CDN URLs within days), so the bytes are kept like any
attachment's. A failure that may pass (a timeout, a server error) puts the message off and tries again
later, a few times; after that, or at once for a failure that will not pass, the link stays in the
comment's body with the reason and the message goes on without the file. The URLs are checked like
every outbound request: no internal addresses, however the customer or a redirect names them.
"""

from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

import filetype
import httpx

from app.attachments.service import clean_filename
from app.channels.adapters.messages import AttachedFile, ParsedMessage, RemoteFile
from app.config import AttachmentSettings
from app.kit.outbound import OutboundPolicy, ResponseTooLarge, UnsafeDestination, safe_get
from app.kit.texts import content_name, text
from app.models.enums import Locale

# Tries of a message whose files could not be downloaded for a reason that may pass, before it goes on
# without them (the worker tries again after 5 s, 30 s, then 2 min).
TRIES = 4
_TRANSIENT_STATUSES = frozenset({408, 425, 429})


class DownloadPending(Exception):
    """A file could not be downloaded for now: the message is to be tried again later."""


@dataclass(frozen=True)
class Download:
    data: bytes | None
    # Why there is no data; and whether trying again later may help.
    reason: str = ""
    transient: bool = False


@dataclass(frozen=True)
class Downloader:
    client: httpx.AsyncClient
    policy: OutboundPolicy
    limits: AttachmentSettings

    async def fetch(self, message: ParsedMessage, *, last_try: bool, locale: Locale) -> ParsedMessage:
        """The message with its remote files among its files; those that could not be kept are named in
        its body instead, in the workspace's `locale`. Raises DownloadPending when one may download
        later, unless `last_try`."""
        if not message.remote_files:
            return message
        files = list(message.files)
        notes: list[str] = []
        room = self.limits.max_files_per_comment - len(files) - len(message.upload_tokens)
        for remote in message.remote_files:
            what = content_name(locale, remote.kind) or remote.kind
            if room <= 0:
                notes.append(text(locale, "file_over_limits", what=what, url=remote.url))
                continue
            download = await self._download(remote.url)
            if download.data is None:
                if download.transient and not last_try:
                    raise DownloadPending(f"{remote.url} could not be downloaded yet: {download.reason}")
                notes.append(
                    text(locale, "file_not_downloaded", what=what, reason=download.reason, url=remote.url)
                )
                continue
            files.append(AttachedFile(_filename(remote, download.data), download.data))
            room -= 1
        body = "\n\n".join(part for part in (message.body, "\n".join(notes)) if part)
        return replace(message, body=body, files=tuple(files), remote_files=())

    async def _download(self, url: str) -> Download:
        try:
            answer = await safe_get(
                self.client,
                url,
                max_bytes=self.limits.max_file_bytes,
                timeout=self.limits.download_timeout_seconds,
                policy=self.policy,
            )
        except UnsafeDestination as refused:
            return Download(None, str(refused).rstrip("."))
        except ResponseTooLarge:
            return Download(None, f"larger than {self.limits.max_file_bytes} bytes")
        except httpx.TooManyRedirects as error:
            return Download(None, str(error).rstrip("."))
        except httpx.HTTPError as error:
            return Download(None, f"{type(error).__name__}: {error}"[:200], transient=True)
        if not answer.is_success:
            transient = answer.status_code >= 500 or answer.status_code in _TRANSIENT_STATUSES
            return Download(None, f"the server answered {answer.status_code}", transient)
        return Download(answer.content)


def _filename(remote: RemoteFile, data: bytes) -> str:
    """The name the provider gave; else the URL's last segment; else the kind of file, with the
    extension its bytes show."""
    if remote.filename:
        return clean_filename(remote.filename)
    segment = unquote(urlsplit(remote.url).path.rsplit("/", 1)[-1])
    if "." in segment.strip("."):
        return clean_filename(segment)
    extension = filetype.guess_extension(data)
    return clean_filename(f"{remote.kind}.{extension}" if extension else remote.kind)
