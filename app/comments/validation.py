"""Checks on client input: every problem with it is a 4xx with a JSON reason, found before the
database sees it (PostgreSQL refuses NUL in text, and a lone surrogate cannot be encoded)."""

import json
import re

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")
# In characters (code points), as the contract states them, not bytes.
LIMITS = {"email": 254, "comment": 5000, "content_id": 128}
# A NUL, or a UTF-16 surrogate standing alone (JSON's "\ud800"): text no database stores.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class Invalid(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


def parse_json(data):
    """The request body as JSON, or Invalid: not UTF-8, not JSON, or nested deeper than Python's
    recursion limit (about 1,000 levels; no valid body nests more than 2)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise Invalid("the body is nested too deeply") from None
    except ValueError:  # UnicodeDecodeError is one too
        raise Invalid("the body is not valid JSON") from None


def new_comment(body):
    """Returns (content_id, email, comment) from a request body, or raises Invalid."""
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object")
    missing = [k for k in ("email", "comment", "content_id") if body.get(k) in (None, "")]
    if missing:
        raise Invalid("missing field(s): " + ", ".join(missing))
    content_id = body["content_id"]
    if isinstance(content_id, bool) or not isinstance(content_id, (str, int)):
        raise Invalid("content_id must be a string or an integer")
    content_id = str(content_id)
    email, comment = body["email"], body["comment"]
    if not isinstance(email, str) or not isinstance(comment, str):
        raise Invalid("email and comment must be strings")
    for field, value in (("email", email), ("comment", comment), ("content_id", content_id)):
        check_text(field, value)
    if not EMAIL.fullmatch(email):  # match() would let a final newline through ($)
        raise Invalid("email is not an email address")
    if not comment.strip():
        raise Invalid("comment is empty")
    return content_id, email, comment


# Idempotency-Key (draft-ietf-httpapi-idempotency-key-header): a string of visible ASCII, sent
# bare or as a quoted Structured Field string; a UUID is what clients usually send.
_KEY = re.compile(r'"?([\x21\x23-\x7e]{1,255})"?')


def idempotency_key(value):
    """The key of an Idempotency-Key header (None without one), or Invalid."""
    if value is None:
        return None
    found = _KEY.fullmatch(value)
    if not found or value.startswith('"') != value.endswith('"'):
        raise Invalid("Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID, say), without quotes inside")
    return found.group(1)


def check_text(field, value):
    if len(value) > LIMITS[field]:
        raise Invalid(f"{field} is longer than {LIMITS[field]} characters")
    found = _UNSTORABLE.search(value)
    if found:
        what = "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate"
        raise Invalid(f"{field} contains {what}")
