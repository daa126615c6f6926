"""Incoming text is checked once, at the door, for what no database can store.

A NUL character, a lone UTF-16 surrogate or bytes that are not UTF-8 in a path
id, a query parameter, a JSON body or a form would otherwise reach PostgreSQL (or
Python's decoders) and end in a 500. Here they answer 400 naming the field,
before any view, validation or transaction runs, for the API and the pages alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from urllib.parse import unquote_to_bytes

from pyramid.config import Configurator
from pyramid.interfaces import IRoutesMapper
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.response import Response
from pyramid.tweens import EXCVIEW

from datameta.errors import ErrorItem, ValidationFailed
from datameta.routes import PrefixRoutesMapper
from datameta.security.text import (
    decode_lenient,
    field_name,
    is_unstorable,
    printable,
    unstorable_message,
    unstorable_paths,
)

# Routes whose body is file content, streamed on without being read as text.
RAW_BODY_ROUTES = {"api_upload"}
FORM_TYPE = "application/x-www-form-urlencoded"


def _item(field: str) -> ErrorItem:
    if not field:
        return ErrorItem(message=unstorable_message("The request body"))
    return ErrorItem(message=unstorable_message(field), field=field)


def _wsgi_text(value: str) -> str:
    """A WSGI environ string (bytes as Latin-1) decoded as UTF-8, bad bytes kept."""
    return decode_lenient(value.encode("latin-1"))


def _matching_route(request: Request, path: str) -> tuple[str | None, dict[str, str]]:
    """The route ``path`` falls on, and its parameters (even where they are unstorable).

    Noted for the router, which then need not look for it again.
    """
    mapper = request.registry.queryUtility(IRoutesMapper)
    if not isinstance(mapper, PrefixRoutesMapper):
        return None, {}
    route, params = mapper.matching(path, request.environ)
    return (None if route is None else route.name), params


def _form_decoded(raw: bytes) -> str:
    # By hand: urllib's parsers replace or refuse bytes that are not UTF-8, hiding them.
    return decode_lenient(unquote_to_bytes(raw.replace(b"+", b" ")))


def _param_is_unstorable(value: str | tuple[str, ...]) -> bool:
    # A route's star parameter (static files' subpath) is a tuple of path segments.
    return any(is_unstorable(part) for part in ([value] if isinstance(value, str) else value))


def _pairs_problems(raw: bytes) -> Iterator[ErrorItem]:
    """Query strings and form bodies: the field is the parameter's name."""
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        name_text, value_text = _form_decoded(name), _form_decoded(value)
        if is_unstorable(name_text) or is_unstorable(value_text):
            yield _item(printable(name_text))


def _json_problems(raw: bytes) -> Iterator[ErrorItem]:
    """JSON bodies: the field is the dotted path to the bad string (or key)."""
    text = decode_lenient(raw)
    if "\\u" not in text and not is_unstorable(text):
        # Such a character reaches a decoded string only as itself or as a \u escape:
        # without either, no string of the document holds one, whatever it is.
        return
    try:
        document = json.loads(text)
    except ValueError:
        # Not JSON: the OpenAPI validation says so, unless the text itself cannot be stored.
        if is_unstorable(text):
            yield _item("")
        return
    for path in unstorable_paths(document):
        yield _item(field_name(path))


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def unstorable_input(request: Request) -> list[ErrorItem]:
    """Every place in the request's path, query and body where unstorable text sits."""
    path = _wsgi_text(request.environ.get("PATH_INFO", ""))
    route_name, params = _matching_route(request, path)
    problems = [_item(name) for name, value in params.items() if _param_is_unstorable(value)]
    if not problems and is_unstorable(path):
        problems.append(ErrorItem(message=unstorable_message("The address"), field="path"))
    problems += _pairs_problems(request.environ.get("QUERY_STRING", "").encode("latin-1"))
    if route_name not in RAW_BODY_ROUTES and request.content_length != 0:
        if _is_json(request.content_type):
            problems += _json_problems(request.body)
        elif request.content_type == FORM_TYPE:
            problems += _pairs_problems(request.body)
    return problems


def _path_is_text(request: Request) -> bool:
    try:
        request.path_info  # noqa: B018 (decoding it is the check)
    except UnicodeDecodeError:
        return False
    return True


def _undecodable_path_answer(request: Request, problems: list[ErrorItem]) -> Response:
    """Pyramid cannot route (nor pick an error view for) a path that is not UTF-8."""
    if request.environ.get("PATH_INFO", "").startswith("/api"):
        return Response(status=400, json=[item.as_json() for item in problems])
    return Response(status=400, content_type="text/plain", text="The address is not valid.")


def text_input_tween_factory(
    handler: Callable[[Request], Response], registry: Registry
) -> Callable[[Request], Response]:
    def text_input_tween(request: Request) -> Response:
        problems = unstorable_input(request)
        if not problems:
            return handler(request)
        if not _path_is_text(request):
            return _undecodable_path_answer(request, problems)
        # The error views answer: the API's error list, or the page's error page.
        raise ValidationFailed(problems)

    return text_input_tween


def includeme(config: Configurator) -> None:
    # Under the error views, so that what this raises is answered like any other error.
    config.add_tween("datameta.security.text_input.text_input_tween_factory", under=EXCVIEW)
