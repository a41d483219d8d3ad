"""Request bodies of the studio API, declared once as pydantic models.

Each model is the body's one declaration: :func:`studio_doc` puts its JSON Schema in
``/openapi.json`` (``model_json_schema``), and a view that validates with :func:`parse_body`
reads the same model, so the document and the check cannot drift apart. Failures answer
``400 {"detail": "message"}``, the message being the validator's own (kept from the
hand-written checks these models replace).

Validated through the model today: ``POST /api/studios/``, ``PUT /api/studios/{id}``,
``POST /api/studios/{id}/assign``, ``POST /api/assets/delete-bulk``, ``POST
/api/sources/from-discovery``, and the recorder and control configs (``PUT
/api/recorders/{id}/config``, ``POST /api/control/config``: :mod:`origin.studio.recorder_config`,
re-exported here), typed-in sources (:class:`SourceUpdate`, whose format fields are
:class:`RecorderConfig`'s declarations) and sources made from a discovered stream
(:class:`SourceFromStream`, ``POST /api/sources/`` with ``discovered_id``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from origin.errors import StudioError
from origin.fieldcheck import Check
from origin.openapi import DETAIL_SCHEMA_NAME, doc
from origin.studio.recorder_config import ControlConfig, RecorderConfig

__all__ = [
    "studio_doc",
    "parse_body",
    "StudioCreate",
    "StudioUpdate",
    "StudioAssign",
    "BulkDelete",
    "RecorderConfig",
    "ControlConfig",
    "SourceCreate",
    "SourceFromDiscovery",
    "SourceFromStream",
    "SourceUpdate",
    "stream_selection",
]

M = TypeVar("M", bound=BaseModel)

#: most paths in one ``POST /api/assets/delete-bulk``
MAX_BULK = 1000

_ID_CHARS = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def studio_doc(*, summary: str, **kw: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """:func:`origin.openapi.doc` for a studio route: tag ``studio``, ``{"detail"}`` errors."""
    kw.setdefault("tags", ["studio"])
    kw.setdefault("errors", (400, 401, 403, 404))
    return doc(summary=summary, error_schema=DETAIL_SCHEMA_NAME, **kw)


def _message(exc: ValidationError) -> str:
    """The first error's message: a validator's own ``ValueError`` text, else pydantic's."""
    err = exc.errors(include_url=False)[0]
    ctx_err = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_err, ValueError | AssertionError) and str(ctx_err):
        return str(ctx_err)
    loc = ".".join(str(p) for p in err.get("loc", ()))
    if err.get("type") == "extra_forbidden":
        return f"Unknown field {loc!r}"
    if err.get("type") == "missing":
        return f"{loc} is required"
    return f"{loc}: {err.get('msg')}" if loc else str(err.get("msg"))


async def parse_body(model: type[M]) -> M:
    """The request's JSON object (bounded parse, 415/400 as :func:`~origin.studio.common.json_body`)
    validated into ``model``; 400 ``{"detail": message}`` when it does not fit."""
    from origin.studio.common import json_body

    data = await json_body()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise StudioError(400, _message(exc)) from None


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# -- studios ------------------------------------------------------------------------------------


