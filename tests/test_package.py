"""audiogen as an installed package: it finds its kits, models and styles wherever it runs from,
and its wheel carries them (but no training state) within PyPI's size limit."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import re
import zipfile
from pathlib import Path

import pytest

import audiogen
from audiogen.kits import kit_names
from audiogen.paths import checkpoints_dir, samples_dir
from audiogen.planner.genres import GENRES

PACKAGE = Path(audiogen.__file__).resolve().parent
CHECKOUT = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").is_file() else None
PYPI_LIMIT_BYTES = 100 * 2**20  # PyPI's default upload limit per file


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory) -> list[str]:
    """The files of audiogen's wheel: the installed one's record, or one built from the checkout
    by the project's build backend (what `python -m build` runs)."""
    if CHECKOUT is None:
        return [str(f) for f in importlib.metadata.distribution("audiogen").files or ()]
    backend = pytest.importorskip("hatchling.build", reason="the build backend: ./install.sh --dev")
    out = tmp_path_factory.mktemp("dist")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(CHECKOUT)  # a PEP 517 backend builds the project in the working directory
        wheel = out / backend.build_wheel(str(out))
    assert wheel.stat().st_size < PYPI_LIMIT_BYTES
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_assets_are_found_beside_or_inside_the_imported_package(monkeypatch):
    monkeypatch.delenv("AUDIOGEN_SAMPLES", raising=False)
    monkeypatch.delenv("AUDIOGEN_CHECKPOINTS", raising=False)
    home = CHECKOUT if CHECKOUT is not None else PACKAGE / "_data"
    assert samples_dir() == home / "samples"
    assert checkpoints_dir() == home / "checkpoints"
    assert (samples_dir() / "LICENSES.md").is_file() and len(kit_names()) >= 8
    for model in ("planner/planner.safetensors", "planner/planner_step.onnx",
                  "humanizer/humanizer.safetensors"):  # fmt: skip
        assert (checkpoints_dir() / model).is_file(), model


def test_environment_variables_point_elsewhere(tmp_path, monkeypatch):
    monkeypatch.setenv("AUDIOGEN_SAMPLES", str(tmp_path / "kits"))
    monkeypatch.setenv("AUDIOGEN_CHECKPOINTS", str(tmp_path / "models"))
    assert samples_dir() == tmp_path / "kits" and checkpoints_dir() == tmp_path / "models"


def test_style_library_ships_inside_the_package():
    styles = importlib.resources.files("audiogen.planner") / "styles"
    assert {f.name.removesuffix(".toml") for f in styles.iterdir()} >= set(GENRES)


def test_wheel_carries_kits_models_and_styles_but_no_training_state(wheel_files):
    files = set(wheel_files)
    data = "audiogen/_data"
    assert not [f for f in files if "/train-state/" in f]
    for model in ("planner/planner.safetensors", "planner/planner_step.onnx",
                  "planner/train_bars.npy",  # the generator's novelty check reads it
                  "humanizer/humanizer.safetensors", "humanizer/MODEL_CARD.md"):  # fmt: skip
        assert f"{data}/checkpoints/{model}" in files, model
    assert f"{data}/samples/LICENSES.md" in files
    # a renderer card's routes and fused partners name token models beside it: each ships
    card = json.loads((checkpoints_dir() / "renderer" / "renderer.json").read_text())
    fused = {name for partner in card.get("fuse", {}).values() for name in partner}
    for folder in {".", *card.get("routes", {}).values(), *fused}:
        for name in ("renderer.json", "renderer.safetensors"):
            path = Path(data, "checkpoints", "renderer", folder, name).as_posix()
            assert path in files, path
    kits = {f.split("/")[4] for f in files if f.startswith(f"{data}/samples/kits/")}
    assert kits == set(kit_names()) and len(kits) >= 8
    assert {f"audiogen/planner/styles/{genre}.toml" for genre in GENRES} <= files
    assert "audiogen/cli/__init__.py" in files
    # the web page of `audiogen serve`, whole: it loads nothing from elsewhere
    page = {f"audiogen/server/static/{f.name}" for f in (PACKAGE / "server" / "static").iterdir()}
    assert page >= {"audiogen/server/static/index.html", "audiogen/server/static/page.js"}
    assert page <= files
    remote = [f.name for f in (PACKAGE / "server" / "static").iterdir()
              if re.search(r"https?://|[\"'(]//", f.read_text(encoding="utf-8"))]  # fmt: skip
    assert not remote, f"{remote} load something from elsewhere: the page must work offline"
