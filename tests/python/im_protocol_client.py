"""A WebSocket client written only from docs/protocol.md, with Python's `websockets`.

Two demo employees chat 1:1, in a group and in their department chat; the script checks acks,
pushes, dedup of resends, read receipts, typing, recall, errors, close codes and offline sync.
Run by tests/im_python.rs against a running server:

    python3 im_protocol_client.py http://127.0.0.1:PORT ADMIN_PASSWORD
"""

import asyncio
import json
import sys
import urllib.parse
import urllib.request
import uuid

import websockets

BASE = sys.argv[1]
ADMIN_PASSWORD = sys.argv[2]
WS = BASE.replace("http://", "ws://", 1) + "/ws"
WAIT = 15


def rest(method, path, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, method=method, data=data)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw else None


def login(name, password):
    status, body = rest("POST", "/api/v1/auth/login", body={"login": name, "password": password})
    assert status == 200, (status, body)
    return body


class Session:
    """One WebSocket session; frames not asked for yet are kept in order."""

    def __init__(self, ws):
        self.ws = ws
        self.kept = []

    @classmethod
    async def open(cls, token, device):
        ws = await websockets.connect(f"{WS}?token={token}&device={device}&v=1")
        session = cls(ws)
        welcome = await session.next()
        assert welcome["type"] == "welcome" and welcome["v"] == 1, welcome
        session.welcome = welcome
        return session

    async def send(self, frame):
        await self.ws.send(json.dumps(frame, ensure_ascii=False))

    async def next(self, kind=None, where=lambda f: True):
        for i, frame in enumerate(self.kept):
            if (kind is None or frame["type"] == kind) and where(frame):
                return self.kept.pop(i)
        while True:
            frame = json.loads(await asyncio.wait_for(self.ws.recv(), WAIT))
            if (kind is None or frame["type"] == kind) and where(frame):
                return frame
            self.kept.append(frame)

    async def sync(self, cursors):
        await self.send({"type": "sync", "id": "s", "cursors": cursors})
        messages = []
        while True:
            frame = await self.next(where=lambda f: f.get("id") == "s")
            if frame["type"] == "messages":
                messages.extend(frame["items"])
            elif frame["type"] == "sync.done":
                return messages, frame["conversations"]
            else:
                raise AssertionError(frame)

    async def send_text(self, text, **where):
        client_msg_id = str(uuid.uuid4())
        await self.send({"type": "send", "id": client_msg_id, "client_msg_id": client_msg_id,
                         "kind": "text", "body": {"text": text}, **where})
        answer = await self.next(where=lambda f: f.get("client_msg_id") == client_msg_id
                                 and f["type"] in ("ack", "error"))
        return client_msg_id, answer


