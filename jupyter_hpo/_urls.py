"""URLs shown to people: a store URL or an MLflow tracking URI in messages, notes, runner logs and ``--json``
output, with its secrets masked. Notes are kept in the store, which the whole team reads."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

#: query parameters that carry a secret (libpq reads a password from these): their values are masked
SECRET_KEYS = frozenset({"password", "sslpassword"})


def masked_url(url: Any) -> str:
    """``url`` as text with its secrets as ``***``: the password before the host
    (``postgresql://alice:***@db/hpo``) and the values of :data:`SECRET_KEYS` in its query, any case
    (``...?host=db&user=alice&password=***``). Read as SQLAlchemy reads it, which takes a password with ``/``,
    ``#`` or ``?`` in it as written (``urlsplit`` ended the host there, found no password, and showed it whole);
    what SQLAlchemy cannot read (a port that is not a number, ``file:/srv/mlruns``) is read by ``urlsplit``.
    A URL with nothing to mask is returned exactly as written; text that is not a URL as it is."""
    text = str(url)
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(text)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads (ArgumentError, ValueError): urlsplit's reading
        return _masked_split(text)
    if parsed.password is None and not any(key.lower() in SECRET_KEYS for key in parsed.query):
        return text
    # written out here: SQLAlchemy's rendering would percent-encode the mask of a query value
    query = [f"{quote_plus(key)}={'***' if key.lower() in SECRET_KEYS else quote_plus(value)}"
             for key, values in parsed.query.items() for value in ([values] if isinstance(values, str) else values)]
    return parsed.set(query={}).render_as_string(hide_password=True) + (f"?{'&'.join(query)}" if query else "")


def _masked_split(text: str) -> str:
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:  # nothing can be read from it, nothing to mask
        return text
    base, mark, rest = text.partition("?")
    if password is not None:
        user, _, host = parts.netloc.rpartition("@")
        base = base.replace(parts.netloc, f"{user.split(':', 1)[0]}:***@{host}", 1)
    if mark:
        query, hash_mark, fragment = rest.partition("#")
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(key.lower() in SECRET_KEYS for key, _ in pairs):
            query = "&".join(f"{quote_plus(key)}={'***' if key.lower() in SECRET_KEYS else quote_plus(value)}"
                             for key, value in pairs)
        rest = query + hash_mark + fragment
    return base + mark + rest
