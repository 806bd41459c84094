"""TLS for the tests: a throwaway CA made at run time, and a TLS-terminating forwarder in front of plain HTTP.

S3 in production is HTTPS. The forwarder accepts TLS on 127.0.0.1 with a certificate from a test CA and
pumps the decrypted bytes, unchanged, to a plain endpoint (moto, or the recording spy in front of it). It
counts the TLS connections it accepts, so a test can see whether botocore reuses them. Nothing here is
committed: keys and certificates are generated for each test session.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import select
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ServerCert:
    """A server certificate (chain) and its key, as PEM files for ``ssl.SSLContext.load_cert_chain``."""

    cert: Path
    key: Path


class TestCA:
    """A certificate authority that exists only for one test session."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._cert = (
            _builder(subject, subject, self._key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.bundle = directory / f"{name}.pem"
        self.bundle.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, *, ips: tuple[str, ...] = (), dns: tuple[str, ...] = ()) -> ServerCert:
        """A server certificate for these names (subjectAltName), signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        names += [x509.DNSName(name) for name in dns]
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (ips + dns)[0])])
        cert = (
            _builder(subject, self._cert.subject, key.public_key())
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        stem = self.directory / f"{self.name}-{(ips + dns)[0]}"
        cert_path, key_path = stem.with_suffix(".crt"), stem.with_suffix(".key")
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return ServerCert(cert_path, key_path)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


class TLSForwarder:
    """Accept TLS on 127.0.0.1 and forward the plain bytes of each connection to ``upstream`` (http://host:port).

    ``accepted`` counts completed handshakes, ``refused`` the handshakes that failed (with the server-side
    reason in ``failures``), ``forwarded`` the upstream connections opened (only after a good handshake).
    """

    def __init__(self, upstream: str, cert: ServerCert) -> None:
        target = urlsplit(upstream)
        self._upstream = (target.hostname or "127.0.0.1", target.port or 80)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(cert.cert, cert.key)
        self.accepted = 0
        self.refused = 0
        self.forwarded = 0
        self.failures: list[str] = []
        self.changed = threading.Condition()
        self._open: set[socket.socket] = set()
        self._closing = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)  # accept() is not woken by close() on Linux: look at _closing that often
        self.url = f"https://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, name="tls-accept", daemon=True)
        self._thread.start()

    def wait_for(self, predicate: object, timeout: float = 10.0) -> bool:
        """Block until ``predicate()`` holds (re-checked whenever a connection is accepted or refused)."""
        with self.changed:
            return self.changed.wait_for(predicate, timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        with self.changed:
            self._closing = True
            sockets = list(self._open)
        for sock in sockets:
            _close(sock)
        self._thread.join(10)
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                if self._closing:
                    return
                continue
            except OSError:  # the listener is gone
                return
            if not self._track(sock):
                return
            threading.Thread(target=self._serve, args=(sock,), name="tls-conn", daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(10)  # a handshake that never completes must not hold the thread
        try:
            tls = self._context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            with self.changed:
                self.refused += 1
                self.failures.append(str(exc))
                self.changed.notify_all()
            self._untrack(raw)
            return
        with self.changed:
            self._open.discard(raw)  # now detached: the SSL socket owns the connection
        if not self._track(tls):
            return
        with self.changed:
            self.accepted += 1
            self.changed.notify_all()
        try:
            upstream = socket.create_connection(self._upstream, timeout=10)
        except OSError:
            self._untrack(tls)
            return
        with self.changed:
            self.forwarded += 1
        if self._track(upstream):
            _pump(tls, upstream)
        self._untrack(upstream)
        self._untrack(tls)

    def _track(self, sock: socket.socket) -> bool:
        """Remember an open socket, so close() can end its connection; False (and closed) when closing."""
        with self.changed:
            if not self._closing:
                self._open.add(sock)
                return True
        _close(sock)
        return False

    def _untrack(self, sock: socket.socket) -> None:
        with self.changed:
            self._open.discard(sock)
        _close(sock)


def _pump(tls: ssl.SSLSocket, plain: socket.socket) -> None:
    """Copy bytes both ways in one thread (an SSL socket must not be read and written by two threads at once)."""
    tls.settimeout(None)
    plain.settimeout(None)
    while True:
        # Bytes already decrypted and buffered inside the SSL object do not make the socket readable.
        ready = [tls] if tls.pending() else select.select([tls, plain], [], [])[0]
        for source, sink in ((tls, plain), (plain, tls)):
            if source not in ready:
                continue
            try:
                data = source.recv(65536)
                if not data:
                    return
                sink.sendall(data)
            except OSError:  # includes ssl.SSLError; a closed side ends the connection
                return


def _close(sock: socket.socket) -> None:
    """Shut down, then close: shutdown wakes a select() on the socket in another thread, close alone may not."""
    with contextlib.suppress(OSError):  # never connected, or already shut
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
