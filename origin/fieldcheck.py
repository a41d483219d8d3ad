"""A request field's one declaration: its JSON Schema and its check, for pydantic models.

``Annotated[Any, Check(schema, fn)]`` makes a model field whose validation is ``fn(field_name,
value)`` (and nothing else) and whose JSON Schema in ``/openapi.json`` is ``schema``. ``fn``
raises the API's own error (:class:`origin.errors.APIError` on the mixer API,
:class:`origin.errors.StudioError` on the studio API): pydantic lets any exception other than
``ValueError``/``AssertionError`` through, so a bad field gets the API's error shape and its
established message, and the model is still the one declaration that validates and documents.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["Check"]


@dataclass(frozen=True)
class Check:
    """A field's one declaration: its JSON Schema and its validator ``fn(field_name, value)``.

    Used as ``Annotated[Any, Check(...)]`` metadata: pydantic runs ``fn`` (and nothing else) on a
    value the body carries, and shows ``schema`` for the field in the OpenAPI document.
    """

    schema: Mapping[str, Any]
    fn: Callable[..., Any] = field(compare=False)
    #: ``fn(field_name, value, data)``: ``data`` holds the fields declared (and checked) before
    #: this one, for a check that depends on them (e.g. declared settings)
    with_data: bool = False

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        fn = self.fn

        def validate(value: Any, info: core_schema.ValidationInfo) -> Any:
            return fn(info.field_name or "", value)

        def validate_with_data(value: Any, info: core_schema.ValidationInfo) -> Any:
            return fn(info.field_name or "", value, info.data)

        return core_schema.with_info_plain_validator_function(
            validate_with_data if self.with_data else validate
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        body = getattr(self.schema, "body", None)  # origin.openapi.SchemaRef: pydantic resolves
        return dict(body if body is not None else self.schema)  # every $ref among its own defs
