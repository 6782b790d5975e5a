"""HTML pages for signing in (password or emailed link), one's own account and API tokens, and
the admin's people and audit pages."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from errors import DomainError, Forbidden, Gone, InvalidInput, TooManyRequests
from facilitators import audit, services, sign_in_links
from facilitators.auth import end_session, start_session
from facilitators.guards import admin_only, signed_in
from facilitators.services import CurrentUser, PersonInput
from facilitators.tables import CareerStage, Role
from web import field_errors, flash, form_data, form_lists, page


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _sign_in_page(
    target: str,
    *,
    email: str = "",
    error: str = "",
    link_email: str = "",
    link_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Template:
    """The sign-in page: the password form, and the form that emails a sign-in link."""
    return page(
        "facilitators/sign_in.html",
        {
            "next": target,
            "email": email,
            "error": error,
            "link_email": link_email,
            "link_errors": link_errors or {},
        },
        status_code=status_code,
    )


def _link_gone_page(message: str, status_code: int) -> Template:
    """A link that no longer works, with the form that sends a new one."""
    return page(
        "facilitators/sign_in_link.html",
        {"token": "", "error": message, "next": "/", "link_email": "", "link_errors": {}},
        status_code=status_code,
    )


class SignInPages(Controller):
    include_in_schema = False

    @get("/sign-in")
    async def sign_in_form(
        self, viewer: NamedDependency[CurrentUser | None], next: FromQuery[str | None] = None
    ) -> Template | Redirect:
        if viewer is not None:
            return Redirect(path=safe_next(next))
        return _sign_in_page(safe_next(next))

    @post("/sign-in/email")
    async def email_sign_in_link(self, request: Request[Any, Any, Any]) -> Template:
        """The same answer whether or not the address has an account."""
        form = await form_data(request)
        email = form.get("email", "").strip()
        target = safe_next(form.get("next"))
        client = request.client.host if request.client else ""
        try:
            await sign_in_links.request_link(email, client=client, next_path=target)
        except InvalidInput as error:
            message = error.errors[0].message if error.errors else error.detail
            return _sign_in_page(
                target, link_email=email, link_errors={"link_email": message}, status_code=400
            )
        except TooManyRequests as error:
            response = _sign_in_page(
                target, link_email=email, link_errors={"_form": error.detail}, status_code=429
            )
            response.headers["Retry-After"] = str(error.retry_after)
            return response
        return page("facilitators/sign_in_link_sent.html", {"email": email, "next": target})

    @get("/sign-in/link/{token:str}")
    async def sign_in_link(self, token: FromPath[str]) -> Template:
        """A page with one button: opening the link (as mail scanners do) does not use it."""
        if not await sign_in_links.is_usable(token):
            return _link_gone_page(sign_in_links.EXPIRED + ".", status_code=410)
        return page("facilitators/sign_in_link.html", {"token": token, "error": ""})

    @post("/sign-in/link/{token:str}")
    async def use_sign_in_link(
        self, token: FromPath[str], request: Request[Any, Any, Any]
    ) -> Template | Redirect:
        try:
            result = await sign_in_links.redeem(token)
        except Gone as gone:
            return _link_gone_page(gone.detail + ".", status_code=410)
        except Forbidden as deactivated:
            return _link_gone_page(deactivated.detail.capitalize() + ".", status_code=403)
        start_session(request, result.sign_in)
        return Redirect(path=safe_next(result.next_path))

    @post("/sign-in")
    async def sign_in(self, request: Request[Any, Any, Any]) -> Template | Redirect:
        form = await form_data(request)
        email = form.get("email", "").strip()
        target = safe_next(form.get("next"))
        client = request.client.host if request.client else ""
        try:
            result = await services.authenticate_password(
                email, form.get("password", ""), client=client
            )
        except Forbidden as deactivated:
            return _sign_in_page(
                target, email=email, error=deactivated.detail.capitalize() + ".", status_code=403
            )
        except TooManyRequests as limited:
            response = _sign_in_page(target, email=email, error=limited.detail, status_code=429)
            response.headers["Retry-After"] = str(limited.retry_after)
            return response
        if result is None:
            return _sign_in_page(
                target,
                email=email,
                error="That email and password do not match an account.",
                status_code=400,
            )
        start_session(request, result)
        return Redirect(path=target)

    @post("/sign-out")
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        end_session(request)
        return Redirect(path="/sign-in")


class AccountPages(Controller):
    path = "/account"
    include_in_schema = False
    guards = [signed_in]

    async def _render(
        self,
        user: CurrentUser,
        *,
        new_token: str = "",
        errors: dict[str, str] | None = None,
        notice: str = "",
        status_code: int = 200,
    ) -> Template:
        return page(
            "facilitators/account.html",
            {
                "person": await services.get_person(user.person_id),
                "tokens": await services.list_tokens(user.person_id),
                "new_token": new_token,
                "errors": errors or {},
                "notice": notice,
            },
            status_code=status_code,
        )

    @get("/")
    async def account(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template:
        session = request.scope.get("session")
        new_token = session.pop("new_token", "") if isinstance(session, dict) else ""
        return await self._render(user, new_token=new_token)

    @post("/tokens")
    async def create_token(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            token = await services.create_token(
                user.person_id, form.get("name", ""), actor_id=user.person_id
            )
        except DomainError as error:
            return await self._render(
                user, errors=field_errors(error), status_code=error.status_code
            )
        # Shown once on the next page; a redirect, so that reloading does not make another.
        session = dict(request.session)
        session["new_token"] = token
        request.set_session(session)
        return Redirect(path="/account")

    @post("/tokens/{token_id:int}/revoke")
    async def revoke_token(
        self,
        token_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        await services.revoke_token(token_id, owner_id=user.person_id, actor_id=user.person_id)
        flash(request, "Token revoked: it no longer works.")
        return Redirect(path="/account")

    @post("/timezone")
    async def set_timezone(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            zone = await services.set_own_timezone(user.person_id, form.get("timezone", ""))
        except DomainError as error:
            return await self._render(
                user, errors=field_errors(error), status_code=error.status_code
            )
        flash(
            request,
            f"Times are now also shown in {zone}."
            if zone
            else "Times are shown in each cohort's timezone.",
        )
        return Redirect(path="/account")

    @post("/password")
    async def change_password(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            if form.get("new_password", "") != form.get("confirm_password", ""):
                raise InvalidInput.single("confirm_password", "does not match the new password")
            if not await services.password_matches(
                user.person_id, form.get("current_password", "")
            ):
                raise InvalidInput.single("current_password", "is not your current password")
            generation = await services.set_password(
                user.person_id, form.get("new_password", ""), actor_id=user.person_id
            )
        except DomainError as error:
            return await self._render(
                user, errors=field_errors(error), status_code=error.status_code
            )
        # The change signed out every browser; this one stays signed in.
        start_session(request, services.SignIn(user=user, session_generation=generation))
        flash(request, "Password changed. Other browsers have been signed out.")
        return Redirect(path="/account")


def _person_form(form: dict[str, str]) -> PersonInput:
    return PersonInput(
        name=form.get("name", ""),
        email=form.get("email", ""),
        department=form.get("department", ""),
        career_stage=form.get("career_stage", ""),
        timezone=form.get("timezone", ""),
    )


class AdminPages(Controller):
    path = "/admin"
    include_in_schema = False
    guards = [admin_only]

    @get("/people")
    async def people(self, q: FromQuery[str] = "", role: FromQuery[str] = "") -> Template:
        return page(
            "facilitators/people.html",
            {
                "people": await services.list_people(
                    search=q[:200], role=role if role in services.ALL_ROLES else ""
                ),
                "q": q,
                "role": role,
                "form": {},
                "errors": {},
                "roles": [r.value for r in Role],
                "career_stages": [s.value for s in CareerStage],
            },
        )

    @post("/people")
    async def add_person(
        self, request: Request[Any, Any, Any], user: NamedDependency[CurrentUser]
    ) -> Template | Redirect:
        form = await form_data(request)
        roles = set(await form_lists(request, "roles"))
        try:
            person_id = await services.create_person(
                _person_form(form),
                roles,
                actor_id=user.person_id,
                password=form.get("password") or None,
            )
        except DomainError as error:
            return page(
                "facilitators/people.html",
                {
                    "people": await services.list_people(),
                    "q": "",
                    "role": "",
                    # The typed password is never sent back into the page.
                    "form": {
                        **{k: v for k, v in form.items() if k != "password"},
                        "roles": sorted(roles),
                    },
                    "errors": field_errors(error),
                    "roles": [r.value for r in Role],
                    "career_stages": [s.value for s in CareerStage],
                },
                status_code=error.status_code,
            )
        flash(request, "Person added.")
        return Redirect(path=f"/admin/people/{person_id}")

    async def _person_page(
        self,
        person_id: int,
        *,
        errors: dict[str, str] | None = None,
        notice: str = "",
        status_code: int = 200,
    ) -> Template:
        return page(
            "facilitators/person.html",
            {
                "person": await services.get_person(person_id),
                "tokens": await services.list_tokens(person_id),
                "roles": [r.value for r in Role],
                "career_stages": [s.value for s in CareerStage],
                "errors": errors or {},
                "notice": notice,
            },
            status_code=status_code,
        )

    @get("/people/{person_id:int}")
    async def person(self, person_id: FromPath[int]) -> Template:
        return await self._person_page(person_id)

    @post("/people/{person_id:int}")
    async def update_person(
        self,
        person_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            await services.update_person(person_id, _person_form(form), actor_id=user.person_id)
        except DomainError as error:
            return await self._person_page(
                person_id, errors=field_errors(error), status_code=error.status_code
            )
        flash(request, "Details saved.")
        return Redirect(path=f"/admin/people/{person_id}")

    @post("/people/{person_id:int}/roles")
    async def set_roles(
        self,
        person_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        try:
            await services.set_roles(
                person_id, set(await form_lists(request, "roles")), actor_id=user.person_id
            )
        except DomainError as error:
            return await self._person_page(
                person_id, errors=field_errors(error), status_code=error.status_code
            )
        flash(request, "Roles saved.")
        return Redirect(path=f"/admin/people/{person_id}")

    @post("/people/{person_id:int}/active")
    async def set_active(
        self,
        person_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            await services.set_active(person_id, form.get("active") == "1", actor_id=user.person_id)
        except DomainError as error:
            return await self._person_page(
                person_id, errors=field_errors(error), status_code=error.status_code
            )
        flash(
            request,
            "Reactivated."
            if form.get("active") == "1"
            else "Deactivated: signed out everywhere, API tokens revoked.",
        )
        return Redirect(path=f"/admin/people/{person_id}")

    @post("/people/{person_id:int}/password")
    async def reset_password(
        self,
        person_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Template:
        form = await form_data(request)
        try:
            await services.set_password(
                person_id, form.get("password", ""), actor_id=user.person_id
            )
        except DomainError as error:
            return await self._person_page(
                person_id, errors=field_errors(error), status_code=error.status_code
            )
        return await self._person_page(
            person_id, notice="Password set. The person has been signed out of every browser."
        )

    @post("/people/{person_id:int}/tokens/{token_id:int}/revoke")
    async def revoke_token(
        self,
        person_id: FromPath[int],
        token_id: FromPath[int],
        request: Request[Any, Any, Any],
        user: NamedDependency[CurrentUser],
    ) -> Redirect:
        await services.revoke_token(token_id, owner_id=person_id, actor_id=user.person_id)
        flash(request, "Token revoked.")
        return Redirect(path=f"/admin/people/{person_id}")

    @get("/audit")
    async def audit_log(
        self,
        action: FromQuery[str] = "",
        cohort: FromQuery[str] = "",
        actor: FromQuery[str] = "",
        page_number: FromQuery[str] = "1",
    ) -> Template:
        # Filters arrive as text: an empty box means "any", a non-number is ignored.
        cohort_id = int(cohort) if cohort.strip().isdigit() else None
        actor_id = int(actor) if actor.strip().isdigit() else None
        number = max(1, min(int(page_number) if page_number.isdigit() else 1, 10_000))
        per_page = 50
        entries = await audit.list_entries(
            audit.AuditFilter(
                action=action[:80],
                cohort_id=cohort_id,
                actor_id=actor_id,
                limit=per_page + 1,
                offset=(number - 1) * per_page,
            )
        )
        return page(
            "facilitators/audit.html",
            {
                "entries": entries[:per_page],
                "has_more": len(entries) > per_page,
                "page_number": number,
                "action": action,
                "cohort_id": cohort_id,
                "actor_id": actor_id,
                "actions": await audit.distinct_actions(),
            },
        )
