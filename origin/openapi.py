"""A small OpenAPI 3.1 generator from route annotations.

Annotate a view with :func:`doc`; :func:`generate` walks the app's URL map and builds the
document from every annotated rule (``/v1`` duplicates and unannotated routes are skipped).
Schemas are plain JSON Schema dicts; name reusable ones with :func:`schema` (they go to
``components/schemas`` of every document whose routes refer to them; nothing is registered at
import)::

    Thing = schema("Thing", {"type": "object", "properties": {...}})

    @bp.post("/things")
    @doc(summary="Create a thing", request=Thing, responses={201: Thing}, tags=["things"])
    async def create_thing(): ...

The studio API can use the same decorator; its paths then appear in the same document.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from quart import Quart

__all__ = [
    "doc",
    "schema",
    "generate",
    "SchemaRef",
    "ERROR_SCHEMA_NAME",
    "DETAIL_SCHEMA_NAME",
    "model_schema",
]

ERROR_SCHEMA_NAME = "Error"
#: The studio API's error body, ``{"detail": "message"}`` (Audyn's shape).
DETAIL_SCHEMA_NAME = "Detail"

_RULE_ARG = re.compile(r"<(?:[a-z_]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


class SchemaRef(dict):  # type: ignore[type-arg]
    """``{"$ref": "#/components/schemas/NAME"}`` that also carries the named schema's body."""

    def __init__(self, name: str, body: dict[str, Any]) -> None:
        super().__init__({"$ref": f"#/components/schemas/{name}"})
        self.name = name
        self.body = body
        self.extra: dict[str, dict[str, Any]] = {}


def schema(name: str, body: dict[str, Any]) -> SchemaRef:
    """A named schema: returns a ``$ref`` to it that :func:`generate` resolves."""
    return SchemaRef(name, body)


def model_schema(model: type[BaseModel]) -> SchemaRef:
    """A pydantic model as a named schema (its nested models become components too)."""
    body = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = body.pop("$defs", {})
    for node in (body, *defs.values()):
        for prop in node.get("properties", {}).values():
            # "optional, absent = unset" fields: a null default is not a value of the field
            nullable = (
                not {"type", "enum", "anyOf", "$ref"} & prop.keys()
                or "null" in str(prop.get("type", ""))
                or None in prop.get("enum", ())
                or {"type": "null"} in prop.get("anyOf", ())
            )
            if prop.get("default", 0) is None and not nullable:
                del prop["default"]
    ref = SchemaRef(model.__name__, body)
    ref.extra = dict(defs)
    return ref


def _collect_refs(node: Any, out: dict[str, dict[str, Any]]) -> None:
    """Every :class:`SchemaRef` reachable from ``node`` (bodies included), into ``out``."""
    if isinstance(node, type) and issubclass(node, BaseModel):
        node = model_schema(node)
    if isinstance(node, SchemaRef):
        out.update(node.extra)
        if node.name in out:
            return
        out[node.name] = node.body
        _collect_refs(node.body, out)
    elif isinstance(node, dict):
        for v in node.values():
            _collect_refs(v, out)
    elif isinstance(node, list | tuple):
        for v in node:
            _collect_refs(v, out)


