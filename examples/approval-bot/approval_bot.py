#!/usr/bin/env python3
"""An approval bot for Switchboard, against the public server API only (Python 3 stdlib).

It asks the requester's department head (the person of the requester's primary department
whose title matches --head-title) -- or the approver named with --approver -- to approve a
request, by sending them a card with "Approve" and "Reject" actions. It listens for the signed
callback (the app's callback URL must point at --listen), answers it with the card's final
text, tells the requester the outcome with a second card, prints the outcome as one JSON line
and exits (0 approved, 1 rejected, 2 nobody answered in time, 3 an error).

    python3 approval_bot.py --server http://127.0.0.1:8080 --key sbk_... --secret ... \
        --listen 127.0.0.1:8099 --requester wangwu --title "Leave: 3 days" --text "Dec 1-3"
"""

import argparse
import hashlib
import hmac
import json
import queue
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# How far a callback's timestamp may be from our clock (replayed callbacks are refused).
MAX_SKEW_SECS = 300


class Api:
    """The server API with the app's key."""

    def __init__(self, server, key):
        self.server = server.rstrip("/")
        self.key = key

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("X-Api-Key", self.key)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise SystemExit(f"{method} {path}: {error.code} {detail}") from None

    def person(self, who):
        return self.call("GET", "/api/v1/im/server/staff/" + urllib.parse.quote(who, safe=""))

    def department_people(self, department):
        return self.call("GET", f"/api/v1/im/server/departments/{department}/staff")

    def send_card(self, to, card, decision="single"):
        return self.call("POST", "/api/v1/im/server/cards",
                         {"to": {"staff": [to]}, "decision": decision, "card": card})["items"][0]


def find_approver(api, requester, approver, head_title):
    """The named approver, or the head of the requester's primary department."""
    if approver:
        return api.person(approver)
    departments = requester["departments"]
    if not departments:
        raise SystemExit(f"{requester['login']} has no department; name an --approver")
    pattern = re.compile(head_title, re.IGNORECASE)
    for department in departments:
        for person in api.department_people(department["id"]):
            if person["id"] != requester["id"] and pattern.search(person["title"] or ""):
                return person
    raise SystemExit(f"no head (title matching {head_title!r}) in {requester['login']}'s departments;"
                     " name an --approver")


def signed(secret, headers, body):
    """Whether a callback carries our app's signature (as webhooks are signed)."""
    timestamp = headers.get("X-Switchboard-Timestamp", "")
    signature = headers.get("X-Switchboard-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECS:
        return False
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest(signature, "sha256=" + mac.hexdigest())


def listen(address, secret, ours, events):
    """Serves the callback URL; callbacks about our card (`ours["card"]`, set once `ours["ready"]`
    is) go to `events`, each delivery once."""
    seen = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not signed(secret, self.headers, body):
                self.send_response(401)
                self.end_headers()
                return
            event = json.loads(body)
            answer = {}
            delivery = self.headers.get("X-Switchboard-Delivery")
            # An approver may act before our POST has returned: wait for the card's id.
            ours["ready"].wait(30)
            if event.get("card") == ours["card"] and delivery not in seen:
                seen.add(delivery)
                reply = queue.Queue()
                events.put((event, reply))
                answer = reply.get(timeout=10)
            out = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *args):
            pass

    host, port = address.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", required=True, help="Switchboard's address, http://host:port")
    parser.add_argument("--key", required=True, help="the app's API key (sbk_...)")
    parser.add_argument("--secret", required=True, help="the app's callback secret")
    parser.add_argument("--listen", default="127.0.0.1:8099", help="host:port of the callback URL")
    parser.add_argument("--requester", required=True, help="who asks: a login or staff id")
    parser.add_argument("--approver", help="who decides (default: the requester's department head)")
    parser.add_argument("--head-title", default="head|负责人|经理|manager",
                        help="a regular expression a department head's title matches")
    parser.add_argument("--title", default="请假申请 Leave request")
    parser.add_argument("--text", default="")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for a decision")
    args = parser.parse_args()

    api = Api(args.server, args.key)
    requester = api.person(args.requester)
    approver = find_approver(api, requester, args.approver, args.head_title)
    events = queue.Queue()
    card = {
        "title": args.title,
        "text": args.text,
        "fields": [{"label": "申请人 Requester", "value": requester["display_name"]},
                   {"label": "审批人 Approver", "value": approver["display_name"]}],
        "actions": [
            {"id": "approve", "label": "同意 Approve"},
            {"id": "reject", "label": "驳回 Reject", "confirm": "确定驳回？ Reject this request?",
             "comment": True},
        ],
    }
    # Listen before sending: a quick approver must not find nobody at the callback URL.
    ours = {"card": None, "ready": threading.Event()}
    server = listen(args.listen, args.secret, ours, events)
    sent = api.send_card(approver["id"], card)
    ours["card"] = sent["card"]
    ours["ready"].set()
    print(json.dumps({"asked": approver["login"], "card": sent["card"]}), flush=True)

    try:
        event, reply = events.get(timeout=args.timeout)
    except queue.Empty:
        print(json.dumps({"outcome": "timeout"}), flush=True)
        return 2
    approved = event["action"]["id"] == "approve"
    outcome = "approved" if approved else "rejected"
    verdict = "已同意 Approved" if approved else "已驳回 Rejected"
    done = dict(card, title=f"{args.title} — {verdict}")
    reply.put({"card": done, "close": True})
    api.send_card(requester["id"], {
        "title": f"{args.title}: {verdict}",
        "text": event.get("comment") or "",
        "fields": [{"label": "审批人 Approver", "value": event["staff"]["name"]}],
    }, decision="per_person")
    print(json.dumps({"outcome": outcome, "by": event["staff"]["login"],
                      "comment": event.get("comment"), "card": sent["card"]}), flush=True)
    time.sleep(0.5)  # let the answer reach the server before the listener goes
    server.shutdown()
    return 0 if approved else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as error:  # noqa: BLE001 -- one line for the operator, not a trace
        print(json.dumps({"error": str(error)}), flush=True)
        sys.exit(3)
