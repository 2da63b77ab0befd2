"""URL helpers: credentials are masked in every message, log line and repr."""

from __future__ import annotations

import re

#: the password runs to the LAST ``@`` of the authority: an unencoded ``@`` in it
#: (``u:Pass@word@host``) is masked whole, never cut at its first ``@``
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/\s]*):(?P<pw>[^/\s]*)@")
_PASSWORD_PARAM = re.compile(r"(?i)\b(password|passwd|pwd|secret|token)=([^&\s'\"]+)")


def mask_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db`` (also ``?password=``,
    and ``u:Pass@word@h`` -> ``u:***@h``).

    Anything without credentials is returned unchanged (``duckdb:///x.duckdb`` stays as is)."""
    url = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}=***", url)


def mask_text(text: str, *secrets: str | None) -> str:
    """Remove every given secret (and any URL password) from ``text``."""
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