def doc(
    *,
    summary: str,
    description: str | None = None,
    request: dict[str, Any] | type[BaseModel] | None = None,
    request_content: dict[str, dict[str, Any]] | None = None,
    responses: dict[int | str, Any] | None = None,
    tags: list[str] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    public: bool = False,
    errors: tuple[int, ...] = (400, 401, 403),
    error_schema: str = ERROR_SCHEMA_NAME,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach OpenAPI information to a view function.

    Parameters
    ----------
    request : dict, optional
        JSON Schema of an ``application/json`` body.
    request_content : dict, optional
        Full ``{media type: {"schema": ...}}`` map (overrides ``request``).
    responses : dict, optional
        ``{status: schema}`` (JSON) or ``{status: {"description", "content"}}`` (raw).
    public : bool
        No bearer authentication needed.
    errors : tuple of int
        Error statuses documented with the shared error schema.
    error_schema : str
        :data:`ERROR_SCHEMA_NAME` (mixer API) or :data:`DETAIL_SCHEMA_NAME` (studio API).

    A ``request`` or response given as a pydantic model class is documented from the model
    (``model_json_schema``), the same declaration that validates the body.
    """

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__openapi__ = {  # type: ignore[attr-defined]
            "summary": summary,
            "description": description,
            "request": request,
            "request_content": request_content,
            "responses": responses or {},
            "tags": tags or [],
            "parameters": parameters or [],
            "public": public,
            "errors": errors,
            "error_schema": error_schema,
        }
        return fn

    return deco


def _response_obj(status: int | str, spec: Any) -> dict[str, Any]:
    if isinstance(spec, dict) and ("content" in spec or "description" in spec) and "type" not in spec:
        out = {"description": spec.get("description", str(status))}
        if "content" in spec:
            out["content"] = spec["content"]
        return out
    return {"description": str(status), "content": {"application/json": {"schema": spec}}}


def _plain(node: Any) -> Any:
    """A deep copy made of plain dicts and lists (a pydantic model becomes a ``$ref``)."""
    if isinstance(node, type) and issubclass(node, BaseModel):
        return {"$ref": f"#/components/schemas/{node.__name__}"}
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_plain(v) for v in node]
    return node


def generate(app: Quart, *, title: str = "AI Mixer API", version: str = "1.0.0") -> dict[str, Any]:
    """The OpenAPI document of ``app``'s annotated routes."""
    paths: dict[str, dict[str, Any]] = {}
    named: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("v1_") or ".v1_" in rule.endpoint:
            continue
        view = app.view_functions.get(rule.endpoint)
        info = getattr(view, "__openapi__", None)
        if info is None:
            continue
        websocket = bool(getattr(rule, "websocket", False))
        _collect_refs(info, named)
        path = _RULE_ARG.sub(r"{\1}", rule.rule)
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _RULE_ARG.findall(rule.rule)
        ]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "operationId": re.sub(r"\W+", "_", f"{rule.endpoint}_{method.lower()}").strip("_"),
                "summary": info["summary"],
                "tags": info["tags"],
                "responses": {},
            }
            if info["description"]:
                op["description"] = info["description"]
            all_params = params + list(info["parameters"])
            if all_params:
                op["parameters"] = _plain(all_params)
            if info["request_content"]:
                op["requestBody"] = {"required": True, "content": _plain(info["request_content"])}
            elif info["request"] is not None:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": _plain(info["request"])}},
                }
            if websocket:  # OpenAPI has no WebSocket operations: the upgrade request stands for it
                op["responses"]["101"] = {"description": "WebSocket upgrade (messages in the description)"}
            for status, spec in info["responses"].items():
                op["responses"][str(status)] = _response_obj(status, _plain(spec))
            errs = list(info["errors"])
            if info["public"]:
                op["security"] = []
                errs = [e for e in errs if e != 401]
            for status in errs:
                op["responses"].setdefault(
                    str(status),
                    {
                        "description": "error",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{info['error_schema']}"}
                            }
                        },
                    },
                )
            paths.setdefault(path, {})[method.lower()] = op
    schemas = {k: _plain(v) for k, v in sorted(named.items())}
    schemas.setdefault(
        ERROR_SCHEMA_NAME,
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message", "details", "timestamp", "requestId"],
                    "properties": {
                        "code": {"type": "string"},
                        "message": {"type": "string"},
                        "details": {"type": "object"},
                        "timestamp": {"type": "integer"},
                        "requestId": {"type": "string"},
                    },
                }
            },
        },
    )
    schemas.setdefault(
        DETAIL_SCHEMA_NAME,
        {
            "type": "object",
            "required": ["detail"],
            "description": "Studio API error (Audyn's shape): a message, or a list of field errors",
            "properties": {"detail": {"type": ["string", "array", "object"]}},
        },
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}, {"url": "/v1"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
