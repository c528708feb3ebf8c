"""The intersphinx inventories the site links other projects' documentation through.

The build reads no network, so the ``objects.inv`` files are shipped in ``docs/inventories/``:
each holds just the names the API reference refers to (a type hint, a base class), written from
:data:`INVENTORIES` by ``python -m docs.inventories``. A name the docs start to use that is not
listed here fails the build (``nitpicky``): add it with its page in that project's documentation
and rerun the command.
"""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "inventories"

_PY = "py:class"
INVENTORIES: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {
    "python": ("https://docs.python.org/3/", {
        "pathlib.Path": (_PY, "library/pathlib.html#pathlib.Path"),
        "os.PathLike": (_PY, "library/os.html#os.PathLike"),
        "collections.abc.Sequence": (_PY, "library/collections.abc.html#collections.abc.Sequence"),
        "collections.abc.Callable": (_PY, "library/collections.abc.html#collections.abc.Callable"),
        "collections.abc.Mapping": (_PY, "library/collections.abc.html#collections.abc.Mapping"),
        "collections.abc.Iterable": (_PY, "library/collections.abc.html#collections.abc.Iterable"),
        "collections.abc.Iterator": (_PY, "library/collections.abc.html#collections.abc.Iterator"),
        "re.Pattern": (_PY, "library/re.html#re.Pattern"),
        "re.Match": (_PY, "library/re.html#re.Match"),
        "enum.Enum": (_PY, "library/enum.html#enum.Enum"),
        "fractions.Fraction": (_PY, "library/fractions.html#fractions.Fraction"),
        "argparse.ArgumentParser": (_PY, "library/argparse.html#argparse.ArgumentParser"),
        "argparse.Namespace": (_PY, "library/argparse.html#argparse.Namespace"),
        "ast": ("py:module", "library/ast.html#module-ast"),
        "dataclasses.dataclass": ("py:function",
                                  "library/dataclasses.html#dataclasses.dataclass"),
        "ValueError": ("py:exception", "library/exceptions.html#ValueError"),
        "RuntimeError": ("py:exception", "library/exceptions.html#RuntimeError"),
        "TypeError": ("py:exception", "library/exceptions.html#TypeError"),
        "OSError": ("py:exception", "library/exceptions.html#OSError"),
        "SystemExit": ("py:exception", "library/exceptions.html#SystemExit"),
        "NotImplementedError": ("py:exception", "library/exceptions.html#NotImplementedError"),
        "KeyError": ("py:exception", "library/exceptions.html#KeyError"),
    }),
    "numpy": ("https://numpy.org/doc/stable/", {
        "numpy.ndarray": (_PY, "reference/generated/numpy.ndarray.html#numpy.ndarray"),
        "numpy.random.Generator": (_PY, "reference/random/generator.html"
                                        "#numpy.random.Generator"),
        # the name type hints resolve to (the class's defining module)
        "numpy.random._generator.Generator": (_PY, "reference/random/generator.html"
                                                   "#numpy.random.Generator"),
    }),
    "scipy": ("https://docs.scipy.org/doc/scipy/", {
        "scipy.optimize.minimize": ("py:function", "reference/generated/"
                                    "scipy.optimize.minimize.html#scipy.optimize.minimize"),
        "scipy.optimize.OptimizeResult": (_PY, "reference/generated/scipy.optimize."
                                          "OptimizeResult.html#scipy.optimize.OptimizeResult"),
    }),
    "sympy": ("https://docs.sympy.org/latest/", {
        "sympy.core.expr.Expr": (_PY, "modules/core.html#sympy.core.expr.Expr"),
        "sympy.core.basic.Basic": (_PY, "modules/core.html#sympy.core.basic.Basic"),
        "sympy.core.numbers.Rational": (_PY, "modules/core.html#sympy.core.numbers.Rational"),
        "sympy.core.symbol.Symbol": (_PY, "modules/core.html#sympy.core.symbol.Symbol"),
        "sympy.core.function.Function": (_PY, "modules/core.html#sympy.core.function.Function"),
        "sympy.printing.latex.latex": ("py:function", "modules/printing.html"
                                                      "#sympy.printing.latex.latex"),
    }),
    "mpmath": ("https://mpmath.org/doc/current/", {
        "mpmath.ctx_mp_python.mpf": (_PY, "general.html#mpf"),
        "mpmath.mpf": (_PY, "general.html#mpf"),
    }),
    "torch": ("https://pytorch.org/docs/stable/", {
        "torch.Tensor": (_PY, "tensors.html#torch.Tensor"),
        "torch.nn.Module": (_PY, "generated/torch.nn.Module.html#torch.nn.Module"),
        "torch.nn.modules.module.Module": (_PY, "generated/torch.nn.Module.html"
                                                "#torch.nn.Module"),
        "torch.device": (_PY, "tensor_attributes.html#torch.device"),
        "torch.dtype": (_PY, "tensor_attributes.html#torch.dtype"),
        "torch.optim.Optimizer": (_PY, "optim.html#torch.optim.Optimizer"),
        "torch.optim.optimizer.Optimizer": (_PY, "optim.html#torch.optim.Optimizer"),
        "torch.Generator": (_PY, "generated/torch.Generator.html#torch.Generator"),
        "torch._C.Generator": (_PY, "generated/torch.Generator.html#torch.Generator"),
    }),
    "transformers": ("https://huggingface.co/docs/transformers/main/en/", {
        "transformers.PreTrainedModel": (_PY, "main_classes/model"
                                              "#transformers.PreTrainedModel"),
        "transformers.modeling_utils.PreTrainedModel": (_PY, "main_classes/model"
                                                             "#transformers.PreTrainedModel"),
        "transformers.PreTrainedTokenizerBase": (
            _PY, "main_classes/tokenizer#transformers.PreTrainedTokenizerBase"),
        "transformers.tokenization_utils_base.PreTrainedTokenizerBase": (
            _PY, "main_classes/tokenizer#transformers.PreTrainedTokenizerBase"),
    }),
    "trl": ("https://huggingface.co/docs/trl/main/en/", {
        "trl.DPOTrainer": (_PY, "dpo_trainer#trl.DPOTrainer"),
        "trl.trainer.dpo_trainer.DPOTrainer": (_PY, "dpo_trainer#trl.DPOTrainer"),
        "trl.DPOConfig": (_PY, "dpo_trainer#trl.DPOConfig"),
        "trl.trainer.dpo_config.DPOConfig": (_PY, "dpo_trainer#trl.DPOConfig"),
    }),
}
"""Project → (its documentation's base address, {name: (domain:role, page#anchor)})."""


def inventory(project: str) -> bytes:
    """The ``objects.inv`` (version 2) of ``project``'s names in :data:`INVENTORIES`."""
    _, names = INVENTORIES[project]
    lines = "".join(f"{name} {role} 1 {uri} -\n" for name, (role, uri) in sorted(names.items()))
    header = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: \n"
              "# The remainder of this file is compressed using zlib.\n")
    return header.encode() + zlib.compress(lines.encode())


def mapping() -> dict[str, tuple[str, str]]:
    """``intersphinx_mapping`` for ``docs/conf.py``: each project's address and shipped file."""
    return {project: (base, str(FOLDER / f"{project}.inv"))
            for project, (base, _) in INVENTORIES.items()}


def main() -> int:
    FOLDER.mkdir(exist_ok=True)
    for project in INVENTORIES:
        (FOLDER / f"{project}.inv").write_bytes(inventory(project))
    print(f"wrote {len(INVENTORIES)} inventories to {FOLDER}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
