"""Build configuration, ISA dispatch and threads."""
import io
import os
import subprocess
import sys

import pytest

import convlite
from convlite import _core


def run_python(code: str, **env_overrides) -> subprocess.CompletedProcess:
    env = dict(os.environ, **env_overrides)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_show_config_reports_everything():
    out = io.StringIO()
    convlite.show_config(file=out)
    text = out.getvalue()
    for field in ("convlite " + convlite.__version__, "compiler:", "build flags:", "isa: ", "isa available:",
                  "conv algorithm: auto (Winograd", "openmp:", "threads:"):
        assert field in text
    assert f"isa: {convlite.get_isa()}" in text


def test_default_isa_is_the_widest_tested_tier():
    tested = [isa for isa in convlite.available_isas() if _core.isa_tested(isa)]
    result = run_python("import convlite; print(convlite.get_isa())", CONVLITE_ISA="")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == tested[-1]


def test_forcing_scalar_with_environment():
    result = run_python("import convlite; convlite.show_config()", CONVLITE_ISA="scalar")
    assert result.returncode == 0, result.stderr
    assert "isa: scalar (forced by CONVLITE_ISA=scalar)" in result.stdout


@pytest.mark.parametrize("name", ["avx512", "neon", "avx2"])
def test_forcing_an_unsupported_isa_is_a_clear_error(name):
    if name in convlite.available_isas():
        pytest.skip(f"{name} is supported here")
    result = run_python("import convlite", CONVLITE_ISA=name)
    assert result.returncode != 0
    assert f"Received: CONVLITE_ISA='{name}'" in result.stderr
    assert "Segmentation" not in result.stderr


def test_unknown_isa_name_lists_the_choices():
    result = run_python("import convlite", CONVLITE_ISA="sse9")
    assert result.returncode != 0
    assert "'scalar', 'avx2', 'avx512'" in result.stderr and "sse9" in result.stderr


def test_set_isa_at_run_time_rejects_unknown_names():
    with pytest.raises(ValueError, match="Received: CONVLITE_ISA='fast'"):
        _core.set_isa("fast")


def test_thread_count_round_trip():
    before = convlite.get_num_threads()
    try:
        convlite.set_num_threads(1)
        assert convlite.get_num_threads() == 1
    finally:
        convlite.set_num_threads(before)
    assert convlite.get_num_threads() == before


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-3, ValueError), (1.5, TypeError), ("2", TypeError),
                                        (True, TypeError)])
def test_set_num_threads_rejects_bad_values(bad, error):
    with pytest.raises(error, match="Received: n="):
        convlite.set_num_threads(bad)


def test_omp_num_threads_is_honoured():
    result = run_python("import convlite; print(convlite.get_num_threads())", OMP_NUM_THREADS="1")
    assert result.stdout.strip() == "1", result.stderr


def test_threadpoolctl_sees_our_openmp():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if not _core.has_openmp:
        pytest.skip("this build has no OpenMP")
    infos = threadpoolctl.threadpool_info()
    assert any(info["user_api"] == "openmp" for info in infos), infos
