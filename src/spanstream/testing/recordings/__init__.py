"""Real provider stream recordings shipped with spanstream, for replaying in tests.

Names are ``<api>/<file stem>``, e.g. ``"openai-responses/gpt-4.1-plain-text"`` (the ``.sse``
suffix is optional). ``PROVENANCE.md`` beside this module says where each one comes from and
what it contains::

    from spanstream.testing import Reply, recording

    server.enqueue(Reply.from_file(recording("openai-responses/gpt-4.1-plain-text")))
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["recording", "recording_names"]

_ROOT = Path(__file__).resolve().parent


def recording_names() -> list[str]:
    """The names of every bundled recording, sorted."""
    return sorted(path.relative_to(_ROOT).with_suffix("").as_posix() for path in _files())


def recording(name: str) -> Path:
    """The path of the bundled recording called ``name``.

    Raises ``LookupError`` naming the available recordings when there is none by that name.
    """
    stem = name.removesuffix(".sse")
    path = _ROOT / f"{stem}.sse"
    if stem.startswith("/") or ".." in Path(stem).parts or not path.is_file():
        available = ", ".join(recording_names())
        raise LookupError(f"no bundled recording named {name!r}; available: {available}")
    return path


def _files() -> list[Path]:
    return [path for path in _ROOT.rglob("*.sse") if path.is_file()]
