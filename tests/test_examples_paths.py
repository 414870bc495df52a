"""The training examples print the PNG they wrote as an absolute path (as the edges example does), whatever
--out-dir was given."""
import os

import pytest

from convlite.examples import _common


@pytest.mark.parametrize("out_dir", [".", "plots", "./a/../b"])
def test_history_plot_path_is_printed_absolute(tmp_path, monkeypatch, capsys, out_dir):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    _common.write_history_plot({"loss": [1.0, 0.5]}, out_dir, "h.png", "title")
    printed = capsys.readouterr().out.strip()
    expected = os.path.normpath(os.path.join(os.getcwd(), out_dir, "h.png"))
    assert printed == f"wrote {expected}" and os.path.isfile(expected)
