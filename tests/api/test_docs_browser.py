"""``/docs`` in a real browser (the distribution's Chromium, driven by Playwright): Swagger
UI loads from Limen alone, and *Authorize* with a Limen token makes *Try it out* work."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="needs Chromium from the distribution (apt-get install chromium)",
)


def test_authorize_with_a_limen_token_then_try_an_operation(
    live_server: Any, installed: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)  # a loaded machine renders the spec slowly

    base = live_server.url
    requests: list[str] = []
    sent: list[dict[str, str]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        page.on("request", lambda r: requests.append(r.url))

        def keep(request: Any) -> None:
            if request.url.startswith(f"{base}/v1/identities"):
                sent.append(request.headers)

        page.on("request", keep)
        # Swagger UI renders the sections in view; a deep link opens the operation.
        page.goto(f"{base}/docs#/identities/list_identities_v1_identities_get")
        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Limen")
        operation = page.locator("#operations-identities-list_identities_v1_identities_get")
        expect(operation.locator("button.try-out__btn")).to_be_visible()

        operation.locator("button.authorization__btn").first.click()  # its padlock
        page.locator("input[aria-label='auth-bearer-value']").fill(installed.admin_token)
        page.locator(".auth-container").first.locator("button.modal-btn.authorize").click()
        page.locator("button.btn-done").first.click()

        operation.scroll_into_view_if_needed()
        operation.locator("button.try-out__btn").click()
        with page.expect_response(lambda r: r.url.startswith(f"{base}/v1/identities")) as got:
            operation.locator("button.execute").click()
        assert got.value.status == 200
        expect(
            operation.locator(".live-responses-table tbody td.response-col_status").first
        ).to_contain_text("200")
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
        browser.close()

    assert sent and sent[-1]["authorization"] == f"Bearer {installed.admin_token}"
    assert [url for url in requests if not url.startswith(base)] == []
