"""eks-authn: the local stack's stand-in for aws-iam-authenticator, as a kube-apiserver token
webhook. It takes the EKS token (`k8s-aws-v1.` + base64url of a presigned STS GetCallerIdentity
URL), checks the URL the way the authenticator does (STS host, action, signed cluster header,
age), calls it on the AWS emulator with `x-k8s-aws-id: <cluster>` and maps the caller's ARN to a
cluster admin (the local stand-in for an EKS access entry with AmazonEKSClusterAdminPolicy).

usage: eks-authn.py HOST:PORT CLUSTER_NAME STS_URL
"""

import base64
import datetime
import json
import re
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "k8s-aws-v1."
MAX_AGE = datetime.timedelta(minutes=15)


def verify(token, cluster, sts):
    """Returns (username, uid) of the caller, or raises ValueError with the reason."""
    if not token.startswith(PREFIX):
        raise ValueError("not an EKS token")
    body = token[len(PREFIX):]
    url = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    parsed, want = urllib.parse.urlsplit(url), urllib.parse.urlsplit(sts)
    if (parsed.scheme, parsed.netloc, parsed.path) != (want.scheme, want.netloc, "/"):
        raise ValueError(f"unexpected STS endpoint {parsed.scheme}://{parsed.netloc}{parsed.path}")
    query = dict(urllib.parse.parse_qsl(parsed.query))
    if query.get("Action") != "GetCallerIdentity" or query.get("Version") != "2011-06-15":
        raise ValueError("not a GetCallerIdentity request")
    if "x-k8s-aws-id" not in query.get("X-Amz-SignedHeaders", "").split(";"):
        raise ValueError("x-k8s-aws-id is not signed")
    signed = datetime.datetime.strptime(query.get("X-Amz-Date", ""), "%Y%m%dT%H%M%SZ")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    if not (now - MAX_AGE <= signed <= now + datetime.timedelta(minutes=1)):
        raise ValueError("token expired")
    # moto routes a request to a service by its Authorization header, which a presigned URL
    # carries in the query; repeat it there (moto does not check signatures either way).
    auth = "AWS4-HMAC-SHA256 Credential={}, SignedHeaders={}, Signature={}".format(
        query.get("X-Amz-Credential", ""), query.get("X-Amz-SignedHeaders", ""), query.get("X-Amz-Signature", ""))
    request = urllib.request.Request(url, headers={"x-k8s-aws-id": cluster, "Authorization": auth})
    with urllib.request.urlopen(request, timeout=10) as response:
        xml = response.read().decode()
    arn = re.search(r"<Arn>([^<]+)</Arn>", xml)
    uid = re.search(r"<UserId>([^<]+)</UserId>", xml)
    if not arn:
        raise ValueError("STS did not return a caller ARN")
    return arn.group(1), uid.group(1) if uid else arn.group(1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def do_POST(self):
        review = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        token = review.get("spec", {}).get("token", "")
        status = {"authenticated": False}
        try:
            username, uid = verify(token, self.server.cluster, self.server.sts)
            status = {"authenticated": True, "user": {"username": username, "uid": uid,
                                                      "groups": ["system:masters", "system:authenticated"]}}
        except Exception as e:  # noqa: BLE001 (any failure is "not authenticated", with the reason for the log)
            status["error"] = str(e)
            if token.startswith(PREFIX):
                self.log_message("rejected an EKS token: %s", e)
        out = json.dumps({"apiVersion": review.get("apiVersion", "authentication.k8s.io/v1"),
                          "kind": "TokenReview", "status": status}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    host, port = sys.argv[1].rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), Handler)
    server.cluster, server.sts = sys.argv[2], sys.argv[3]
    server.serve_forever()


if __name__ == "__main__":
    main()
