"""Schemathesis hooks for tests/openapi_schemathesis.rs: who the generated requests act as.

- `/api/v1/admin/...`: the built-in administrator (a service account no request can demote).
- the person's API (`/api/v1/auth/me`, contacts, messaging): an employee of the demo company;
  when a generated request has taken that account away (a new password, disabled, deleted,
  logged out), a fresh employee is made through the admin API.
- `POST /api/v1/auth/logout`: a token of its own each time (logging out ends every session).
- the server API (`/api/v1/im/server/...`): an API key.

SB_BASE, SB_ADMIN_PASSWORD and SB_API_KEY come from the test.
"""

import itertools
import os
import threading

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
    path_regex=r"^/api/v1/(auth/me|contacts/|im/(?!server/))"
)
class PersonAuth:
    def get(self, case, ctx):
        return _new_person()

    def set(self, case, data, ctx):
        _bearer(case, data)
