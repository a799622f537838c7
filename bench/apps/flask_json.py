"""flask: a Flask route returning a small JSON dict, i.e. a typical framework request (routing,
request/response objects, JSON encoding) on top of the server's own cost. Needs Debian's
python3-flask, hence /usr/bin/python3 for every server."""

from flask import Flask, jsonify

app = Flask(__name__)


@app.route('/')
def index():
    return jsonify(message='Hello, World!', framework='flask', items=[1, 2, 3])


application = app
