"""Files that customers' messages link to, downloaded by the worker before the message is threaded.

Providers' links expire (Messenger's and Zalo's CDN URLs within days), so the bytes are kept like any
attachment's. A file that cannot be downloaded never holds up or loses its message: the link stays in
the comment's body with the reason. The URLs are checked like every outbound request: no internal
addresses, however the customer or a redirect names them.
"""

from dataclasses import dataclass, replace
from urllib.parse import unquote, urlsplit

import filetype
import httpx

from app.attachments.service import clean_filename
from app.channels.incoming import Incoming, IncomingFile, RemoteFile
from app.config import AttachmentSettings
from app.webhooks.outbound import OutboundPolicy, ResponseTooLarge, UnsafeDestination, safe_get


@dataclass(frozen=True)
class Downloader:
    client: httpx.AsyncClient
    policy: OutboundPolicy
    limits: AttachmentSettings

    async def fetch(self, message: Incoming) -> Incoming:
        """The message with its remote files among its files; those that could not be kept are named in
        its body instead."""
        if not message.remote_files:
            return message
        files = list(message.files)
        notes: list[str] = []
        room = self.limits.max_files_per_comment - len(files) - len(message.upload_tokens)
        for remote in message.remote_files:
            if room <= 0:
                notes.append(f"[{remote.kind} not kept, over the limits: {remote.url}]")
                continue
            data, reason = await self._download(remote.url)
            if data is None:
                notes.append(f"[{remote.kind} not downloaded ({reason}): {remote.url}]")
                continue
            files.append(IncomingFile(_filename(remote, data), data))
            room -= 1
        body = "\n\n".join(part for part in (message.body, "\n".join(notes)) if part)
        return replace(message, body=body, files=tuple(files), remote_files=())

    async def _download(self, url: str) -> tuple[bytes | None, str]:
        try:
            answer = await safe_get(
                self.client,
                url,
                max_bytes=self.limits.max_file_bytes,
                timeout=self.limits.download_timeout_seconds,
                policy=self.policy,
            )
        except UnsafeDestination as refused:
            return None, str(refused).rstrip(".")
        except ResponseTooLarge:
            return None, f"larger than {self.limits.max_file_bytes} bytes"
        except httpx.HTTPError as error:
            return None, f"{type(error).__name__}: {error}"[:200]
        if not answer.is_success:
            return None, f"the server answered {answer.status_code}"
        return answer.content, ""


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