class StudioUpdate(_Body):
    """Fields of a studio to change (every field optional)."""

    name: Any = Field(None, description="1-100 characters", json_schema_extra={"type": "string"})
    description: Any = Field(
        None,
        description="at most 1000 characters; null clears it",
        json_schema_extra={"type": ["string", "null"]},
    )
    color: Any = Field(None, description="#RRGGBB", json_schema_extra={"type": "string"})
    enabled: Any = Field(None, json_schema_extra={"type": "boolean"})

    @model_validator(mode="before")
    @classmethod
    def _known(cls, body: Any) -> Any:
        if isinstance(body, dict):
            for key in body:
                if key not in ("name", "description", "color", "enabled", "id"):
                    raise ValueError(f"Unknown studio field {key!r}")
            if "id" in body and cls is StudioUpdate:
                raise ValueError("The studio id cannot be changed")
            if "name" not in body and cls is StudioCreate:
                raise ValueError("name is required")
        return body

    @field_validator("name")
    @classmethod
    def _name(cls, v: Any) -> Any:
        if not isinstance(v, str) or not v.strip() or len(v) > 100:
            raise ValueError("name must be a non-empty string of at most 100 characters")
        return v.strip()

    @field_validator("description")
    @classmethod
    def _description(cls, v: Any) -> Any:
        v = "" if v is None else v
        if not isinstance(v, str) or len(v) > 1000:
            raise ValueError("description must be a string of at most 1000 characters")
        return v

    @field_validator("color")
    @classmethod
    def _color(cls, v: Any) -> Any:
        from origin.studio.common import COLOR_RE

        if not isinstance(v, str) or not COLOR_RE.match(v):
            raise ValueError(f"color={v!r} must be #RRGGBB")
        return v.upper()

    @field_validator("enabled")
    @classmethod
    def _enabled(cls, v: Any) -> Any:
        if not isinstance(v, bool):
            raise ValueError("enabled must be true or false")
        return v

    def fields(self) -> dict[str, Any]:
        """The fields the client sent, cleaned."""
        return self.model_dump(include=self.model_fields_set)


class StudioCreate(StudioUpdate):
    """A new studio: ``name`` required; ``id`` optional (generated when absent)."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"required": ["name"]})

    id: Any = Field(
        None, description="1-64 letters, digits, '-' or '_'", json_schema_extra={"type": "string"}
    )

    @field_validator("id")
    @classmethod
    def _id(cls, v: Any) -> Any:
        if not isinstance(v, str) or not _ID_CHARS.match(v):
            raise ValueError("id must be 1-64 letters, digits, '-' or '_'")
        return v


class StudioAssign(_Body):
    """Assign a recorder to the studio (null unassigns)."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["recorder_id"]})

    recorder_id: Any = Field(
        description="recorder id (integer), or null to unassign",
        json_schema_extra={"type": ["integer", "null"]},
    )

    @model_validator(mode="before")
    @classmethod
    def _present(cls, body: Any) -> Any:
        if isinstance(body, dict) and "recorder_id" not in body:
            raise ValueError("recorder_id is required (null to unassign)")
        return body


# -- assets -------------------------------------------------------------------------------------


class BulkDelete(_Body):
    """Several archive files to delete (admin); ``studio_id`` limits them to that studio's folder."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"required": ["paths"]})

    paths: Any = Field(
        description=f"archive-relative file paths (at most {MAX_BULK})",
        json_schema_extra={"type": "array", "items": {"type": "string"}, "maxItems": MAX_BULK},
    )
    studio_id: Any = Field(None, json_schema_extra={"type": ["string", "null"]})

    @model_validator(mode="before")
    @classmethod
    def _check(cls, body: Any) -> Any:
        paths = body.get("paths") if isinstance(body, dict) else None
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            raise ValueError("paths must be a list of file paths")
        if len(paths) > MAX_BULK:
            raise ValueError(f"Too many paths ({len(paths)}; at most {MAX_BULK})")
        unknown = set(body) - {"paths", "studio_id"}
        if unknown:
            raise ValueError(f"Unknown field {sorted(unknown)[0]!r}")
        if body.get("studio_id") is not None and not isinstance(body["studio_id"], str):
            raise ValueError("studio_id must be a string")
        return body


# -- sources (documented here; typed-in sources are checked in origin.studio.sources) ------------

#: source fields a client may set (``POST``/``PUT``)
EDITABLE = (
    "name",
    "type",
    "multicast_addr",
    "port",
    "enabled",
    "sample_rate",
    "channels",
    "stream_channels",
    "channel_offset",
    "encoding",
    "payload_type",
    "description",
    "redundant_multicast_addr",
    "redundant_port",
    "channel_names",
)
#: fields the API returns that a client may send back unchanged (Audyn's edit form sends the
#: whole object): accepted and not applied (``id`` must be null or the source's own id)
READ_ONLY = (
    "id",
    "discovered_id",
    "discovered_name",
    "source_filter",
    "redundant_source_filter",
    "mediaclk_offset",
    "ptime_us",
    "samples_per_packet",
)
#: the stream's format fields: :class:`RecorderConfig`'s declarations, null meaning "not given"
SOURCE_FORMAT_KEYS = (
    "sample_rate",
    "channels",
    "stream_channels",
    "channel_offset",
    "encoding",
    "payload_type",
    "redundant_multicast_addr",
    "redundant_port",
    "channel_names",
)


def _recorder_check(key: str) -> Check:
    """The :class:`RecorderConfig` field ``key``'s declaration."""
    return next(m for m in RecorderConfig.model_fields[key].metadata if isinstance(m, Check))


