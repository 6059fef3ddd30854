"""Throw-away TLS material made with ``openssl``, and a TLS-only redis-server."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from support.redis_server import RedisServer


@dataclass(frozen=True)
class Certs:
    """A CA, a server certificate it signed (for 127.0.0.1 and localhost), and a foreign CA."""

    ca: Path
    cert: Path
    key: Path
    other_ca: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certs(folder: Path) -> Certs:
    """Create the certificates in ``folder`` with openssl (about a second)."""
    if shutil.which("openssl") is None:
        raise RuntimeError("openssl is not on PATH: install it (apt-get install openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    # Extensions as strict verifiers want them (Python >= 3.13 sets VERIFY_X509_STRICT).
    for name in ("ca", "other-ca"):
        _openssl("req", "-x509", "-new", "-nodes", "-newkey", "rsa:2048", "-days", "2",
                 "-keyout", f"{name}.key", "-out", f"{name}.crt", "-subj", f"/CN=sd-test-{name}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-addext", "subjectKeyIdentifier=hash",
                 cwd=folder)
    _openssl("req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", "server.key",
             "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)
    (folder / "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext",
             cwd=folder)
    return Certs(folder / "ca.crt", folder / "server.crt", folder / "server.key",
                 folder / "other-ca.crt")


class TLSRedisServer(RedisServer):
    """A redis-server that speaks only TLS (``--port 0 --tls-port PORT``)."""

    def __init__(self, certs: Certs) -> None:
        self.certs = certs
        super().__init__(
            None,
            "--tls-port", "PLACEHOLDER",
            "--tls-cert-file", str(certs.cert),
            "--tls-key-file", str(certs.key),
            "--tls-ca-cert-file", str(certs.ca),
            "--tls-auth-clients", "no",
        )
        self.extra_args = tuple(str(self.port) if a == "PLACEHOLDER" else a
                                for a in self.extra_args)

    def _port_args(self) -> list[str]:
        return ["--port", "0"]

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={self.certs.ca}"

    def client(self, **kwargs: object) -> redis.Redis:
        return redis.Redis(  # type: ignore[arg-type]
            host="127.0.0.1", port=self.port, ssl=True, ssl_ca_certs=str(self.certs.ca), **kwargs
        )
