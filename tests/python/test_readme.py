"""The README's tutorial runs as written, and the user docs point only at files that exist.

Every shell block marked `<!-- readme-test: NAME -->` runs in order, with bash -euo pipefail,
in a scratch folder that links models/, tools/ and build/tools/phaseless, exactly as a user
in the repository root would type it. Run through CTest (test `readme_py`).
"""
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CLI = Path(os.environ.get("PHASELESS_CLI", ROOT / "build" / "tools" / "phaseless"))
BLOCKS = re.findall(r"<!-- readme-test: ([\w-]+) -->\n```sh\n(.*?)```", README, re.S)
USER_DOCS = [ROOT / "README.md", ROOT / "models" / "README.md", ROOT / "proto" / "phaseless.proto",
             *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "models").glob("*.textproto"))]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    (d / "models").symlink_to(ROOT / "models")
    (d / "tools").symlink_to(ROOT / "tools")
    (d / "build" / "tools").mkdir(parents=True)
    (d / "build" / "tools" / "phaseless").symlink_to(CLI)
    (d / "build" / "python").symlink_to(CLI.resolve().parent.parent / "python")   # the Python package
    return d


def run_block(name, workdir):
    code = dict(BLOCKS)[name]
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=workdir, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"README block {name} failed:\n{code}\n{r.stderr[-2000:]}"
    return r.stdout


def test_the_tutorial_blocks_are_all_there():
    assert [n for n, _ in BLOCKS] == ["first-model", "first-inspect", "first-compare", "first-compare-delays",
                                      "first-sweep", "first-sweep-python", "first-plot"]


def test_quick_start_is_the_two_commands():
    assert "```sh\ntools/quickstart.sh\n```" in README and "```sh\ntools/test.sh\n```" in README
    assert "tools/test.sh" in (ROOT / ".ci" / "run").read_text()   # CI runs exactly the README's command


def test_the_model_shown_is_the_model_shipped():
    shipped = (ROOT / "models" / "first_model.textproto").read_text(encoding="utf-8")
    assert "```\n" + shipped + "```" in README


def test_first_model_runs_and_learns(workdir):
    out = run_block("first-model", workdir)
    assert ": OK" in out
    assert "data idx: 10000 training and 2000 test samples of 784 values" in out
    acc = float(re.search(r"^test +accuracy ([\d.]+)%", out, re.M).group(1))
    assert 70 <= acc <= 90, out   # the README says "about 77 %"
    assert (workdir / "first.h5").is_file()


def test_first_inspect(workdir):
    out = run_block("first-inspect", workdir)
    assert "samples,test_accuracy\n0," in out
    assert 'name: "first_model"' in out
    assert (workdir / "metrics.csv").read_text().startswith("samples,")


@pytest.mark.parametrize("name", ["first-compare", "first-compare-delays"])
def test_first_comparisons_agree(workdir, name):
    out = run_block(name, workdir)
    assert "difference 0.00 points" in out
    for proj in ("w1", "w2"):
        line = re.search(rf"^  {proj} +(\S+) +(\S+)", out, re.M)
        assert float(line.group(1)) > 0.999999 and float(line.group(2)) < 1e-6, out


def test_first_sweep(workdir):
    out = run_block("first-sweep", workdir)
    lines = out.strip().splitlines()
    assert len(lines) == 9, out
    assert all(re.match(r"^sweep_lr[\d.]+_s\d\.h5  [\d.]+ % after 3000 samples$", l) for l in lines), out


def test_first_sweep_from_python(workdir):
    out = run_block("first-sweep-python", workdir)
    lines = out.strip().splitlines()
    assert len(lines) == 9, out
    assert all(re.match(r"^lr [\d.]+  seed \d  [\d.]+ %$", l) for l in lines), out


def test_first_plot(workdir):
    run_block("first-plot", workdir)
    for png in ("first.png", "sweep.png"):
        assert (workdir / png).stat().st_size > 20000


def test_docs_name_only_files_in_the_repository():
    missing = []
    for doc in USER_DOCS:
        text = doc.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)", text):   # markdown links
            if not target.startswith("http") and not (doc.parent / target).exists():
                missing.append(f"{doc.relative_to(ROOT)} -> {target}")
        for path in re.findall(r"(?<![\w/$.])((?:models|tools|docs|proto|data)/[\w./-]+\.(?:textproto|py|sh|md|proto|png))",
                               text):
            if "NAME" not in path and not (ROOT / path).exists():
                missing.append(f"{doc.relative_to(ROOT)} -> {path}")
    assert not missing, missing


def test_docs_cite_no_internal_notes():
    pattern = re.compile(r"\bspec\b[ '’]|spec§|pc-family|dp-fa\.md|DESIGN|\bissues? #?\d", re.I)
    hits = [f"{d.relative_to(ROOT)}:{i + 1}: {line.strip()}" for d in USER_DOCS
            for i, line in enumerate(d.read_text(encoding="utf-8").splitlines()) if pattern.search(line)]
    assert not hits, "\n".join(hits)
