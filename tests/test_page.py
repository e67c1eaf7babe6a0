"""GET / and GET /docs without a stack: HTML, every asset they name is served here, no outside URL."""
from __future__ import annotations

import re

import pytest

URL = re.compile(r"""https?://[^\s"'<>)]+""")
ASSET = re.compile(r"""(?:src|href)="([^"]+)\"""")


@pytest.mark.parametrize("path", ["/", "/docs"])
def test_page_is_html_whose_assets_are_all_served_here(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert URL.findall(html) == [], "the page must reference no other origin"
    assets = [a for a in ASSET.findall(html) if not a.startswith(("data:", "#"))]
    assert assets, "the page names its assets"
    for asset in assets:
        assert asset.startswith("/"), asset
        assert client.get(asset).status_code == 200, asset


def test_page_has_the_controls_the_browser_test_drives(client):
    html = client.get("/").get_data(as_text=True)
    for needle in ('id="reviews"', 'id="mode"', 'id="explain"', 'id="submit"', 'id="results"',
                   'value="auto" selected', 'id="explain" name="explain" checked'):
        assert needle in html, needle


def test_docs_serve_swagger_ui_over_the_document(client):
    html = client.get("/docs").get_data(as_text=True)
    assert 'data-openapi-url="/openapi.json"' in html
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/assets/../page.py").status_code == 404
