"""An upstream MCP server over streamable HTTP, written with the official
Python SDK's MCPServer (FastMCP in mcp 1.x), for tests/mcp.rs: caplet grants
its tools to workers as `mcp:remote` through `url` and `headers`.

Every request must carry `Authorization: Bearer TOKEN` (the SDK's own
bearer middleware, with a token verifier accepting TOKEN alone); without it
the server answers 401. It listens on 127.0.0.1 on a port the system picks,
prints `READY PORT` once it accepts connections, and serves until killed.
Given a certificate and its key (DER files), it serves HTTPS instead.
Usage:

    http_upstream.py TOKEN [CERT_DER KEY_DER]
"""

import asyncio
import base64
import os
import socket
import ssl
import sys
import tempfile

import uvicorn
from pydantic import BaseModel

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer


class OneToken:
    """Accepts exactly one bearer token."""

    def __init__(self, token):
        self.token = token

    async def verify_token(self, token):
        if token != self.token:
            return None
        return AccessToken(token=token, client_id="caplet", scopes=[])


class Sum(BaseModel):
    total: int
    terms: int


def build(token, scheme, port):
    url = f"{scheme}://127.0.0.1:{port}"
    server = MCPServer(
        "remote",
        token_verifier=OneToken(token),
        # OneToken checks the token itself: it has no resource to match.
        auth=AuthSettings(
            issuer_url=url,
            resource_server_url=f"{url}/mcp",
            validate_token_resource=False,
        ),
    )

    @server.tool()
    def add(a: int, b: int) -> Sum:
        """Add two whole numbers."""
        return Sum(total=a + b, terms=2)

    @server.tool()
    def greet(name: str) -> str:
        """A greeting for `name`, as text."""
        return f"hello, {name}"

    @server.tool()
    def whoami() -> str:
        """The bearer token this request carried (a server echoing a
        credential back, which caplet must not pass on)."""
        token = get_access_token()
        return f"you sent {token.token if token else 'nothing'}"

    return server


def pem_files(cert_der, key_der):
    """The certificate and its PKCS#8 key, as the PEM files uvicorn reads."""
    folder = tempfile.mkdtemp()
    cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    with open(cert_der, "rb") as f, open(cert, "w") as out:
        out.write(ssl.DER_cert_to_PEM_cert(f.read()))
    with open(key_der, "rb") as f, open(key, "w") as out:
        body = base64.encodebytes(f.read()).decode()
        out.write(f"-----BEGIN PRIVATE KEY-----\n{body}-----END PRIVATE KEY-----\n")
    return cert, key


async def main(token, tls):
    # The socket is bound first, so the port is known before the server
    # (which names its own URL in its OAuth metadata) is built. The app and
    # the uvicorn server are what MCPServer.run("streamable-http") builds.
    # Once the socket listens, connections wait in its backlog until
    # uvicorn accepts them: READY can be said then.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = build(token, "https" if tls else "http", port)
    app = server.streamable_http_app(host="127.0.0.1")
    certs = pem_files(*tls) if tls else (None, None)
    http = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", ssl_certfile=certs[0], ssl_keyfile=certs[1]
        )
    )
    print(f"READY {port}", flush=True)
    await http.serve(sockets=[sock])


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:4]))
