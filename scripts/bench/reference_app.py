"""The original comments service the targets of scripts/bench/app come from: comments in a
Python dict (lost on restart, different per worker), one Gunicorn sync worker. Measured beside
the real app on the same machine so the targets can be read against this machine's speed."""

from flask import Flask, jsonify, request

app = Flask("comment")
comments = {}


@app.route("/api/comment/new", methods=["POST"])
def api_comment_new():
    data = request.get_json()
    content_id = "{}".format(data["content_id"])
    comments.setdefault(content_id, []).append({"email": data["email"], "comment": data["comment"]})
    return jsonify({"status": "SUCCESS", "message": f"comment created and associated with content_id {content_id}"})


@app.route("/api/comment/list/<content_id>")
def api_comment_list(content_id):
    if content_id in comments:
        return jsonify(comments[content_id])
    return jsonify({"status": "NOT-FOUND", "message": f"content_id {content_id} not found"}), 404
