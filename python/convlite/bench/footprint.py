"""Footprint: import time in a fresh process, installed size on disk, and (via the worker) peak RSS."""
from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import os
import re
import subprocess
import sys

from .timing import summarize

IMPORT_TIMER = ("import time; t0 = time.perf_counter(); {statement}; "
                "print(repr(time.perf_counter() - t0))")

# What a user of each framework imports (timed in a fresh process), and the package directories it installs.
IMPORTS = {
    "convlite": ["convlite"],
    "tensorflow": ["tensorflow", "keras"],
    "torch": ["torch"],
    "numpy": ["numpy"],
}
PACKAGE_DIRS = {
    "convlite": ["convlite"],
    "tensorflow": ["tensorflow", "keras", "tensorflow.libs"],
    "torch": ["torch", "torchgen", "functorch", "torch.libs"],
    "numpy": ["numpy", "numpy.libs"],
}

# Distribution names per framework (the first one installed is used).
DISTRIBUTIONS = {
    "convlite": ["convlite"],
    "tensorflow": ["tensorflow", "tensorflow-cpu", "keras"],
    "torch": ["torch"],
    "numpy": ["numpy"],
}


def import_seconds(framework: str, repeats: int, env: dict) -> dict:
    """Median wall time of the framework's imports in `repeats` fresh interpreters (interpreter start-up excluded)."""
    statement = "import " + ", ".join(IMPORTS[framework])
    samples = []
    for _ in range(repeats):
        proc = subprocess.run([sys.executable, "-c", IMPORT_TIMER.format(statement=statement)], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            return {"pending": f"`{statement}` failed: {proc.stderr.strip().splitlines()[-1:]}"}
        samples.append(float(proc.stdout.strip().splitlines()[-1]))
    return summarize(samples, 1, statement=statement)


def _tree_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def package_dirs_bytes(packages) -> tuple[int, list[str]]:
    """Size of the packages' directories (plus vendored `<name>.libs` siblings), found without importing them."""
    total, counted, parents = 0, [], set()
    for name in packages:
        if name.endswith(".libs"):
            continue
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        locations = list(spec.submodule_search_locations or [])
        if not locations and spec.origin:
            locations = [spec.origin]
        for location in locations:
            total += _tree_bytes(location) if os.path.isdir(location) else os.path.getsize(location)
            counted.append(location)
            parents.add(os.path.dirname(location))
    for name in packages:
        if name.endswith(".libs"):
            for parent in parents:
                candidate = os.path.join(parent, name)
                if os.path.isdir(candidate):
                    total += _tree_bytes(candidate)
                    counted.append(candidate)
    return total, counted


def _requirement_names(dist) -> list[str]:
    """Names of `dist`'s unconditional requirements (markers evaluated when `packaging` is there)."""
    names = []
    try:
        from packaging.requirements import Requirement
    except ImportError:
        Requirement = None
    for text in dist.requires or []:
        if Requirement is not None:
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            names.append(req.name)
        elif "extra ==" not in text:
            names.append(re.split(r"[ ;<>=!~\[(]", text, maxsplit=1)[0])
    return names


def distribution_closure_bytes(framework: str) -> tuple[int | None, list[str]]:
    """Bytes of the framework's distributions and everything they require (what `pip install` brings)."""
    roots = []
    for name in DISTRIBUTIONS[framework]:
        try:
            roots.append(metadata.distribution(name))
        except metadata.PackageNotFoundError:
            continue
    if not roots:
        return None, []
    seen, todo, total, files_seen = set(), list(roots), 0, set()
    while todo:
        dist = todo.pop()
        key = dist.metadata["Name"].lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        for f in dist.files or []:
            path = str(f.locate())
            if path in files_seen:
                continue
            files_seen.add(path)
            try:
                total += os.lstat(path).st_size
            except OSError:
                pass
        for req in _requirement_names(dist):
            try:
                todo.append(metadata.distribution(req))
            except metadata.PackageNotFoundError:
                pass
    return total, sorted(seen)


def installed_cell(framework: str) -> dict:
    own, dirs = package_dirs_bytes(PACKAGE_DIRS[framework])
    if not dirs:
        return {"pending": f"{framework} is not installed"}
    closure, dists = distribution_closure_bytes(framework)
    cell = {"median": float(own), "spread": 0.0, "n": 1, "dirs": dirs}
    if closure is not None:
        cell["with_dependencies_bytes"] = closure
        cell["dependencies"] = dists
    return cell
