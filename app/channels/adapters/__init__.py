"""The adapter of each kind of channel. A new provider is one adapter module, registered here."""

from app.channels.adapters.base import ChannelAdapter
from app.channels.adapters.chat import ChatAdapter
from app.channels.adapters.mail.adapter import EmailAdapter
from app.channels.adapters.messenger import MessengerAdapter
from app.channels.adapters.zalo import ZaloAdapter
from app.models.enums import ChannelKind

_ADAPTERS: dict[ChannelKind, ChannelAdapter] = {
    adapter.kind: adapter
    for adapter in (
        ChatAdapter(ChannelKind.chat),
        ChatAdapter(ChannelKind.api),
        MessengerAdapter(),
        ZaloAdapter(),
        EmailAdapter(),
    )
}


def adapter_for(kind: ChannelKind) -> ChannelAdapter:
    return _ADAPTERS[kind]
