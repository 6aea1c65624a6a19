"""NGO batches: up to 1,000 people, each judged on its own."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.registry.schemas.profiles import EXAMPLE_CREATE


class BulkIn(BaseModel):
    """Each item is validated on its own: one invalid person never sinks the batch."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {
        "items": [EXAMPLE_CREATE]}})

    items: list[dict[str, Any]] = Field(
        min_length=1, max_length=1000, description="Up to 1,000 profiles (ProfileCreate).",
        # Each item should be a ProfileCreate, but an invalid one is reported in its result
        # (status "invalid"), never a 422 of the batch: the contract says so.
        json_schema_extra={"items": {"anyOf": [{"$ref": "#/components/schemas/ProfileCreate"},
                                               {"type": "object"}]}})


class FieldError(BaseModel):
    field: str
    message: str


class BulkItemResult(BaseModel):
    index: int
    status: Literal["created", "duplicate", "invalid"]
    id: str | None = None
    existing_profile_id: str | None = Field(
        None, description="Duplicate document: the existing profile, only when you may "
                          "see it.")
    duplicate_of_index: int | None = Field(
        None, description="Duplicate of an earlier item of this same batch.")
    errors: list[FieldError] | None = None
    warnings: list[FieldError] | None = Field(
        None, description="Created, but something was left out: an optional phone that is "
                          "not a valid number is dropped (field `phone`).")


class BulkOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {
        "created": 2, "duplicates": 1, "invalid": 1, "results": [
            {"index": 0, "status": "created", "id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f"},
            {"index": 1, "status": "created", "id": "7f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f",
             "warnings": [{"field": "phone", "message": "Teléfono no válido: la persona se "
                                                        "registró sin teléfono"}]},
            {"index": 2, "status": "duplicate",
             "existing_profile_id": "6f1c1a52-3f7e-4b8e-9d55-0a3c2b1d4e5f"},
            {"index": 3, "status": "invalid",
             "errors": [{"field": "documents[0].number",
                         "message": "Número de cédula no válido (dígito verificador o "
                                    "provincia)"}]}]}})

    created: int
    duplicates: int
    invalid: int
    results: list[BulkItemResult]
