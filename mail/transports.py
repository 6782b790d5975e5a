"""How messages leave: SMTP through aiosmtplib (one connection per batch), or a local folder of
.eml files when no SMTP server is configured, so a fresh install works and nothing is lost."""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib


class Result(StrEnum):
    sent = "sent"
    retry = "retry"  # 4xx, a dropped connection, a timeout: try again later
    failed = "failed"  # 5xx: the server will not take it


@dataclass(frozen=True)
class Outcome:
    result: Result
    code: int | None
    reply: str


def classify(code: int | None, reply: str) -> Outcome:
    if code is not None and 200 <= code < 300:
        return Outcome(Result.sent, code, reply)
    if code is not None and code >= 500:
        return Outcome(Result.failed, code, reply)
    return Outcome(Result.retry, code, reply)


class Transport(Protocol):
    description: str

    async def __aenter__(self) -> Transport: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def send(self, recipient: str, content: bytes) -> Outcome: ...


@dataclass(frozen=True)
class SMTPConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool | None  # None: use it when the server offers it
    timeout: float
    verify_tls: bool = True

    @classmethod
    def from_url(cls, url: str) -> SMTPConfig:
        """smtp://user:pass@host:587?starttls=true&timeout=30, or smtps://host:465."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError(
                "SMTP_URL must look like smtp://user:password@host:587 or smtps://host:465"
            )
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        implicit = parts.scheme == "smtps"
        starttls_text = query.get("starttls")
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if implicit else 587),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            implicit_tls=implicit,
            starttls=None
            if starttls_text is None
            else starttls_text.lower() in {"1", "true", "yes"},
            timeout=float(query.get("timeout", "30")),
            verify_tls=query.get("verify", "true").lower() not in {"0", "false", "no"},
        )


class SMTPTransport:
    """One SMTP connection per batch, opened when the first message needs it and reopened
    when the server drops it (a 421 or a timeout closes the connection)."""

    def __init__(self, config: SMTPConfig, envelope_from: str) -> None:
        self.config = config
        self.envelope_from = envelope_from
        self.description = f"SMTP server {config.host}:{config.port}"
        self._client: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> SMTPTransport:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        await self._close()

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        config = self.config
        context = ssl.create_default_context()
        if not config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        client = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            use_tls=config.implicit_tls,
            start_tls=config.starttls,
            timeout=config.timeout,
            tls_context=context,
        )
        await client.connect()
        if config.username:
            await client.login(config.username, config.password or "")
        self._client = client
        return client

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def send(self, recipient: str, content: bytes) -> Outcome:
        try:
            client = await self._connection()
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            # Connecting or signing in failed (a wrong password, a server refusing us): that is
            # about the settings or the server, never this message, so it is tried again later.
            await self._close()
            code = getattr(error, "code", None)
            return Outcome(Result.retry, code, f"cannot use the SMTP server: {error}")
        try:
            refused, reply = await client.sendmail(self.envelope_from, [recipient], content)
        except aiosmtplib.SMTPRecipientsRefused as error:
            # Not an SMTPResponseException: the per-recipient replies are in .recipients.
            first = error.recipients[0]
            return classify(first.code, first.message)
        except aiosmtplib.SMTPSenderRefused as error:
            # The server refuses our MAIL FROM: a settings problem (MAIL_FROM), not the message's.
            return Outcome(Result.retry, error.code, f"sender refused: {error.message}")
        except aiosmtplib.SMTPResponseException as error:
            if error.code == 421 or not (self._client and self._client.is_connected):
                await self._close()
            return classify(error.code, error.message)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
            await self._close()
            return Outcome(Result.retry, None, f"{type(error).__name__}: {error}")
        if recipient in refused:
            response = refused[recipient]
            return classify(response.code, response.message)
        return Outcome(Result.sent, 250, reply)


class FolderTransport:
    """Writes each message as an .eml file: nothing leaves the machine, and the staff pages say
    so. Used when SMTP_URL is not set."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.description = f"the folder {folder} (mail is not leaving this machine)"

    async def __aenter__(self) -> FolderTransport:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        return None

    async def send(self, recipient: str, content: bytes) -> Outcome:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
        safe = "".join(c if c.isalnum() or c in "._-@" else "_" for c in recipient)[:80]
        path = self.folder / f"{stamp}-{safe}.eml"
        path.write_bytes(content)
        return Outcome(Result.sent, 250, f"written to {path.name}")


def transport_for(smtp_url: str | None, envelope_from: str, folder: Path) -> Transport:
    if smtp_url:
        return SMTPTransport(SMTPConfig.from_url(smtp_url), envelope_from)
    return FolderTransport(folder)
