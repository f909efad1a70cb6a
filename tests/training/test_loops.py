"""The planner's and the humanizer's training runs: a few real steps on the Groove MIDI Dataset,
a checkpoint kept, and a second run that goes on from the saved state instead of starting over."""

from __future__ import annotations

import json


def test_a_humanizer_run_resumes_where_it_stopped(groove_dir, tmp_path):
    from audiogen.humanize import Humanizer
    from audiogen.training.humanizer import HumanizerTrainConfig, train

    def run(steps: int) -> dict:
        return train(HumanizerTrainConfig(groove=groove_dir, out=tmp_path / "out",
                                          work=tmp_path / "work", max_steps=steps, eval_every=2,
                                          batch_size=4))  # fmt: skip

    first = run(4)
    assert first["steps"] == 4 and [h["step"] for h in first["history"]] == [2, 4]
    second = run(6)  # read back from work/state.pt: two more steps, one more evaluation
    assert second["steps"] == 6 and [h["step"] for h in second["history"]] == [2, 4, 6]
    card = json.loads((tmp_path / "out" / "humanizer.json").read_text())
    assert [h["step"] for h in card["history"]] == [2, 4, 6]
    assert Humanizer.load(tmp_path / "out").version.startswith("humanizer@")


def test_a_planner_run_resumes_and_keeps_its_best_checkpoint(groove_dir, tmp_path):
    from audiogen.training.planner import PlannerTrainConfig, train

    def run(steps: int) -> dict:
        return train(PlannerTrainConfig(groove=groove_dir, out=tmp_path / "out",
                                        work=tmp_path / "work", max_steps=steps, eval_every=2,
                                        batch_size=4, d_model=16, n_layers=1, n_heads=2,
                                        library_variants=1))  # fmt: skip

    first = run(2)
    assert first["steps"] == 2 and (tmp_path / "out" / "planner.safetensors").is_file()
    second = run(4)
    assert second["steps"] == 4 and [h["step"] for h in second["history"]] == [2, 4]
    assert second["best_val_loss"] == min(h["val_loss"] for h in second["history"])
