"""The web half of the web + db demo: rows read from PostgreSQL through a Docker-style link.

The database host is WEB_DB_HOST: the link's alias, resolved from the container's /etc/hosts, or
on a user-defined network the database's network alias, resolved by the host's resolver; its port
and the credentials come from the link's variables (ALIAS_PORT_5432_TCP_PORT, ALIAS_ENV_POSTGRES_*).
"""
import os
import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2

ALIAS = os.environ.get('WEB_DB_LINK_ALIAS', 'db')
HOST = os.environ.get('WEB_DB_HOST', ALIAS)
PREFIX = ALIAS.upper().replace('-', '_')


def rows():
    env = os.environ
    with psycopg2.connect(host=HOST, port=int(env[PREFIX + '_PORT_5432_TCP_PORT']),
                          user=env[PREFIX + '_ENV_POSTGRES_USER'], password=env[PREFIX + '_ENV_POSTGRES_PASSWORD'],
                          dbname=env[PREFIX + '_ENV_POSTGRES_DB'], connect_timeout=3) as conn:
        with conn.cursor() as cur:
            cur.execute('SELECT id, name FROM seeds ORDER BY id')
            return cur.fetchall()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        try:
            body = 'seeds from PostgreSQL at %s (%s:%s, via %s):\n' % (
                HOST, os.environ[PREFIX + '_PORT_5432_TCP_ADDR'], os.environ[PREFIX + '_PORT_5432_TCP_PORT'],
                'the link' if HOST == ALIAS else 'the network alias')
            body += ''.join('%d\t%s\n' % row for row in rows())
            status = 200
        except Exception as e:  # pylint: disable=broad-except
            body, status = 'database unreachable: %s\n' % e, 503
        data = body.encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'text/plain; charset=utf-8')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    def server_bind(self):
        # HTTPServer's own server_bind asks getfqdn() for a name: a reverse DNS lookup that waits out
        # the container's resolvers (10 s where they are unreachable) before the first request.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


if __name__ == '__main__':
    Server(('0.0.0.0', int(os.environ.get('WEB_PORT', '8080'))), Handler).serve_forever()
