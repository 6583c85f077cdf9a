"""The key that encrypts secrets at rest when HELPDESK_SECRET_KEY is not set: made once per data directory."""

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from app.config import Settings
from app.kit.crypto import SecretBox, load_secret_box


def _load_together(settings: Settings, starters: int) -> list[SecretBox]:
    """`load_secret_box` in `starters` threads released at the same moment."""
    released = threading.Barrier(starters)

    def start(_: int) -> SecretBox:
        released.wait()
        return load_secret_box(settings)

    with ThreadPoolExecutor(starters) as pool:
        return list(pool.map(start, range(starters)))


def test_processes_starting_together_on_a_fresh_data_dir_share_one_key(tmp_path: Path) -> None:
    """API processes started at once each load the key: the first makes it, and none fails or reads a
    key half written. Threads stand in for the processes, on one fresh directory after another."""
    for attempt in range(20):
        settings = Settings(secret_key=None, data_dir=tmp_path / f"data-{attempt}")
        boxes = _load_together(settings, 16)
        sealed = boxes[0].encrypt("bí mật")
        assert all(box.decrypt(sealed) == "bí mật" for box in boxes), "every process has the same key"
        assert [path.name for path in settings.data_dir.iterdir()] == ["secret.key"], "no file left behind"