def _or_null(check: Check) -> Check:
    def fn(key: str, v: Any) -> Any:
        return None if v is None else check.fn(key, v)

    return Check({**check.schema, "description": "null: not given"}, fn)


def _required(check: Check) -> Check:
    def fn(key: str, v: Any) -> Any:
        if v is None:
            raise StudioError(400, f"{key} is required")
        return check.fn(key, v)

    return Check(check.schema, fn)


def _source_name(key: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > 200:
        raise StudioError(400, "name must be a non-empty string of at most 200 characters")
    return v.strip()


def _source_description(key: str, v: Any) -> Any:
    if v is not None and (not isinstance(v, str) or len(v) > 1000):
        raise StudioError(400, "description must be a string of at most 1000 characters")
    return v


def _enabled(key: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise StudioError(400, "enabled must be true or false")
    return v


_READ_ONLY = Check({"description": "read-only: accepted and not applied"}, lambda k, v: v)


class SourceUpdate(BaseModel):
    """A typed-in AES67 source, the whole object as ``GET`` returns it (``PUT``, and ``POST``
    without ``discovered_id``): read-only fields are accepted and not applied.

    Validate with ``context={"source_id": id}`` (``None`` for a new source): ``id``, when given,
    must be that id.
    """

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"required": ["name", "multicast_addr", "port"]}
    )

    # checked in this order: the stream, then description, name, enabled
    multicast_addr: Annotated[Any, _required(_recorder_check("multicast_addr"))] = None
    port: Annotated[Any, _required(_recorder_check("port"))] = None
    sample_rate: Annotated[Any, _or_null(_recorder_check("sample_rate"))] = None
    channels: Annotated[Any, _or_null(_recorder_check("channels"))] = None
    stream_channels: Annotated[Any, _or_null(_recorder_check("stream_channels"))] = None
    channel_offset: Annotated[Any, _or_null(_recorder_check("channel_offset"))] = None
    encoding: Annotated[Any, _or_null(_recorder_check("encoding"))] = None
    payload_type: Annotated[Any, _or_null(_recorder_check("payload_type"))] = None
    redundant_multicast_addr: Annotated[Any, _or_null(_recorder_check("redundant_multicast_addr"))] = None
    redundant_port: Annotated[Any, _or_null(_recorder_check("redundant_port"))] = None
    channel_names: Annotated[Any, _or_null(_recorder_check("channel_names"))] = None
    description: Annotated[
        Any, Check({"type": ["string", "null"], "maxLength": 1000}, _source_description)
    ] = None
    name: Annotated[Any, Check({"type": "string", "minLength": 1, "maxLength": 200}, _source_name)] = None
    enabled: Annotated[Any, Check({"type": "boolean"}, _enabled)] = True
    type: Annotated[Any, Check({"enum": ["aes67"]}, lambda k, v: v)] = "aes67"
    id: Annotated[Any, _READ_ONLY] = None
    discovered_id: Annotated[Any, _READ_ONLY] = None
    discovered_name: Annotated[Any, _READ_ONLY] = None
    source_filter: Annotated[Any, _READ_ONLY] = None
    redundant_source_filter: Annotated[Any, _READ_ONLY] = None
    mediaclk_offset: Annotated[Any, _READ_ONLY] = None
    ptime_us: Annotated[Any, _READ_ONLY] = None
    samples_per_packet: Annotated[Any, _READ_ONLY] = None

    @model_validator(mode="before")
    @classmethod
    def _check(cls, body: Any, info: ValidationInfo) -> Any:
        if not isinstance(body, dict):
            return body
        unknown = set(body) - set(EDITABLE) - set(READ_ONLY)
        if unknown:
            raise StudioError(400, f"Unknown source field {sorted(unknown)[0]!r}")
        source_id = (info.context or {}).get("source_id")
        if body.get("id") not in (None, source_id):
            raise StudioError(400, f"id={body['id']!r} does not match the source ({source_id or 'new'})")
        for req in ("name", "multicast_addr", "port"):
            if req not in body:
                raise StudioError(400, f"{req} is required")
        type_ = body.get("type", "aes67")
        if type_ != "aes67":
            raise StudioError(400, f"type={type_!r} is not supported (aes67)")
        return body

    def format_fields(self) -> dict[str, Any]:
        """The stream format fields given (not null), checked and normalised."""
        return {k: v for k in SOURCE_FORMAT_KEYS if (v := getattr(self, k)) is not None}


