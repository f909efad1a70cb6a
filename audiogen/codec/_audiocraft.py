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
from typing import NoReturn

from audiogen.errors import AudiogenError

_PACKAGES = ("audiocraft", "audiocraft.modules", "audiocraft.models", "audiocraft.data")
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
    for exporter, modules in _EXPORTS.items():
        for module in modules:
            loaded = importlib.import_module(f"{exporter}.{module}")
            for key in dir(loaded):
                if not key.startswith("_"):
                    setattr(sys.modules[exporter], key, getattr(loaded, key))


# Libraries that audiocraft's modules import at the top but that only serve parts audiogen never
# builds: Hugging Face's pretrained EnCodec and T5/CLAP text conditioners (transformers, spacy),
# xformers' attention kernels (audiogen uses torch's), audio file reading (av) and chroma
# (librosa). Stand-ins let those modules import in a fraction of a second; anything that really
# touched one would fail loudly (`_Absent`).
_NOT_USED = ("transformers", "spacy", "xformers", "av", "librosa")


class _Absent(types.ModuleType):
    def __getattr__(self, name: str) -> _Absent:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Absent(f"{self.__name__}.{name}")

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        raise AudiogenError(f"audiogen does not use {self.__name__} (an audiocraft extra)")


def load(module: str) -> types.ModuleType:
    """``load("modules.seanet")`` → the module ``audiocraft.modules.seanet``."""
    _register()
    name = f"audiocraft.{module}"
    if name in sys.modules:
        return sys.modules[name]
    stand_ins = [n for n in _NOT_USED if n not in sys.modules]
    for stand_in in stand_ins:
        sys.modules[stand_in] = _Absent(stand_in)
    if "xformers" in stand_ins:
        import torch

        # The one xformers call on the path audiogen takes (custom attention, not the
        # memory-efficient kernel) splits packed q/k/v: torch.unbind does the same.
        sys.modules["xformers"].ops = types.SimpleNamespace(unbind=torch.unbind)  # type: ignore[attr-defined]
    try:
        loaded = importlib.import_module(name)
    finally:
        for stand_in in stand_ins:
            if isinstance(sys.modules.get(stand_in), _Absent):
                del sys.modules[stand_in]
    transformer = sys.modules.get("audiocraft.modules.transformer")
    if transformer is not None:
        # Each attention call asks whether xformers' profiler runs by importing it: that loads
        # all of xformers (a second, and a warning) or, where it is absent, fails an import
        # every call. audiogen never runs that profiler.
        transformer._is_profiled = lambda: False  # type: ignore[attr-defined]
    return loaded
