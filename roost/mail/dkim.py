"""DKIM keys, signing and verification (dkimpy), with the RSA step done by OpenSSL.

dkimpy computes RSA in pure Python (about 20 ms a signature on this class of machine);
PKCS#1 v1.5 signatures are deterministic, so handing that one step to ``cryptography``
gives byte-for-byte the signature dkimpy would make, about twenty times faster
(``tests/mail/test_queue.py`` checks the two agree). dkimpy also re-parses the PEM key for
every message, which cost a third of a signature: the parsed keys are cached.
"""

from __future__ import annotations

import base64
import functools
import threading
from collections.abc import Callable
from typing import Any

import dkim
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

SIGNED_HEADERS = [b"from", b"to", b"cc", b"subject", b"date", b"message-id", b"reply-to",
                  b"mime-version", b"content-type", b"content-transfer-encoding"]
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"sha256": hashes.SHA256,
                                                          "sha1": hashes.SHA1}
_keys: dict[int, rsa.RSAPrivateKey] = {}
_lock = threading.Lock()
_pure_sign = dkim.RSASSA_PKCS1_v1_5_sign


def _openssl_key(parsed: dict[str, int]) -> rsa.RSAPrivateKey:
    modulus = parsed["modulus"]
    key = _keys.get(modulus)
    if key is None:
        numbers = rsa.RSAPrivateNumbers(
            p=parsed["prime1"], q=parsed["prime2"], d=parsed["privateExponent"],
            dmp1=parsed["exponent1"], dmq1=parsed["exponent2"], iqmp=parsed["coefficient"],
            public_numbers=rsa.RSAPublicNumbers(parsed["publicExponent"], modulus))
        key = numbers.private_key()
        with _lock:
            if len(_keys) > 1000:
                _keys.clear()
            _keys[modulus] = key
    return key


def _fast_sign(hashed: Any, private_key: dict[str, int]) -> bytes:
    algorithm = _HASHES.get(str(hashed.name).lower())
    if algorithm is None:
        return bytes(_pure_sign(hashed, private_key))
    return _openssl_key(private_key).sign(hashed.digest(), padding.PKCS1v15(),
                                          Prehashed(algorithm()))


dkim.RSASSA_PKCS1_v1_5_sign = _fast_sign
# dkimpy parses the PEM key (in pure Python) for every signature; a domain signs with one key
# for months, so keep the parsed form of the last few keys.
dkim.parse_pem_private_key = functools.lru_cache(maxsize=256)(dkim.parse_pem_private_key)


def new_key() -> bytes:
    """A fresh 2048-bit RSA private key, PEM (PKCS#1)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def public_record(private_pem: bytes) -> str:
    """The TXT value to publish at ``SELECTOR._domainkey.DOMAIN`` for this key."""
    key = serialization.load_pem_private_key(private_pem, password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


class SigningError(Exception):
    """The message cannot be signed (it is malformed)."""


def sign(message: bytes, domain: str, selector: str, private_pem: bytes) -> bytes:
    """The ``DKIM-Signature:`` header line (CRLF-terminated) for ``message``."""
    present = {line.split(b":", 1)[0].strip().lower()
               for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n") if b":" in line}
    include = [b"from"] + [h for h in SIGNED_HEADERS if h in present and h != b"from"]
    try:
        header: bytes = dkim.sign(message, selector.encode(), domain.encode(), private_pem,
                                  include_headers=include, linesep=b"\r\n")
    except dkim.DKIMException as exc:
        raise SigningError(f"the message cannot be DKIM-signed: {exc}") from exc
    return header


def verify(message: bytes, records: dict[str, str]) -> bool:
    """Whether ``message`` carries a valid DKIM signature, looking keys up in ``records``
    (a map of DNS name to TXT value) instead of live DNS."""
    def dnsfunc(name: bytes | str, timeout: int = 5) -> bytes:
        key = name.decode() if isinstance(name, bytes) else name
        return records.get(key.rstrip("."), "").encode()

    return bool(dkim.verify(message, dnsfunc=dnsfunc))


def canonical(message: bytes) -> bytes:
    """``message`` with CRLF line ends, as it goes on the wire and is signed."""
    return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