# -- a source made from a discovered stream -------------------------------------------------------

#: a field the body does not carry (``null`` is a value here: a null ``channels`` is refused)
_ABSENT: Any = type("Absent", (), {"__repr__": lambda self: "absent"})()


def _announced(key: str, v: Any) -> dict[str, Any]:
    """The SAP announcement ``v`` names: 404 when it is not announced now, 400 when it cannot be
    recorded (the field's value becomes the announcement)."""
    from origin.studio.common import service
    from origin.studio.discovery import discovered_by_id

    d = discovered_by_id(service(), str(v))
    if d is None:
        raise StudioError(404, f"Discovered stream {v} not found (not announced now)")
    if d.get("unsupported"):
        raise StudioError(400, f"Stream cannot be recorded: {d['unsupported']}")
    if d.get("encoding") not in ("L16", "L24"):
        raise StudioError(400, f"Stream encoding {d.get('encoding')!r} is not L16 or L24")
    return d


def stream_selection(d: dict[str, Any], offset: int | None, count: int | None) -> tuple[int, int]:
    """``(channel_offset, channels)`` of announced stream ``d`` (defaults: from channel 0, the rest
    of the stream); 400 when they do not fit its channels."""
    total = int(d.get("channels") or 1)
    offset = 0 if offset is None else offset
    count = total - offset if count is None else count
    if offset >= total or count < 1 or offset + count > total:
        raise StudioError(
            400, f"channels [{offset}, {offset + count}) do not fit the stream's {total} channels"
        )
    return offset, count


def _selected_channels(key: str, v: Any) -> Any:
    return None if v is _ABSENT else _recorder_check(key).fn(key, v)


def _selected_offset(key: str, v: Any, data: dict[str, Any]) -> int:
    offset = None if v is _ABSENT else _recorder_check(key).fn(key, v)
    return stream_selection(data["discovered_id"], offset, data["channels"])[0]


def _stream_source_name(key: str, v: Any, data: dict[str, Any]) -> str:
    if v is _ABSENT or v is None:
        d = data["discovered_id"]
        offset, count = stream_selection(d, data["channel_offset"], data["channels"])
        total = int(d.get("channels") or 1)
        v = d["name"] if (offset, count) == (0, total) else f"{d['name']} ch {offset + 1}-{offset + count}"
    return _source_name(key, v)


def _kept_description(key: str, v: Any) -> str | None:
    return v[:1000] if isinstance(v, str) and v else None


