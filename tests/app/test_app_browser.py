"""``tpir-app`` in a real browser: Chromium from the system packages, driven by Playwright."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("gradio", reason='the app extra is not installed: pip install -e ".[app]"')
sync_api = pytest.importorskip(
    "playwright.sync_api", reason='Playwright is not installed: pip install -e ".[dev]"'
)

from tpir.cli.restore import main as restore_main  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip(
        "no Chromium here: apt-get install chromium (the test drives the system browser)",
        allow_module_level=True,
    )

# Flags for a headless browser in a closed network (no background calls home, as root in a container).
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PROMPT = "please remove the rain"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``tpir-app`` serving the tiny model on a free local port, for the tests of this module."""
    port = free_port()
    root = tmp_path_factory.mktemp("app_outputs")
    env = os.environ | {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    command = [
        sys.executable,
        "-m",
        "tpir.cli.app",
        "--model",
        str(model_folder),
        "--models-root",
        str(root),
    ]
    server = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"tpir-app did not start:\n{server.stdout.read().decode()[-3000:]}"
                    ) from None
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def page(app_url: str) -> Iterator["sync_api.Page"]:
    """A browser page on the app; every address it requests is kept in ``page.requested``."""
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(accept_downloads=True, viewport={"width": 1400, "height": 1000})
        page.requested = []
        page.on("request", lambda request: page.requested.append(request.url))
        page.goto(app_url)
        yield page
        browser.close()


def restore_in_page(page: "sync_api.Page", photo: Path, prompt: str) -> None:
    page.locator("#photo input[type=file]").set_input_files(str(photo))
    page.locator("#prompt textarea").fill(prompt)
    page.locator("#restore").click()


@pytest.mark.slow
def test_the_page_restores_like_tpir_restore(page, model_folder: Path, tmp_path: Path) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    photo = tmp_path / "rainy.png"
    Image.fromarray(pixels).save(photo)
    restore_in_page(page, photo, PROMPT)
    link = page.locator("#result a").first
    link.wait_for(timeout=60_000)
    with page.expect_download() as download:
        link.click()
    downloaded = tmp_path / "downloaded.png"
    download.value.save_as(downloaded)
    assert "Understood" in page.locator("#understood").inner_text()
    page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
    assert (tmp_path / "app.png").stat().st_size > 10_000

    assert (
        restore_main(
            [str(photo), "--prompt", PROMPT, "--model", str(model_folder), "-o", str(tmp_path / "cli.png")]
        )
        == 0
    )
    # The same reader, model, tiles and writer: the same file, bit for bit.
    assert downloaded.read_bytes() == (tmp_path / "cli.png").read_bytes()


@pytest.mark.slow
def test_a_corrupt_upload_is_a_message_on_the_page(page, tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    restore_in_page(page, broken, PROMPT)
    message = page.get_by_text("broken.png: not a readable image")
    message.first.wait_for(timeout=30_000)
    assert page.locator("#result a").count() == 0


@pytest.mark.slow
def test_two_users_at_once_are_queued_not_mixed_up(app_url: str, model_folder: Path, tmp_path: Path) -> None:
    prompts = {"a": "please remove the rain", "b": "please remove the haze"}
    photos = {}
    for seed, name in enumerate(prompts):
        photos[name] = tmp_path / f"{name}.png"
        pixels = np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos[name])
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        pages = {name: browser.new_page(accept_downloads=True) for name in prompts}
        for name, page in pages.items():
            page.goto(app_url)
            page.locator("#photo input[type=file]").set_input_files(str(photos[name]))
            page.locator("#prompt textarea").fill(prompts[name])
        for page in pages.values():  # both requests are in flight together
            page.locator("#restore").click()
        for name, page in pages.items():
            link = page.locator("#result a").first
            link.wait_for(timeout=60_000)
            with page.expect_download() as download:
                link.click()
            download.value.save_as(tmp_path / f"{name}_page.png")
        browser.close()
    for name, prompt in prompts.items():
        cli = tmp_path / f"{name}_cli.png"
        assert (
            restore_main(
                [str(photos[name]), "--prompt", prompt, "--model", str(model_folder), "-o", str(cli)]
            )
            == 0
        )
        assert (tmp_path / f"{name}_page.png").read_bytes() == cli.read_bytes(), name
