"""The built wheel, installed into a fresh venv outside any checkout, trains, exports, evaluates, restores."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.mark.slow
def test_the_wheel_works_in_a_fresh_venv_outside_the_checkout(tmp_path: Path) -> None:
    # Build from a copy of what the wheel is made of, so the checkout is left as it is.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "WANDB_MODE": "disabled"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source)],
        tmp_path,
        env,
    )
    (wheel,) = (tmp_path / "dist").glob("tpir-*.whl")

    # A fresh venv whose dependencies (torch, lightning, ...) come from this environment through a
    # path file, so nothing is downloaded; tpir itself only from the wheel.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env
        ).strip()
    )
    (site_packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([*pip, "--python", str(python), "install", "--no-deps", str(wheel)], tmp_path, env)

    work = tmp_path / "elsewhere"
    work.mkdir()
    bin_dir = venv / "bin"
    located = run([str(python), "-c", "import tpir; print(tpir.__file__)"], work, env)
    assert str(site_packages) in located and str(ROOT) not in located

    run([str(bin_dir / "tpir-train"), "stage=restore", "debug=fast_dev_run"], work, env)
    (run_folder,) = (work / "outputs" / "restore").iterdir()
    assert "wrote" in run([str(bin_dir / "tpir-export"), str(run_folder), "-o", "model"], work, env)
    table = run([str(bin_dir / "tpir-eval"), "data=bundled", "model_dir=model", "limit=1"], work, env)
    assert "| Input |" in table and "Derain bundled" in table
    Image.fromarray(np.full((24, 32, 3), 128, np.uint8)).save(work / "photo.png")
    restored = run(
        [
            str(bin_dir / "tpir-restore"),
            "photo.png",
            "--prompt",
            "remove the rain",
            "--model",
            "model",
            "-o",
            "out.png",
        ],
        work,
        env,
    )
    assert "understood" in restored and (work / "out.png").is_file()
