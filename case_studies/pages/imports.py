"""HTML pages for importing an organization's licensed case studies (office staff and
administrators): upload a CSV or a .zip of Markdown files, read the preview case by case,
then apply it, all or nothing."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from case_studies import imports
from errors import DomainError, InvalidInput
from facilitators.guards import office_only
from facilitators.services import CurrentUser
from sessions import curricula
from web import field_errors, flash, page

# The upload, or the previewed file carried back in base64 (a third larger), with the form.
MAX_BODY = 3 * imports.MAX_BYTES


def _carried(data: bytes) -> str:
    """The previewed file, for the hidden field that brings it back with "Apply"."""
    return base64.b64encode(data).decode("ascii")


async def _chosen_file(form: Any, *, allow_upload: bool) -> tuple[str, bytes]:
    """The file's name and bytes: a new upload, or the previewed file carried back."""
    upload = form.get("case_file")
    if allow_upload and isinstance(upload, UploadFile) and upload.filename:
        return upload.filename, await upload.read(imports.MAX_BYTES + 1)
    carried = str(form.get("file_data") or "")
    if not carried:
        raise InvalidInput.single(imports.FIELD, "choose a CSV or .zip file to import")
    try:
        data = base64.b64decode(carried, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput.single(
            imports.FIELD, "the previewed file could not be read back; choose it again"
        ) from None
    return str(form.get("file_name") or "upload"), data


class CaseImportPages(Controller):
    path = "/cases/import"
    include_in_schema = False
    guards = [office_only]

    async def _render(
        self,
        *,
        preview: imports.CaseImport | None = None,
        data: bytes = b"",
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Template:
        return page(
            "case_studies/import.html",
            {
                "preview": preview,
                "file_data": _carried(data) if preview is not None else "",
                "errors": errors or {},
                "max_cases": imports.MAX_CASES,
                "max_megabytes": imports.MAX_BYTES // 1_000_000,
                "competencies": await curricula.list_competencies(),
            },
            status_code=status_code,
        )

    @get("/")
    async def form(self) -> Template:
        return await self._render()

    @post("/preview", request_max_body_size=MAX_BODY)
    async def preview(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template:
        form = await request.form()
        try:
            name, data = await _chosen_file(form, allow_upload=True)
            result = await imports.import_cases(name, data, dry_run=True, actor=user)
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            return await self._render(errors=field_errors(error), status_code=error.status_code)
        return await self._render(preview=result, data=data)

    @post("/apply", request_max_body_size=MAX_BODY)
    async def apply(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template | Redirect:
        """Apply the previewed file, checked again as it is now: all of it or nothing."""
        form = await request.form()
        data = b""
        try:
            name, data = await _chosen_file(form, allow_upload=False)
            result = await imports.import_cases(name, data, dry_run=False, actor=user)
        except imports.CasesRejected as rejected:
            return await self._render(
                preview=rejected.preview,
                data=data,
                errors={"_form": rejected.detail},
                status_code=422,
            )
        except DomainError as error:
            if error.status_code in (403, 404):
                raise
            return await self._render(errors=field_errors(error), status_code=error.status_code)
        added = result.count(imports.RowAction.add)
        skipped = result.count(imports.RowAction.duplicate)
        flash(
            request,
            f"Imported {added} case {'study' if added == 1 else 'studies'} into the library"
            + (f"; {skipped} already there, skipped." if skipped else "."),
        )
        return Redirect(path="/cases", query_params={"provenance": "curriculum"})
