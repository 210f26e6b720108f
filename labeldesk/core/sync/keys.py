"""The local keyring: each user's Ed25519 key pairs, made on their own machine.

A key pair lives in the user's configuration folder (``$XDG_CONFIG_HOME/labeldesk/keys`` or
``~/.config/labeldesk/keys``; ``LABELDESK_KEYS_DIR`` overrides it): ``<key id>.key`` holds the
private key (PKCS#8 PEM, encrypted when a passphrase was given; owner-only, mode 0600) and
``<key id>.json`` says for which project and user it was made. The key id is the first 32 hex
digits of the SHA-256 of the raw 32-byte public key; people compare its first 16 digits
(:func:`fingerprint`) when an admin enrols a key.

Nothing here touches SQLite: which keys a project trusts is ``labeldesk.core.sync.trust``.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from labeldesk.core.errors import LabeldeskError

PASSPHRASE_ENV = "LABELDESK_KEY_PASSPHRASE"
SEGMENT_CONTEXT = b"labeldesk-segment-signature/1:"
SNAPSHOT_CONTEXT = b"labeldesk-snapshot-signature/1:"



def _terminal_prompt(text: str) -> str | None:
    import getpass
    import sys
    if not sys.stdin or not sys.stdin.isatty():
        return None
    return getpass.getpass(f"{text}: ")


# Asked for a key's passphrase when it is encrypted and LABELDESK_KEY_PASSPHRASE is not set (a
# terminal prompt when there is a terminal; the GUI installs a dialog); None: refuse with KeyLocked.
prompt: Callable[[str], str | None] | None = _terminal_prompt


class KeyLocked(LabeldeskError):
    """A private key is encrypted and no passphrase was given (or it was wrong)."""


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    public_key: str          # base64 of the raw 32 bytes
    project_id: str
    user_id: str | None
    user_name: str
    created: str
    encrypted: bool = False

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key_id)


def keys_dir() -> Path:
    override = os.environ.get("LABELDESK_KEYS_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "labeldesk" / "keys"


def key_id_of(public_b64: str) -> str:
    """The id of a base64 raw public key; LabeldeskError if it is not one."""
    try:
        raw = base64.b64decode(public_b64, validate=True)
    except (ValueError, TypeError):
        raise LabeldeskError("not a public key (expected 32 bytes in base64)") from None
    if len(raw) != 32:
        raise LabeldeskError("not an Ed25519 public key (expected 32 bytes in base64)")
    return hashlib.sha256(raw).hexdigest()[:32]


def fingerprint(key_id: str) -> str:
    return " ".join(key_id[i:i + 4] for i in range(0, 16, 4))


def same_fingerprint(key_id: str, text: str) -> bool:
    wanted = "".join(ch for ch in text.lower() if ch in "0123456789abcdef")
    return len(wanted) >= 16 and key_id.startswith(wanted)


def _public_b64(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def generate(project_id: str, user_id: str | None, user_name: str, passphrase: str | None = None) -> KeyInfo:
    """A new key pair for ``user_name`` in this machine's keyring (owner-only files)."""
    private = Ed25519PrivateKey.generate()
    public = _public_b64(private)
    info = KeyInfo(key_id_of(public), public, project_id, user_id, user_name,
                   dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), bool(passphrase))
    folder = keys_dir()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(folder, 0o700)
    except OSError:
        pass
    encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                  else serialization.NoEncryption())
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    path = folder / f"{info.key_id}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    (folder / f"{info.key_id}.json").write_text(json.dumps(info.__dict__, indent=1, sort_keys=True) + "\n")
    _cache[info.key_id] = private
    return info


def local_keys(project_id: str | None = None, user_id: str | None = None) -> list[KeyInfo]:
    """Key pairs in this machine's keyring (newest first), for a project and user if given."""
    folder = keys_dir()
    out = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    for name in names:
        if not name.endswith(".json") or not (folder / (name[:-5] + ".key")).is_file():
            continue
        try:
            d = json.loads((folder / name).read_text())
            info = KeyInfo(**{k: d.get(k) for k in KeyInfo.__dataclass_fields__ if k in d})
        except (OSError, ValueError, TypeError):
            continue
        if (project_id is None or info.project_id == project_id) and (user_id is None or info.user_id == user_id):
            out.append(info)
    out.sort(key=lambda k: k.created, reverse=True)
    return out


def claim(info: KeyInfo, user_id: str, user_name: str) -> KeyInfo:
    """Record whose key a key made before the user was known is (join without --user)."""
    fresh = KeyInfo(info.key_id, info.public_key, info.project_id, user_id, user_name, info.created, info.encrypted)
    (keys_dir() / f"{info.key_id}.json").write_text(json.dumps(fresh.__dict__, indent=1, sort_keys=True) + "\n")
    return fresh


def has_private(key_id: str) -> bool:
    return key_id in _cache or (keys_dir() / f"{key_id}.key").is_file()


_cache: dict[str, Ed25519PrivateKey] = {}
_public_cache: dict[str, Ed25519PublicKey | None] = {}


def private(key_id: str, passphrase: str | None = None) -> Ed25519PrivateKey:
    """The private key ``key_id`` from this machine's keyring (asks for a passphrase if needed)."""
    if key_id in _cache:
        return _cache[key_id]
    path = keys_dir() / f"{key_id}.key"
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise LabeldeskError(f"{path}: private key {fingerprint(key_id)} is not on this machine ({exc.strerror})") from None
    secret = passphrase or os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError:                 # encrypted
        if secret is None and prompt is not None:
            secret = prompt(f"passphrase for key {fingerprint(key_id)}")
        if not secret:
            raise KeyLocked(f"key {fingerprint(key_id)} is protected by a passphrase: set {PASSPHRASE_ENV} "
                            f"or run the command in a terminal") from None
        try:
            key = serialization.load_pem_private_key(pem, password=secret.encode())
        except (ValueError, TypeError):
            raise KeyLocked(f"key {fingerprint(key_id)}: wrong passphrase") from None
    except ValueError as exc:
        raise LabeldeskError(f"{path}: unreadable private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LabeldeskError(f"{path}: not an Ed25519 key")
    _cache[key_id] = key
    return key


def sign(key_id: str, context: bytes, digest_hex: str) -> str:
    """Base64 Ed25519 signature of ``context + digest`` (one per segment or snapshot)."""
    return base64.b64encode(private(key_id).sign(context + digest_hex.encode())).decode()


def verify(public_b64: str, signature_b64: object, context: bytes, digest_hex: str) -> bool:
    pub = _public_cache.get(public_b64)
    if pub is None and public_b64 not in _public_cache:
        try:
            pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64, validate=True))
        except (ValueError, TypeError):
            pub = None
        _public_cache[public_b64] = pub
    if pub is None or not isinstance(signature_b64, str):
        return False
    try:
        pub.verify(base64.b64decode(signature_b64, validate=True), context + digest_hex.encode())
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