async def main():
    admin = login("admin", ADMIN_PASSWORD)["token"]
    _, departments = rest("GET", "/api/v1/admin/departments", admin)
    frontend = next(d for d in departments["items"] if "Frontend" in d["name"])
    _, staff = rest("GET", f"/api/v1/admin/staff?department_id={frontend['id']}", admin)
    employees = [s for s in staff["items"] if s["staff_type"] == "employee"][:2]
    alice_login, bob_login = employees[0]["login"], employees[1]["login"]
    alice = login(alice_login, "demo1234")
    bob = login(bob_login, "demo1234")

    a = await Session.open(alice["token"], "py-laptop")
    b = await Session.open(bob["token"], "py-phone")
    _, conversations = await a.sync({})
    await b.sync({})

    # 1:1: the first message names the colleague with `to`.
    cid, ack = await a.send_text("你好, Bob", to=bob["staff_id"])
    assert ack["type"] == "ack" and ack["seq"] == 1, ack
    direct = ack["conversation"]
    pushed = await b.next("message")
    assert pushed["conversation"] == direct and pushed["body"]["text"] == "你好, Bob", pushed
    assert pushed["sender"] == alice["staff_id"] and pushed["client_msg_id"] == cid

    # A resend with the same client_msg_id: the same ack, nothing new for Bob.
    await a.send({"type": "send", "id": "again", "client_msg_id": cid, "to": bob["staff_id"],
                  "kind": "text", "body": {"text": "你好, Bob"}})
    again = await a.next("ack", lambda f: f.get("id") == "again")
    assert {k: again[k] for k in ("msg_id", "seq", "conversation")} == \
           {k: ack[k] for k in ("msg_id", "seq", "conversation")}, (again, ack)

    # Read receipt and typing.
    await b.send({"type": "read", "id": "r", "conversation": direct, "seq": 1})
    assert (await b.next("ok", lambda f: f.get("id") == "r"))["type"] == "ok"
    receipt = await a.next("read")
    assert receipt["staff"] == bob["staff_id"] and receipt["seq"] == 1, receipt
    await b.send({"type": "typing", "conversation": direct})
    typing = await a.next("typing")
    assert typing["staff"] == bob["staff_id"], typing

    # A group made over REST, then chat in it.
    status, created = rest("POST", "/api/v1/im/groups", alice["token"],
                           {"name": "Python 小组", "members": [bob["staff_id"]]})
    assert status == 201, created
    group = created["conversation"]
    _, ack = await b.send_text("group hello", conversation=group)
    assert ack["type"] == "ack", ack
    notice = await a.next("message", lambda f: f["conversation"] == group and f["kind"] == "system")
    assert notice["body"]["event"] == "group.created", notice
    hello = await a.next("message", lambda f: f["conversation"] == group and f["kind"] == "text")
    assert hello["body"]["text"] == "group hello"

    # The department chat is in the list from sync.done.
    department = next(c for c in conversations if c["kind"] == "department")
    assert "Frontend" in department["name"], department
    _, ack = await a.send_text("部门好", conversation=department["id"])
    assert ack["type"] == "ack", ack
    assert (await b.next("message", lambda f: f["conversation"] == department["id"]))["body"]["text"] == "部门好"

    # Recall: Bob sees the event; history no longer serves the content.
    await a.send({"type": "recall", "id": "rc", "conversation": direct, "seq": 1})
    recall_ack = await a.next("ack", lambda f: f.get("id") == "rc")
    event = await b.next("message", lambda f: f["kind"] == "recall")
    assert event["ref_seq"] == 1 and event["seq"] == recall_ack["seq"], event
    _, history = rest("GET", f"/api/v1/im/conversations/{direct}/messages?after=0", bob["token"])
    assert history[0]["recalled"] is True and history[0]["body"] is None, history

    # Errors keep the connection; unknown types are named.
    await a.ws.send("{not json")
    assert (await a.next("error"))["code"] == "bad_frame"
    await a.send({"type": "fly", "id": 99})
    error = await a.next("error", lambda f: f.get("id") == 99)
    assert error["code"] == "unknown_type", error
    _, refused = await a.send_text("hi", conversation=str(uuid.uuid4()))
    assert refused["type"] == "error" and refused["code"] == "not_found", refused
    await a.send({"type": "ping", "id": "p"})
    assert (await a.next("pong", lambda f: f.get("id") == "p"))["type"] == "pong"

    # Offline, then reconnect with cursors: everything missed, in order, once.
    cursor = recall_ack["seq"]
    await b.ws.close()
    for n in range(5):
        _, ack = await a.send_text(f"while away {n}", conversation=direct)
        assert ack["type"] == "ack", ack
    b = await Session.open(bob["token"], "py-phone")
    missed, _ = await b.sync({direct: cursor})
    texts = [m["body"]["text"] for m in missed if m["conversation"] == direct]
    assert texts == [f"while away {n}" for n in range(5)], texts
    seqs = [m["seq"] for m in missed if m["conversation"] == direct]
    assert seqs == list(range(cursor + 1, cursor + 6)), seqs

    # Oversized frame: closed with 1009.
    await a.ws.send("x" * (a.welcome["max_frame_bytes"] + 100))
    try:
        while True:
            await asyncio.wait_for(a.ws.recv(), WAIT)
    except websockets.ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
        assert code == 1009, closed

    # A bad token: closed with 4003.
    try:
        async with websockets.connect(f"{WS}?token=nonsense") as ws:
            await asyncio.wait_for(ws.recv(), WAIT)
        raise AssertionError("expected a close")
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd and closed.rcvd.code == 4003, closed

    await b.ws.close()
    print("python websockets client: all checks passed")


asyncio.run(main())
