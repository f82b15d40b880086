"""Every route the web app serves (the sandbox's included) with the parameters it declares: the
route-walking test and the fuzzers go through this one list, so a route added anywhere is in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from fastapi import params
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import BaseRoute, Mount

PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]+)?}")


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {placeholders}
    path_params: tuple[str, ...]
    query: tuple[str, ...] = ()
    form: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    json_body: bool = False
    signed: bool = False
    html: bool = field(default=False, compare=False)

    @property
    def openapi_path(self) -> str:
        return PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", self.path)

    def url(self, values: dict[str, str] | None = None) -> str:
        values = values or {}
        return PATH_PARAM.sub(lambda m: values.get(m.group(1), "1"), self.path)


def _fields(dependant) -> Iterator[tuple[str, object]]:
    stack = [dependant]
    while stack:
        current = stack.pop()
        for field_ in current.query_params:
            yield "query", field_
        for field_ in current.body_params:
            yield "body", field_
        stack.extend(current.dependencies)


def _walk(routes, prefix: str = "") -> Iterator[tuple[str, set[str], BaseRoute]]:
    # FastAPI keeps included routers as such: their routes, with their full paths, come from
    # iter_route_contexts.
    for context in iter_route_contexts(routes):
        route = context.original_route
        if isinstance(route, Mount):
            yield from _walk(route.routes, prefix + route.path)
        elif context.methods:
            yield prefix + (context.path or ""), context.methods, route


def endpoints(app) -> list[Endpoint]:
    from app.input_guard import SIGNED_PREFIXES

    found = []
    for path, methods, route in _walk(app.routes):
        query, form, files, json_body = [], [], [], False
        if isinstance(route, APIRoute):
            for where, field_ in _fields(route.dependant):
                name = field_.alias
                if where == "query":
                    query.append(name)
                elif isinstance(field_.field_info, params.File):
                    files.append(name)
                elif isinstance(field_.field_info, params.Form):
                    form.append(name)
                else:
                    json_body = True
        html = isinstance(route, APIRoute) and "HTMLResponse" in str(route.response_class)
        for method in sorted(methods):
            if method == "HEAD":
                continue
            found.append(Endpoint(method, path, tuple(PATH_PARAM.findall(path)), tuple(dict.fromkeys(query)),
                                  tuple(dict.fromkeys(form)), tuple(files), json_body,
                                  path.startswith(SIGNED_PREFIXES), html))
    return found
