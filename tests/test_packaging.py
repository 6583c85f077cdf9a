"""The package as it is shipped: a wheel, installed (not editable) where the source tree is out of reach,
migrates a new database and serves it, ready."""

import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx

from tests.processes import free_port, service_env

SOURCE = Path(__file__).resolve().parent.parent
BUILD_SECONDS = 120


def build_wheel(work: Path) -> Path:
    """The wheel of a copy of the project, so that nothing left in the checkout (a build/ folder) gets in."""
    source = work / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(SOURCE / name, source / name)
    shutil.copytree(SOURCE / "app", source / "app", ignore=shutil.ignore_patterns("__pycache__"))
    dist = work / "dist"
    subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(source)],
        check=True,
        timeout=BUILD_SECONDS,
    )
    return next(dist.glob("helpdesk-*.whl"))


def install_into_new_venv(wheel: Path, venv: Path) -> Path:
    """A new virtual environment with the wheel installed; its dependencies are this environment's
    (a .pth line adds this site-packages, whose own .pth files — an editable install's — are not read)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)  # noqa: S603
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(  # noqa: S603 - our own command line
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.strip()
    )
    dependencies = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_packages / "dependencies.pth").write_text("\n".join(sorted(dependencies)) + "\n")
    subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
        check=True,
        timeout=BUILD_SECONDS,
    )
    return venv / "bin"


def test_the_installed_wheel_migrates_and_serves_ready(empty_database_url: str, tmp_path: Path) -> None:
    bin_dir = install_into_new_venv(build_wheel(tmp_path), tmp_path / "venv")
    # Run from an empty folder with no PYTHONPATH: `app` can only come from the installed wheel.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = service_env(
        empty_database_url, HELPDESK_DATA_DIR=str(tmp_path / "data"), HELPDESK_WORKER_IN_API="false"
    )
    env.pop("PYTHONPATH", None)
    installed_at = subprocess.run(  # noqa: S603 - our own command line
        [str(bin_dir / "python"), "-c", "import app; print(app.__file__)"],
        cwd=elsewhere,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert installed_at.startswith(str(tmp_path / "venv")), installed_at

    subprocess.run([str(bin_dir / "helpdesk"), "migrate"], cwd=elsewhere, env=env, check=True, timeout=120)  # noqa: S603

    port = free_port()
    command = [str(bin_dir / "helpdesk"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, cwd=elsewhere, env=env)  # noqa: S603 - our own command line
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"helpdesk serve exited with {process.returncode}"
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if answer.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the installed service did not become ready within 60 s"
            time.sleep(0.2)
        # The customer pages' templates and stylesheet are read from the installed package.
        unknown_link = httpx.get(f"http://127.0.0.1:{port}/t/not-a-token", timeout=5)
        assert unknown_link.status_code == 404 and "<h1>Không tìm thấy trang</h1>" in unknown_link.text
        stylesheet = httpx.get(f"http://127.0.0.1:{port}/pages/pages.css", timeout=5)
        assert stylesheet.status_code == 200 and "--brand" in stylesheet.text
    finally:
        process.terminate()
        process.wait(timeout=30)
