"""What the neural training pipelines share: their common options, and logging."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def setup_logging(log_file: Path | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", handlers=handlers)


def state_folder(text: str) -> Path:
    """``--state``: the folder a run keeps its state in. A file there is refused: a state file
    given by mistake would otherwise start a fresh run that cannot save."""
    path = Path(text)
    if path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is a file; name the folder that holds it")
    return path


def training_parser(doc: str, model: str, batch: int) -> argparse.ArgumentParser:
    """The options every neural training pipeline takes: time box, material, state, output."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--groove", type=Path, default=ROOT.parent / "shared/datasets/groove")
    parser.add_argument("--phrases", type=Path, help="read the material from this pickle")
    state = Path.home() / ".cache/audiogen/train" / model
    parser.add_argument("--state", type=state_folder, default=state,
                        help="the folder of the resumable training state")  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / f"checkpoints/{model}")
    parser.add_argument("--fresh", action="store_true", help="ignore a saved state")
    parser.add_argument("--workers", type=int, default=1, help="processes making material")
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if present)")
    parser.add_argument("--log", type=Path, default=None, help="also log to this file")
    return parser
