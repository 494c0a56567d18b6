"""The notebook face in a real browser: JupyterLab serves a notebook, headless Chromium runs it.

The test starts a real JupyterLab on a free localhost port (its own token, root folder and HOME),
opens a notebook that shows the wizard with ``%onnx_wizard``, and drives Debian's ``chromium``
through Playwright's Python package (nothing is downloaded at run time). It reads what the page
really shows: the step title, the model field, the Next button; it clicks Next and sees the
next step's title; it runs the export from a second cell and finds the results table. Selectors
are the visible words (the engine's step titles), so a new widget layout keeps the test honest.
Screenshots are kept in the test's tmp folder, and in ``$ONNX_WIZARD_ARTIFACTS`` when set.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onnx_wizard.flow.steps import TITLES, Step

CHROMIUM = os.environ.get("ONNX_WIZARD_CHROMIUM") or shutil.which("chromium")
MODEL = "sample:bert-classifier"
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": [
                "%load_ext onnx_wizard\n",
                f"w = %onnx_wizard {MODEL} --output bert-onnx",
            ],
        },
        {
            "cell_type": "code",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": ["state = w.run_to_end()\n", 'print("FINISHED AT", state.step.value)'],
        },
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _needs() -> str | None:
    """Why this test cannot run here, or None."""
    if CHROMIUM is None:
        return (
            "no chromium: install Debian's browser (apt-get install -y chromium) or point "
            "ONNX_WIZARD_CHROMIUM at one; .ci/run installs it"
        )
    for module, package in (("playwright", "playwright"), ("jupyterlab", "jupyterlab")):
        try:
            __import__(module)
        except ImportError:
            return f"{module} is not installed: pip install -e '.[dev]' installs {package}"
    return None


pytestmark = pytest.mark.skipif(_needs() is not None, reason=str(_needs()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path, wizard_home: Path) -> Iterator[dict[str, Any]]:
    """A JupyterLab server over a temporary root folder; stopped (whole group) at the end."""
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    home.mkdir()
    (root / "wizard.ipynb").write_text(json.dumps(NOTEBOOK), encoding="utf-8")
    # No news toast over the page (and no request for it): the server must stay offline.
    settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = _free_port(), os.urandom(12).hex()
    env = {
        **os.environ,
        "HOME": str(home),
        # The kernel's `python` must be this interpreter, whatever HOME does to shims.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "ONNX_WIZARD_HOME": str(wizard_home),
        "HF_HUB_OFFLINE": "1",
    }
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",  # CI containers run as root; the server is ours and local
            "--ip=127.0.0.1",
            f"--port={port}",
            "--port-retries=0",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()
                    )
                time.sleep(0.3)
        yield {"url": f"{base}/lab/tree/wizard.ipynb?token={token}", "root": root}
    finally:
        _stop(server)
        log.close()


def _stop(server: subprocess.Popen[bytes]) -> None:
    """End the server and its kernels (one process group): politely, then for sure."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 15)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, sig)
        try:
            server.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    """Keep a picture of the page: in the tmp folder, and in ONNX_WIZARD_ARTIFACTS if set."""
    path = tmp_path / f"notebook-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    artifacts = os.environ.get("ONNX_WIZARD_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)
    return path


def _run_cell(page: Any, index: int) -> None:
    """Run one cell as a user does (click it, Shift+Enter), and make sure it really started:
    a cell run before the kernel is connected can be dropped, so press again until its prompt
    shows it queued or running."""
    from playwright.sync_api import expect

    status = page.locator("#jp-main-statusbar")
    expect(status).to_contain_text("Idle", timeout=120_000)  # the kernel is up and connected
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    prompt = cell.locator(".jp-InputPrompt")
    for _ in range(5):
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if re.search(r"\[(\*|\d+)\]", prompt.inner_text()):
                return
            time.sleep(0.2)
    raise AssertionError(f"cell {index} never started: its prompt is {prompt.inner_text()!r}")


def test_the_wizard_renders_steps_and_results_in_a_real_browser(
    lab: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(lab["url"])
            try:
                _walk(page, tmp_path)
            except Exception:
                _screenshot(page, tmp_path, "failure")  # what the page showed when it failed
                raise
        finally:
            browser.close()
    assert (lab["root"] / "bert-onnx" / "model.onnx").is_file()  # the export really ran


def _walk(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".jp-Notebook .jp-Cell")).to_have_count(2, timeout=90_000)
    _run_cell(page, 0)

    widget = page.locator(".jp-Notebook .jp-Cell").nth(0).locator(".jp-OutputArea")
    welcome = TITLES[Step.SOURCE]  # "Welcome: which model?", the engine's words
    expect(widget.get_by_text(welcome)).to_be_visible(timeout=120_000)
    # The model field holds the model the magic was given; Next is there and enabled.
    model_field = widget.locator("input[type=text]").first
    expect(model_field).to_have_value(MODEL)
    next_button = widget.get_by_role("button", name="Next")
    expect(next_button).to_be_visible()
    expect(next_button).to_be_enabled()
    _screenshot(page, tmp_path, "welcome")

    # One step through the real page: the title changes to the next step's.
    next_button.click()
    expect(widget.get_by_text(TITLES[Step.PREREQUISITES])).to_be_visible(timeout=120_000)
    expect(widget.get_by_text(welcome)).to_have_count(0)

    # The rest of the walk from a second cell; the page shows the results table.
    _run_cell(page, 1)
    second = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea")
    expect(second).to_contain_text("FINISHED AT done", timeout=240_000)
    expect(widget.get_by_text(TITLES[Step.DONE], exact=False).first).to_be_visible()
    table = widget.locator("table").filter(has_text="model.onnx").first
    expect(table).to_be_visible()
    header = table.locator("th").all_inner_texts()
    assert header, "the results table has no header row"
    picture = _screenshot(page, tmp_path, "done")
    assert picture.stat().st_size > 10_000  # a real rendering, not a blank page
