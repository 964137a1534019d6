"""Checks on a new comment: every problem with client input is a 4xx with a JSON reason."""

import re

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
LIMITS = {"email": 254, "comment": 5000, "content_id": 128}


class Invalid(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.message = message
        self.status = status


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
        if len(value) > LIMITS[field]:
            raise Invalid(f"{field} is longer than {LIMITS[field]} characters")
    if not EMAIL.match(email):
        raise Invalid("email is not an email address")
    if not comment.strip():
        raise Invalid("comment is empty")
    return content_id, email, comment
