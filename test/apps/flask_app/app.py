"""A small but real Flask application for the framework tests (test/frameworks/flask.test.ts)."""
import hashlib
import os
import threading
import time

from flask import (Flask, Response, abort, jsonify, redirect, request, stream_with_context,
                   url_for)

app = Flask(__name__)


class Conflict(Exception):
    """Raised by a view; turned into a 409 by an error handler."""


@app.errorhandler(404)
def not_found(error):
    return jsonify(error='not found', path=request.path, script_root=request.script_root), 404


@app.errorhandler(Conflict)
def conflict(error):
    return jsonify(error='conflict', detail=str(error)), 409


@app.route('/')
def index():
    return 'flask index'


@app.route('/hello/<name>')
def hello(name):
    return 'Hello, %s!' % name


@app.route('/items/<int:item_id>/<path:rest>')
def item(item_id, rest):
    return jsonify(item_id=item_id, item_id_type=type(item_id).__name__, rest=rest)


@app.route('/query')
def query():
    return jsonify(
        a=request.args.get('a'),
        tags=request.args.getlist('tag'),
        n=request.args.get('n', type=int),
        query_string=request.query_string.decode('latin-1'),
    )


@app.route('/json', methods=['POST'])
def json_echo():
    data = request.get_json()
    return jsonify(received=data, total=sum(data.get('numbers', [])), content_type=request.content_type)


@app.route('/form', methods=['POST'])
def form():
    return jsonify(name=request.form.get('name'), colors=request.form.getlist('color'),
                   fields=sorted(request.form.keys()))


@app.route('/upload', methods=['POST'])
def upload():
    f = request.files['file']
    data = f.read()
    return jsonify(filename=f.filename, mimetype=f.mimetype, size=len(data),
                   sha256=hashlib.sha256(data).hexdigest(), note=request.form.get('note'))


@app.route('/stream')
def stream():
    count = request.args.get('count', 100, type=int)

    def generate():
        # request is only usable here because of stream_with_context.
        prefix = request.args.get('prefix', 'line')
        for i in range(count):
            yield '%s %04d %s\n' % (prefix, i, 'x' * 64)
        yield 'end\n'

    return Response(stream_with_context(generate()), mimetype='text/plain')


@app.route('/cookies')
def cookies():
    resp = jsonify(ok=True)
    resp.set_cookie('first', 'one', path='/')
    resp.set_cookie('second', 'two', httponly=True, samesite='Lax')
    return resp


@app.route('/echo-cookies')
def echo_cookies():
    return jsonify(dict(request.cookies))


@app.route('/go')
def go():
    return redirect(url_for('hello', name='redirected'))


@app.route('/conflict')
def raise_conflict():
    raise Conflict('already there')


@app.route('/forbidden')
def forbidden():
    abort(403)


@app.route('/urls/<part>')
def urls(part):
    return jsonify(
        url=request.url,
        base_url=request.base_url,
        url_root=request.url_root,
        script_root=request.script_root,
        path=request.path,
        full_path=request.full_path,
        url_for=url_for('hello', name=part),
        url_for_external=url_for('item', item_id=3, rest='a/b', _external=True),
        script_name=request.environ.get('SCRIPT_NAME'),
        path_info=request.environ.get('PATH_INFO'),
    )


@app.route('/boom')
def boom():
    marker = request.args.get('marker', 'none')
    raise RuntimeError('flask-boom-%s' % marker)


@app.route('/sized')
def sized():
    body = 'abcdefghij' * 100
    resp = Response(body, mimetype='text/plain')
    resp.headers['X-Sized'] = 'yes'
    return resp


@app.route('/work/<int:n>')
def work(n):
    time.sleep(0.05)
    return jsonify(n=n, square=n * n, pid=os.getpid(), thread=threading.get_ident(),
                   echo=request.args.get('echo'))
