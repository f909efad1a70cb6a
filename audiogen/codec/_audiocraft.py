"""Import the parts of audiocraft that audiogen uses, and only those.

``import audiocraft`` loads every model it ships (MusicGen's T5 and spaCy conditioners, the
Hugging Face EnCodec wrapper, diffusion...): 10 s or more before the first note. The codec and
the renderer need SEANet, the quantizer, `EncodecModel`, the discriminator, the losses and
`LMModel`. So the ``audiocraft`` package and its sub-packages are registered here as bare
namespaces pointing at their folders, and the modules we need are imported from them directly;
the code that runs is audiocraft's own.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from typing import Any

from audiogen.errors import AudiogenError

_PACKAGES = ("audiocraft", "audiocraft.modules", "audiocraft.models")
# Names the sub-packages' own __init__ would export and that sibling modules import from them.
_EXPORTS = {"audiocraft.modules": ("conv", "lstm", "seanet")}


def _register() -> None:
    if "audiocraft.modules.seanet" in sys.modules:
        return
    spec = importlib.util.find_spec("audiocraft")
    if spec is None or not spec.submodule_search_locations:
        raise AudiogenError(
            "audiocraft is not installed: run ./install.sh (the neural stack), "
            "or use --renderer sample"
        )
    root = list(spec.submodule_search_locations)[0]
    for name in _PACKAGES:
        if name in sys.modules and hasattr(sys.modules[name], "__file__"):
            continue  # the real package is already imported: use it as is
        package = types.ModuleType(name)
        package.__path__ = [root + name[len("audiocraft") :].replace(".", "/")]
        sys.modules[name] = package
        if "." in name:
            parent, child = name.rsplit(".", 1)
            setattr(sys.modules[parent], child, package)
    for package, modules in _EXPORTS.items():
        for module in modules:
            loaded = importlib.import_module(f"{package}.{module}")
            for key in dir(loaded):
                if not key.startswith("_"):
                    setattr(sys.modules[package], key, getattr(loaded, key))


def load(module: str) -> Any:
    """``load("modules.seanet")`` → the module ``audiocraft.modules.seanet``."""
    _register()
    if module == "models.encodec" and "transformers" not in sys.modules:
        # encodec.py imports Hugging Face's EncodecModel only to wrap pretrained HF weights,
        # which audiogen never uses; a placeholder saves ~4 s of importing transformers.
        placeholder = types.ModuleType("transformers")
        placeholder.EncodecModel = None  # type: ignore[attr-defined]
        sys.modules["transformers"] = placeholder
        try:
            return importlib.import_module("audiocraft.models.encodec")
        finally:
            del sys.modules["transformers"]
    return importlib.import_module(f"audiocraft.{module}")
