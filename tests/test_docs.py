"""The manual builds as a site in strict mode, a broken link fails the build, the README
is a front door (short, your data on its first screen) and its own links resolve."""

import os
import re
import shutil
import subprocess
import sys

from helpers import REPO

MKDOCS = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir"]


def _build(repository, site):
    return subprocess.run(MKDOCS + [str(site)], cwd=repository, capture_output=True, text=True)


def test_the_manual_builds_strictly_with_the_repository_files_it_links(tmp_path):
    built = _build(REPO, tmp_path / "site")
    assert built.returncode == 0, built.stderr[-3000:]
    for page in ("index.html", "own_data.html", "tracking.html", "testing.html"):
        assert (tmp_path / "site" / page).is_file(), page
    # a results table and a run folder linked from the pages, copied beside them
    assert (tmp_path / "site/repository/benchmarks/results/notes/shapes_unet.md").is_file()
    assert (tmp_path / "site/repository/benchmarks/results/runs/nuclei_unet/index.html").is_file()


def _copy_of_the_repository(tmp_path):
    copy = tmp_path / "repository"
    copy.mkdir(parents=True)
    for name in ("benchmarks", "configs", "datasets", "README.md", "tools"):
        os.symlink(os.path.join(REPO, name), copy / name)
    shutil.copy(os.path.join(REPO, "mkdocs.yml"), copy)
    shutil.copytree(os.path.join(REPO, "docs"), copy / "docs")
    return copy


def test_a_broken_link_fails_the_build_naming_it(tmp_path):
    for link, named in (
        ("[gone](no_such_page.md)", "docs/no_such_page.md"),
        ("[gone](../benchmarks/results/no_such_table.md)", "benchmarks/results/no_such_table.md"),
        ("[gone](models.md#no-such-section)", "no-such-section"),
    ):
        copy = _copy_of_the_repository(tmp_path / named.replace("/", "_"))
        with open(copy / "docs" / "testing.md", "a") as f:
            f.write(f"\n{link}\n")
        built = _build(copy, tmp_path / "site")
        assert built.returncode != 0 and named in built.stderr, (link, built.stderr[-2000:])


def test_the_readme_is_a_front_door():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    lines = readme.splitlines()
    assert len(lines) <= 200
    first_screen = "\n".join(lines[:50])
    assert "## Your data in five commands" in first_screen
    assert first_screen.count("\nseg-d2 ") == 5  # the five, after the PATH line
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme):
        assert os.path.exists(os.path.join(REPO, target)), target
