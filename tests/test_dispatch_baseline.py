"""The dispatcher and drivers are compiled at the baseline ISA: they must hold no AVX (ymm/zmm) instruction,
or a CPU without AVX2 would crash before dispatch could protect it. We compile them with the same flags the
build uses for portable sources and disassemble the objects.

Equivalent manual command (from the repository root):
    c++ -O3 -std=c++17 -fopenmp -Icpp/include -Icpp/src -DCONVLITE_HAVE_AVX2=1 -DCONVLITE_HAVE_AVX512=1 \
        -c cpp/src/dispatch.cpp -o /tmp/dispatch.o && objdump -d /tmp/dispatch.o | grep -cE 'ymm|zmm'   # prints 0
"""
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PORTABLE = sorted(
    p for pattern in ("cpp/src/*.cpp", "cpp/src/ops/*.cpp", "cpp/src/gemm/*.cpp", "cpp/src/model/*.cpp")
    for p in ROOT.glob(pattern)
)

pytestmark = [
    pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 only"),
    pytest.mark.skipif(shutil.which("c++") is None or shutil.which("objdump") is None,
                       reason="needs a C++ compiler and objdump"),
    pytest.mark.skipif(not (ROOT / "cpp" / "src" / "dispatch.cpp").exists(), reason="needs the source tree"),
]


@pytest.mark.parametrize("source", PORTABLE, ids=[str(p.relative_to(ROOT)) for p in PORTABLE])
def test_portable_object_has_no_avx_instructions(source, tmp_path):
    obj = tmp_path / (source.stem + ".o")
    subprocess.run(["c++", "-O3", "-std=c++17", "-fopenmp", f"-I{ROOT / 'cpp/include'}", f"-I{ROOT / 'cpp/src'}",
                    "-DCONVLITE_HAVE_AVX2=1", "-DCONVLITE_HAVE_AVX512=1", "-DCONVLITE_HAVE_OPENMP=1",
                    "-c", str(source), "-o", str(obj)], check=True, capture_output=True)
    disassembly = subprocess.run(["objdump", "-d", str(obj)], check=True, capture_output=True, text=True).stdout
    wide = [line for line in disassembly.splitlines() if re.search(r"%[yz]mm\d", line)]
    assert not wide, f"{source.name} holds AVX instructions:\n" + "\n".join(wide[:10])
