"""The OpenAPI document the API publishes is generated from the handlers, never edited by hand."""

from __future__ import annotations

import json

from tools.openapi import DOCUMENT, build_document


def test_the_published_document_matches_the_handlers() -> None:
    # Given the routes and models of the handlers, When the document is generated,
    # Then it is exactly the one committed and served at /api/openapi.json (`make openapi` refreshes it)
    assert DOCUMENT.read_text(encoding="utf-8") == build_document()


def test_every_operation_documents_its_problems_as_problem_json() -> None:
    document = json.loads(build_document())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], f"{method} {path} {status}"