class SourceFromStream(BaseModel):
    """``POST /api/sources/`` with ``discovered_id``: a source made from a stream announced over
    SAP now, recording channels ``[channel_offset, channel_offset + channels)`` of it (default: all).

    Checked in this order: unknown fields, the announcement (404 when not announced now, 400 when
    it cannot be recorded), ``channels`` and ``channel_offset`` (:class:`RecorderConfig`'s
    declarations, then whether they fit the stream), ``description``, ``name``, ``enabled``.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"required": ["discovered_id"], "additionalProperties": False},
    )

    discovered_id: Annotated[
        Any,
        Check(
            {"type": "string", "description": "the id of a stream in GET /api/sources/discovered"}, _announced
        ),
    ] = None
    channels: Annotated[
        Any,
        Check(
            {**_recorder_check("channels").schema, "description": "default: the rest of the stream"},
            _selected_channels,
        ),
    ] = None
    channel_offset: Annotated[
        Any,
        Check(
            {**_recorder_check("channel_offset").schema, "description": "first channel, counted from 0"},
            _selected_offset,
            with_data=True,
        ),
    ] = 0
    description: Annotated[
        Any,
        Check(
            {"type": ["string", "null"], "description": "the first 1000 characters are kept"},
            _kept_description,
        ),
    ] = None
    name: Annotated[
        Any,
        Check(
            {
                "type": ["string", "null"],
                "minLength": 1,
                "maxLength": 200,
                "description": "default: the stream's name (with the channels when not all)",
            },
            _stream_source_name,
            with_data=True,
        ),
    ] = None
    enabled: Annotated[Any, Check({"type": "boolean"}, _enabled)] = True

    @model_validator(mode="before")
    @classmethod
    def _given(cls, body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        unknown = set(body) - set(cls.model_fields)
        if unknown:
            raise StudioError(400, f"Unknown source field {sorted(unknown)[0]!r}")
        if "discovered_id" not in body:
            raise StudioError(400, "discovered_id is required")
        return {"channels": _ABSENT, "channel_offset": _ABSENT, "name": _ABSENT, **body}

    def selection(self) -> tuple[int, int]:
        """``(channel_offset, channels)`` of the stream recorded."""
        return stream_selection(self.discovered_id, self.channel_offset, self.channels)


#: ``POST /api/sources/``: a typed-in source (:class:`SourceUpdate`'s field declarations; checked
#: by that model) or one made from a discovered stream (``discovered_id``; ``name``,
#: ``channel_offset``, ``channels``, ``enabled``, ``description``).
_create_fields: dict[str, Any] = {
    k: (Any, info) for k, info in SourceUpdate.model_fields.items() if k in EDITABLE
}
_create_fields["discovered_id"] = (
    Annotated[
        Any, Check({"type": "string", "description": "make the source from this SAP stream"}, lambda k, v: v)
    ],
    None,
)
SourceCreate = create_model(
    "SourceCreate",
    __config__=ConfigDict(extra="forbid", json_schema_extra={"required": ["name"]}),
    __doc__="A typed-in AES67 source, or one made from a discovered stream (discovered_id).",
    **_create_fields,
)


class SourceFromDiscovery(_Body):
    """Audyn's import of a discovered stream (the values are checked against the announcement)."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"required": ["stream_id"], "additionalProperties": False}
    )

    stream_id: Any = Field(None, json_schema_extra={"type": "string"})
    name: Any = Field(None, description="1-200 characters", json_schema_extra={"type": ["string", "null"]})
    description: Any = Field(None, json_schema_extra={"type": ["string", "null"]})
    channels: Any = Field(None, json_schema_extra={"type": ["integer", "null"]})
    channel_offset: Any = Field(None, json_schema_extra={"type": ["integer", "null"]})
    stream_channels: Any = Field(
        None, description="must match the announced stream", json_schema_extra={"type": ["integer", "null"]}
    )

    @model_validator(mode="before")
    @classmethod
    def _check(cls, body: Any) -> Any:
        if isinstance(body, dict):
            unknown = set(body) - set(cls.model_fields)
            if unknown:
                raise ValueError(f"Unknown field {sorted(unknown)[0]!r}")
            if not isinstance(body.get("stream_id"), str):
                raise ValueError("stream_id is required")
        return body

    def fields(self) -> dict[str, Any]:
        """The fields the client sent, as sent."""
        return self.model_dump(include=self.model_fields_set)
