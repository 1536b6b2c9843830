"""The PDF a fax sends: read from the one directory the operator allows, never through a link.

`TELCO_MCP_FAX_DIR` names the directory; a tool argument names a file inside it by a relative path. The
path is walked one component at a time from a descriptor of the directory, each opened with
``O_NOFOLLOW`` (``openat``): a symlink anywhere below the directory, ``..``, an absolute path or
anything but a regular file is refused. The file must be a PDF that `pypdf` can read (its page count
is shown to the person who approves; `pypdf` is the optional extra ``telco-mcp[fax]``).

What is shown and recorded is `FaxFile.label` (name, size, pages, sha256); the bytes themselves only
ever go into the request body as it leaves (`Operation.at_send`), after they are read again and
their sha256 is checked against the one the person approved.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from telco_mcp.errors import ConfirmationError, InvalidInput

MAX_FAX_BYTES = 20 * 1024 * 1024
"""The largest PDF sent (sipgate takes base64 of up to 28,330,000 characters, i.e. about 21 MB)."""

INSTALL_HINT = "pip install 'telco-mcp[fax]'"


@dataclass(frozen=True)
class FaxFile:
    name: str  # the relative path the caller gave
    size: int
    pages: int
    sha256: str
    content: bytes = field(repr=False, compare=False)

    @property
    def label(self) -> str:
        """What the question, the approval page, the preview and the audit show instead of the bytes."""
        return f"<pdf: {self.name}, {self.size} bytes, {self.pages} pages, sha256 {self.sha256}>"


def _parts(name: str) -> list[str]:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or "\\" in name or "\x00" in name:
        raise InvalidInput(f"file {name!r} must be a relative path inside TELCO_MCP_FAX_DIR")
    parts = [part for part in path.parts if part != "."]
    if not parts or any(part == ".." for part in parts):
        raise InvalidInput(f"file {name!r} leads out of TELCO_MCP_FAX_DIR")
    return parts


def _is_link(part: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.stat(part, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _read_bytes(directory: Path, name: str) -> bytes:
    """The bytes of `name` below `directory`, opened without following any symlink on the way."""
    parts = _parts(name)
    try:
        fd = os.open(directory.resolve(strict=True), os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise InvalidInput(f"TELCO_MCP_FAX_DIR {str(directory)!r} cannot be opened ({exc.strerror})") from None
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (0 if last else os.O_DIRECTORY)
            try:
                child = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                if _is_link(part, fd):
                    raise InvalidInput(f"file {name!r}: {part!r} is a symbolic link, which is never followed") from None
                raise InvalidInput(f"file {name!r} cannot be opened in TELCO_MCP_FAX_DIR ({exc.strerror})") from None
            os.close(fd)
            fd = child
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInput(f"file {name!r} is not a regular file")
        if info.st_size > MAX_FAX_BYTES:
            raise InvalidInput(f"file {name!r} has {info.st_size} bytes, more than the {MAX_FAX_BYTES} a fax may")
        with os.fdopen(fd, "rb", closefd=True) as handle:
            fd = -1
            content = handle.read(MAX_FAX_BYTES + 1)
    finally:
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
    if len(content) > MAX_FAX_BYTES:
        raise InvalidInput(f"file {name!r} is larger than the {MAX_FAX_BYTES} bytes a fax may be")
    return content


def page_count(name: str, content: bytes) -> int:
    """The PDF's pages by `pypdf`; a file that is no PDF is refused."""
    if not content.startswith(b"%PDF-"):
        raise InvalidInput(f"file {name!r} is not a PDF (it does not start with %PDF-)")
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:
        raise InvalidInput(f"sending a fax needs pypdf, to count its pages: {INSTALL_HINT}") from None
    try:
        pages = len(PdfReader(io.BytesIO(content), strict=False).pages)
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise InvalidInput(f"file {name!r} is not a readable PDF ({type(exc).__name__})") from None
    if pages < 1:
        raise InvalidInput(f"file {name!r} has no pages")
    return pages


def read_fax(directory: Path | None, name: str) -> FaxFile:
    """The fax file `name` in `directory`, checked; `InvalidInput` naming the rule it breaks."""
    if directory is None:
        raise InvalidInput("no fax directory is configured: set TELCO_MCP_FAX_DIR to the directory faxes are sent from")
    content = _read_bytes(directory, name)
    pages = page_count(name, content)
    return FaxFile(name=name, size=len(content), pages=pages, sha256=hashlib.sha256(content).hexdigest(),
                   content=content)  # fmt: skip


def read_again(directory: Path | None, approved: FaxFile) -> bytes:
    """The bytes to send, read once more: refused when they are no longer the ones approved."""
    try:
        content = _read_bytes(directory, approved.name) if directory is not None else b""
    except InvalidInput as exc:
        raise ConfirmationError(f"the fax file can no longer be read: {exc.message}") from None
    if hashlib.sha256(content).hexdigest() != approved.sha256:
        raise ConfirmationError(
            f"the fax file {approved.name!r} changed after it was shown for approval (its sha256 is no longer "
            f"{approved.sha256}). Nothing was sent. Call the tool without approval_id to ask again"
        )
    return content
