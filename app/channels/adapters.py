"""Each channel kind's adapter: `incoming` turns a stored event into an `Incoming`, `send` a reply out."""

from types import ModuleType

from app.channels import chat, mail, messenger, zalo
from app.models.enums import ChannelKind

ADAPTERS: dict[ChannelKind, ModuleType] = {
    ChannelKind.chat: chat,
    ChannelKind.api: chat,
    ChannelKind.messenger: messenger,
    ChannelKind.zalo: zalo,
    ChannelKind.email: mail,
}
