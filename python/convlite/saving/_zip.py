"""The `.keras` zip container, read by entry name only and written atomically.

Reading never extracts: each wanted entry is read into memory after its name, declared size, compression and
flags have been checked, so a hostile archive (`../` or absolute names, decompression bombs, encrypted or
exotic entries, a truncated file) is refused with a ValueError before it can cost memory or touch the disk.
Writing goes to a temporary file beside the target and is renamed over it only when complete, so a failed save
never leaves a half-written file and nothing but the given path (and, briefly, its temporary sibling) is touched.
"""
from __future__ import annotations

import os
import posixpath
import tempfile
import zipfile
from typing import Callable, Mapping

_READ_CHUNK = 1 << 20


def _check_member_name(name: str) -> None:
    bad = (
        name.startswith(("/", "\\"))
        or "\\" in name
        or "\x00" in name
        or (len(name) > 1 and name[1] == ":")  # a Windows drive letter
        or ".." in name.split("/")
    )
    if bad:
        raise ValueError(
            "Invalid .keras file: it contains an entry whose name is absolute or climbs out of the archive; "
            f"entries must be plain relative names. Received: entry name={name!r}"
        )


class KerasArchive:
    """An open `.keras` zip whose entries are listed and read only through checks."""

    def __init__(self, filepath):
        try:
            self._zip = zipfile.ZipFile(filepath, "r")
        except zipfile.BadZipFile as error:
            raise ValueError(
                f"Invalid .keras file: not a readable zip archive (truncated or corrupted?). Received: "
                f"filepath={os.fspath(filepath)!r} ({error})"
            ) from error
        try:
            infos = self._zip.infolist()
            names = [info.filename for info in infos]
            for name in names:
                _check_member_name(name)
            if len(set(names)) != len(names):
                raise ValueError(
                    "Invalid .keras file: it contains duplicate entry names, so which one is meant is ambiguous. "
                    f"Received: entries={names}"
                )
            self._infos = {info.filename: info for info in infos}
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._zip.close()

    def names(self) -> list:
        return list(self._infos)

    def read(self, name: str, max_bytes: int) -> bytes:
        """The bytes of entry `name`, refusing entries declared or found to be larger than `max_bytes`."""
        info = self._infos.get(name)
        if info is None:
            raise ValueError(
                f"Invalid .keras file: the entry '{name}' is missing. Received: entries={sorted(self._infos)}"
            )
        if info.flag_bits & 0x1:
            raise ValueError(f"Invalid .keras file: the entry '{name}' is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(
                f"Invalid .keras file: the entry '{name}' uses an unsupported compression method; Keras writes "
                f"entries stored or deflated. Received: compress_type={info.compress_type}"
            )
        if info.file_size > max_bytes:
            raise ValueError(
                f"Invalid .keras file: the entry '{name}' declares {info.file_size} bytes, more than the "
                f"{max_bytes} bytes this model can need; refusing to read it (decompression bomb?). "
                f"Received: file_size={info.file_size}"
            )
        chunks, total = [], 0
        try:
            with self._zip.open(info, "r") as stream:
                # Read in chunks with our own cap too, so a size field that lies costs at most max_bytes.
                while True:
                    chunk = stream.read(min(_READ_CHUNK, max_bytes + 1 - total))
                    if not chunk:
                        break
                    total += len(chunk)
                    if total > max_bytes:
                        raise ValueError(
                            f"Invalid .keras file: the entry '{name}' decompresses to more than {max_bytes} bytes."
                        )
                    chunks.append(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError) as error:
            raise ValueError(
                f"Invalid .keras file: the entry '{name}' cannot be read (truncated or corrupted?): {error}"
            ) from error
        return b"".join(chunks)


def _umask() -> int:
    try:
        with open("/proc/self/status") as status:  # Linux: read it without changing it
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def atomic_write(filepath, write: Callable[[str], None]) -> None:
    """Call `write(temp_path)` for a temporary file beside `filepath`, then rename it over `filepath`."""
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"Cannot save: the directory {directory!r} does not exist. Received: "
                                f"filepath={filepath!r}")
    fd, temp_path = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(filepath) + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(temp_path)
        os.chmod(temp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would
        os.replace(temp_path, filepath)
    except BaseException:
        if os.path.exists(temp_path):
            os.unlink(temp_path)
        raise


def write_archive(filepath, entries: Mapping[str, bytes]) -> None:
    """Write a `.keras` zip holding `entries` (name -> bytes, stored uncompressed as Keras does), atomically."""

    def write(temp_path: str) -> None:
        with zipfile.ZipFile(temp_path, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in entries.items():
                _check_member_name(posixpath.normpath(name))
                archive.writestr(name, data)

    atomic_write(filepath, write)
