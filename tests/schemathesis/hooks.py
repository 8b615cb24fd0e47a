"""Schemathesis hooks for tests/openapi_schemathesis.rs: who the generated requests act as.

- `/api/v1/admin/...`: the built-in administrator (a service account no request can demote).
- the person's API (`/api/v1/auth/me`, contacts, messaging, push): an employee of the demo company;
  when a generated request has taken that account away (a new password, disabled, deleted,
  logged out), a fresh employee is made through the admin API.
- the person's own settings (`/api/v1/me/...`): that employee too.
- `POST /api/v1/auth/logout`: a token of its own each time (logging out ends every session).
- the server API (`/api/v1/im/server/...`): an API key.

SB_BASE, SB_ADMIN_PASSWORD and SB_API_KEY come from the test.
"""

import itertools
import os
import threading

from schemathesis.generation import GenerationMode

import requests
import schemathesis

BASE = os.environ["SB_BASE"]
ADMIN_PASSWORD = os.environ["SB_ADMIN_PASSWORD"]
API_KEY = os.environ["SB_API_KEY"]
PASSWORD = "schemathesis-person-1"

_lock = threading.Lock()
_counter = itertools.count(1)
_admin_token = None


def _login(login, password):
    reply = requests.post(
        f"{BASE}/api/v1/auth/login", json={"login": login, "password": password}, timeout=30
    )
    reply.raise_for_status()
    return reply.json()["token"]


def _admin():
    global _admin_token
    with _lock:
        if _admin_token is None:
            _admin_token = _login("admin", ADMIN_PASSWORD)
        return _admin_token


def _new_person():
    """Makes an employee in the first department with a local password; returns a token."""
    headers = {"Authorization": f"Bearer {_admin()}"}
    departments = requests.get(f"{BASE}/api/v1/admin/departments", headers=headers, timeout=30)
    departments.raise_for_status()
    department = departments.json()["items"][0]["id"]
    login = f"st-person-{os.getpid()}-{next(_counter)}"
    created = requests.post(
        f"{BASE}/api/v1/admin/staff",
        headers=headers,
        json={
            "login": login,
            "display_name": f"Schemathesis {login}",
            "staff_type": "employee",
            "departments": [{"department_id": department}],
        },
        timeout=30,
    )
    created.raise_for_status()
    password = requests.put(
        f"{BASE}/api/v1/admin/staff/{created.json()['id']}/password",
        headers=headers,
        json={"password": PASSWORD},
        timeout=30,
    )
    password.raise_for_status()
    return _login(login, PASSWORD)


def _bearer(case, token):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}


@schemathesis.auth(refresh_interval=None).apply_to(method="POST", path="/api/v1/auth/logout")
class LogoutAuth:
    def get(self, case, ctx):
        return _new_person()

    def set(self, case, data, ctx):
        _bearer(case, data)


@schemathesis.auth(refresh_interval=600).apply_to(path_regex=r"^/api/v1/admin/")
class AdminAuth:
    def get(self, case, ctx):
        return _admin()

    def set(self, case, data, ctx):
        _bearer(case, data)


@schemathesis.auth(refresh_interval=600).apply_to(path_regex=r"^/api/v1/im/server/")
class ApiKeyAuth:
    def get(self, case, ctx):
        return API_KEY

    def set(self, case, data, ctx):
        case.headers = {**(case.headers or {}), "X-Api-Key": data}


@schemathesis.auth(refresh_interval=600).apply_to(
    path_regex=r"^/api/v1/(auth/me|me/|contacts/|im/(?!server/)|push/)"
)
class PersonAuth:
    def get(self, case, ctx):
        return _new_person()

    def set(self, case, data, ctx):
        _bearer(case, data)


_fields_as_loaded = None


def _fields_when_loaded():
    """This instance's custom fields before any generated request (the demo company's)."""
    global _fields_as_loaded
    token = _admin()
    with _lock:
        if _fields_as_loaded is None:
            reply = requests.get(
                f"{BASE}/api/v1/admin/fields",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            reply.raise_for_status()
            _fields_as_loaded = {(f["entity"], f["key"]): f for f in reply.json()}
        return _fields_as_loaded


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if case.method == "POST" and case.path == "/api/v1/admin/fields":
        _fields_when_loaded()


@schemathesis.hook
def after_call(ctx, case, response):
    """A custom field a generated request defined or redefined is put back at once.

    The served document lists this instance's custom fields (their types, which are required)
    as they were when schemathesis loaded it; a field defined or changed later, a required one
    above all, would make the document it holds untrue for every later request that creates a
    person or a department. Putting it back keeps the document true; the request and its
    answer were checked.
    """
    if not (
        case.method == "POST"
        and case.path == "/api/v1/admin/fields"
        and response.status_code == 201
    ):
        return
    field = response.json()
    headers = {"Authorization": f"Bearer {_admin()}"}
    before = _fields_when_loaded().get((field["entity"], field["key"]))
    if before is None:
        undo = requests.delete(
            f"{BASE}/api/v1/admin/fields/{field['entity']}/{field['key']}",
            headers=headers,
            timeout=30,
        )
    else:
        undo = requests.post(f"{BASE}/api/v1/admin/fields", headers=headers, json=before, timeout=30)
    undo.raise_for_status()


def _one_membership_each(memberships):
    """Memberships as the server takes them: one per department, at most one primary."""
    seen, primary, kept = set(), False, []
    for membership in memberships:
        if not isinstance(membership, dict) or membership.get("department_id") in seen:
            continue
        seen.add(membership.get("department_id"))
        if membership.get("primary") is True:
            if primary:
                membership = {**membership, "primary": False}
            primary = True
        kept.append(membership)
    return kept


@schemathesis.hook
def map_case(ctx, case):
    """Membership lists of valid requests hold each department once, with one primary at most.

    JSON Schema cannot say "unique by `department_id`" or "at most one item with
    `primary: true`"; the document says both in words (`MembershipInput`) and the server
    refuses such lists with 422. Only valid (positive) requests are changed: every other
    constraint of theirs is still generated and checked, and negative requests go as drawn.
    """
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return case
    body = case.body
    if isinstance(body, list) and case.path.endswith("/departments") and case.method == "PUT":
        case.body = _one_membership_each(body)
    elif isinstance(body, dict) and isinstance(body.get("departments"), list):
        case.body = {**body, "departments": _one_membership_each(body["departments"])}
    return case
