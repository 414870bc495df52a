"""`python -m convlite`: print the configuration and check the compiled kernels against numpy."""
import numpy as np

from . import _core, show_config


def main() -> None:
    show_config()
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1_000_003).astype(np.float32)
    worst = 0.0
    for isa in _core.available_isas():
        previous = _core.active_isa()
        _core.set_isa(isa)
        try:
            y = _core.relu(x, negative_slope=0.1)
        finally:
            _core.set_isa(previous)
        expected = np.where(x > 0, x, np.float32(0.1) * x)
        error = float(np.max(np.abs(y - expected)))
        worst = max(worst, error)
        print(f"relu kernel ({isa}): max |difference| from numpy over {x.size:,} values = {error:.3g}")
    if worst > 0:
        raise SystemExit("kernel check failed")


if __name__ == "__main__":
    main()
