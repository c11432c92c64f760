"""The Slack emulator's Web API (`/api/{method}`, response URLs) and what it keeps: users'
profiles and the messages the bot posted."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from adapters.emulators._recorder import Emulator, decode_json_fields
from adapters.emulators._slack_payloads import dm_channel

__all__ = ["SlackWebApi"]

_JSON_PARAMS = frozenset(
    {
        "blocks",
        "attachments",
        "metadata",
        "unfurl_links",
        "unfurl_media",
        "mrkdwn",
        "reply_broadcast",
        "as_user",
        "link_names",
    }
)
_SEND_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "response_url"})

_Answer = tuple[int, dict[str, Any]]


class SlackWebApi(Emulator):
    """The Web API's methods over the emulator's state; faults and recording come from
    `Emulator`; `SlackEmulator` adds the customer side."""

    def __init__(
        self,
        token: str | None = None,
        *,
        team_id: str = "T0EMU0001",
        team: str = "Emulator",
        user_id: str = "U0EMUBOT1",
        bot_id: str = "B0EMUBOT1",
        api_app_id: str = "A0EMUAPP1",
    ) -> None:
        super().__init__()
        self.token = token
        self.team_id = team_id
        self.team = team
        self.user_id = user_id
        self.bot_id = bot_id
        self.api_app_id = api_app_id
        self.users: dict[str, dict[str, Any]] = {}
        """Profiles users.info answers with, by user id (see `add_user`)."""
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        """Messages the bot posted, by (channel, ts)."""
        self._last_ts = 0.0
        self._responses: dict[str, str] = {}
        self._handlers: dict[str, Callable[[dict[str, Any]], _Answer]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.postEphemeral": self._post_message,
            "chat.update": self._update,
            "conversations.open": self._open,
            "users.info": self._users_info,
            "files.getUploadURLExternal": self._upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        self.shared: dict[str, tuple[bytes, str]] = {}
        """Files customers shared, by url_private key: (bytes, type)."""
        self.files: dict[str, dict[str, Any]] = {}
        """Files the bot uploaded, by file id: {"name", "length", "data", "channel"}."""

    def add_user(
        self, user_id: str, name: str, *, real_name: str | None = None, email: str | None = None
    ) -> None:
        """Set the profile users.info returns for `user_id`."""
        self.users[user_id] = self._user(user_id, name, real_name or name.title(), email)

    def sent_to(self, recipient: str | int) -> list[str]:
        """Texts successfully posted to a channel, or to the DM of a user id ("U...")."""
        return super().sent_to(dm_channel(str(recipient)))

    def next_ts(self) -> str:
        """A fresh message ts, later than every earlier one."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    # --- the API -------------------------------------------------------------------------

    def _setup(self, app: web.Application) -> None:
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_get("/api/{method}", self._handle)
        app.router.add_post("/response/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._receive_upload)
        app.router.add_get("/files-pri/{key}/{name}", self._private_file)

    def _fault_response(self, status: int, retry_after: int) -> tuple[web.Response, Any]:
        if status == 429:
            body = {"ok": False, "error": "ratelimited"}
            return web.json_response(
                body, status=429, headers={"Retry-After": str(retry_after)}
            ), body
        body = {"ok": False, "error": "fatal_error" if status >= 500 else "invalid_request"}
        return web.json_response(body, status=status), body

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = decode_json_fields(request.query.items(), frozenset())
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                params.update(
                    decode_json_fields(
                        ((k, v) for k, v in form.items() if isinstance(v, str)),
                        frozenset(form.keys()) - _JSON_PARAMS,
                    )
                )
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header else params.get("token", "")
        if not token:
            return self._answer(method, params, (200, {"ok": False, "error": "not_authed"}))
        if not str(token).startswith("xoxb-") or self.token not in (None, token):
            return self._answer(method, params, (200, {"ok": False, "error": "invalid_auth"}))
        fault = self._take_fault(method)
        if fault is not None:
            return await self._apply_fault(fault, method, params)
        if method in _SEND_METHODS:
            limited = self._over_limit(method, str(params.get("channel", "")))
            if limited is not None:
                return await self._apply_fault(limited, method, params)
        handler = self._handlers.get(method)
        answer = handler(params) if handler is not None else (200, {"ok": True})
        return self._answer(method, params, answer)

    def _answer(self, method: str, params: dict[str, Any], answer: _Answer) -> web.Response:
        status, body = answer
        recipient = text = None
        if method in _SEND_METHODS and body.get("ok"):
            recipient, text = body["channel"], params.get("text")
        self._record(method, params, status, body, recipient=recipient, text=text)
        return web.json_response(body, status=status)

    def _auth_test(self, params: dict[str, Any]) -> _Answer:
        return 200, {
            "ok": True,
            "url": f"https://{self.team.lower()}.slack.com/",
            "team": self.team,
            "user": "baton",
            "team_id": self.team_id,
            "user_id": self.user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def add_customer_file(self, data: bytes, name: str, mimetype: str) -> dict[str, Any]:
        """A file the customer shares: the `files` entry of their message event, whose
        `url_private` this emulator serves to the bot token."""
        if self.base_url is None:
            raise RuntimeError("the emulator is not running: add files inside run()")
        file_id = "F" + secrets.token_hex(5).upper()
        key = f"{self.team_id}-{file_id}"
        self.shared[key] = (data, mimetype)
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2],
            "size": len(data),
            "url_private": f"{self.base_url}/files-pri/{key}/{name}",
        }

    async def _private_file(self, request: web.Request) -> web.StreamResponse:
        params: dict[str, Any] = {"key": request.match_info["key"]}
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        found = self.shared.get(request.match_info["key"])
        if not token.startswith("xoxb-") or self.token not in (None, token) or found is None:
            self._record("files.private", params, 404, None)
            return web.Response(status=404, text="not found")
        self._record("files.private", params, 200, None)
        return web.Response(body=found[0], content_type=found[1])

    def _upload_url(self, params: dict[str, Any]) -> _Answer:
        name, length = params.get("filename"), params.get("length")
        if not name or not str(length or "").isdigit():
            return 200, {"ok": False, "error": "invalid_arguments"}
        file_id = "F" + secrets.token_hex(5).upper()
        self.files[file_id] = {"name": str(name), "length": int(str(length)), "data": None}
        return 200, {
            "ok": True,
            "upload_url": f"{self.base_url}/upload/{file_id}",
            "file_id": file_id,
        }

    async def _receive_upload(self, request: web.Request) -> web.StreamResponse:
        found = self.files.get(request.match_info["file_id"])
        data = await request.read()
        params: dict[str, Any] = {"file_id": request.match_info["file_id"], "bytes": len(data)}
        if found is None:
            self._record("upload", params, 404, None)
            return web.Response(status=404, text="not found")
        found["data"] = data
        self._record("upload", params, 200, None)
        return web.Response(text=f"OK - {len(data)}")

    def _complete_upload(self, params: dict[str, Any]) -> _Answer:
        listed = params.get("files")
        if isinstance(listed, str):
            try:
                listed = json.loads(listed)
            except ValueError:
                listed = None
        if not isinstance(listed, list) or not listed:
            return 200, {"ok": False, "error": "invalid_arguments"}
        channel = dm_channel(str(params.get("channel_id") or params.get("channels") or ""))
        done = []
        for item in listed:
            found = self.files.get(str(item.get("id", ""))) if isinstance(item, dict) else None
            if found is None or found["data"] is None:
                return 200, {"ok": False, "error": "file_not_found"}
            found["channel"] = channel
            done.append(
                {
                    "id": item["id"],
                    "name": found["name"],
                    "title": item.get("title") or found["name"],
                }
            )
        return 200, {"ok": True, "files": done}

    def _post_message(self, params: dict[str, Any]) -> _Answer:
        channel = params.get("channel")
        if not channel:
            return 200, {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return 200, {"ok": False, "error": "no_text"}
        channel = dm_channel(str(channel))
        ts = self.next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "text": params.get("text", ""),
            "user": self.user_id,
            "bot_id": self.bot_id,
            "app_id": self.api_app_id,
            "ts": ts,
            "team": self.team_id,
            "bot_profile": {
                "id": self.bot_id,
                "app_id": self.api_app_id,
                "name": "baton",
                "team_id": self.team_id,
                "deleted": False,
            },
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if params.get(key) is not None:
                message[key] = params[key]
        self.messages[channel, ts] = message
        return 200, {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, params: dict[str, Any]) -> _Answer:
        channel = dm_channel(str(params.get("channel", "")))
        message = self.messages.get((channel, str(params.get("ts", ""))))
        if message is None:
            return 200, {"ok": False, "error": "message_not_found"}
        for key in ("text", "blocks", "attachments"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": self.user_id, "ts": self.next_ts()}
        return 200, {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": message,
        }

    def _open(self, params: dict[str, Any]) -> _Answer:
        if params.get("channel"):
            return 200, {"ok": True, "channel": {"id": params["channel"]}}
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            return 200, {"ok": False, "error": "users_list_not_supplied"}
        channel_id = dm_channel(users[0]) if len(users) == 1 else "G" + secrets.token_hex(5)
        return 200, {
            "ok": True,
            "no_op": True,
            "already_open": True,
            "channel": {"id": channel_id},
        }

    def _users_info(self, params: dict[str, Any]) -> _Answer:
        user_id = str(params.get("user", ""))
        if not user_id.startswith(("U", "W")):
            return 200, {"ok": False, "error": "user_not_found"}
        user = self.users.get(user_id) or self._user(
            user_id, user_id.lower(), f"Customer {user_id}", None
        )
        return 200, {"ok": True, "user": user}

    def _user(self, user_id: str, name: str, real_name: str, email: str | None) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": real_name,
            "display_name": name,
            "real_name_normalized": real_name,
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        return {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": "Europe/London",
            "is_bot": False,
            "is_admin": False,
            "profile": profile,
        }

    async def _respond(self, request: web.Request) -> web.StreamResponse:
        channel = self._responses.get(request.match_info["key"])
        params: dict[str, Any] = await request.json() if request.can_read_body else {}
        if channel is None:
            self._record("response_url", params, 404, None)
            return web.Response(status=404, text="no_response_url")
        self._record("response_url", params, 200, None, recipient=channel, text=params.get("text"))
        return web.Response(text="ok")
