"""The pinned connection still speaks TLS to the *name*: SNI and certificate verification use
the URL's host while the socket goes to the address the guard judged."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from outbox.transports.http import GuardedTransport


def _cert(name: str, issuer_key, issuer_name, key, *, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """An HTTPS server on 127.0.0.1 with a certificate for hooks.example, a client context that
    trusts only its CA, and a resolver that sends hooks.example (and wrong.example) there."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = _cert("test CA", ca_key, ca_name, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert("hooks.example", ca_key, ca_name, key, ca=False)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen = {"sni": [], "host": []}
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    server_context.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            seen["host"].append(self.headers["host"])
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    real = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host in ("hooks.example", "wrong.example"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    client_context = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )
    yield server.server_address[1], client_context, seen
    server.shutdown()
    server.server_close()


def test_tls_uses_the_name_for_sni_and_verification(settings, tls_receiver):
    settings.OUTBOX_ALLOW_PRIVATE_TARGETS = True  # the server is on loopback
    port, context, seen = tls_receiver
    transport = GuardedTransport(limits=httpx.Limits(), ssl_context=context)
    with httpx.Client(transport=transport) as client:
        response = client.post(f"https://hooks.example:{port}/hook", content=b"{}")
        assert response.status_code == 200
        assert seen["sni"] == ["hooks.example"] and seen["host"] == [f"hooks.example:{port}"]
        # The same address under another name: the certificate does not match, refused.
        with pytest.raises(httpx.ConnectError):
            client.post(f"https://wrong.example:{port}/hook", content=b"{}")
