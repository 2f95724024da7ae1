"""Keygate's verify API as a Flask decorator, with requests.

    KEYGATE_VERIFY_URL  https://<api id>.execute-api.<region>.amazonaws.com/api/v1/keys/verify/
                        (locally http://127.0.0.1:9000/lambda-url/verify/)
    KEYGATE_TOKEN       an admin credential (kga_...) with the role `verify`

    @app.get("/orders")
    @require_key(scopes=["orders:read"])
    def orders():
        return {"owner": g.api_key["owner"]}
"""

import functools
import logging
import os

import requests
from flask import g, jsonify, request

URL = os.environ["KEYGATE_VERIFY_URL"]
session = requests.Session()  # one connection pool, reused across requests
session.headers["Authorization"] = f"Bearer {os.environ['KEYGATE_TOKEN']}"


def require_key(scopes=(), cost=1):
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            key = request.headers.get("X-API-KEY")
            if not key:
                return jsonify(detail="API Key is missing. Send it in the X-API-KEY header."), 403
            try:
                reply = session.post(URL, json={"key": key, "scopes": list(scopes), "cost": cost}, timeout=2)
                # 401 means our own KEYGATE_TOKEN is wrong, 503 that Keygate cannot answer:
                # neither is the client's fault.
                reply.raise_for_status()
                answer = reply.json()
            except requests.RequestException as err:
                logging.error("key check failed: %s", err)
                return jsonify(detail="Retry in a few seconds."), 503, {"Retry-After": "1"}
            if not answer["valid"]:
                limited = answer["code"] in ("RATE_LIMITED", "QUOTA_EXHAUSTED")
                return jsonify(detail=answer["code"]), 429 if limited else 403
            g.api_key = answer  # key_id, name, owner, scopes, meta, expires_at, limits, quota
            return view(*args, **kwargs)

        return wrapped

    return decorator
