"""Issue 13.10: the package is installable. A wheel built from the tree holds the dashboard's
templates and static files; installed into a fresh virtualenv (outside the source tree), the CSMS
passes `check` and renders its pages from the installed files alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.servers import ROOT

SKIP = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "__pycache__", "build", "*.egg-info", "*.sqlite3", "dist"
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("source") / "csms"
    shutil.copytree(ROOT, source, ignore=SKIP)
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("csms-*.whl")
    return found


def test_the_wheel_holds_templates_static_files_and_every_app(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "templates/dashboard/base.html",
        "templates/dashboard/station.html",
        "templates/registration/login.html",
        "templates/admin/base_site.html",
        "dashboard/static/dashboard/live.js",
        "dashboard/static/dashboard/dashboard.css",
        "dashboard/views.py",
        "stations/migrations/0001_initial.py",
        "reservations/migrations/0001_initial.py",
        "stations/management/commands/ocpp_command.py",
        "emulator/management/commands/emulate.py",
        "ocppj/rpc.py",
        "csms_site/__main__.py",
    ):
        assert expected in names, f"{expected} is not in {wheel.name}"


def test_the_installed_wheel_passes_check_and_serves_the_dashboard(wheel, tmp_path):
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    python = target / "bin" / "python"
    # The dependencies come from this test run's environment (no index needed); the CSMS itself
    # only from the wheel: the source tree is on no path of the fresh interpreter.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {
        "PATH": f"{target / 'bin'}:/usr/bin:/bin",
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{work / 'db.sqlite3'}",
        "HOME": str(work),
    }
    script = target / "bin" / "csms"
    check = subprocess.run(
        [str(script), "check"], cwd=work, env=env, capture_output=True, text=True, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "no issues" in check.stdout
    render = subprocess.run(
        [
            str(python),
            "-c",
            "import django, os, stations, dashboard;"
            "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'csms_site.settings');"
            "django.setup();"
            "from django.template.loader import get_template;"
            "from django.contrib.staticfiles import finders;"
            "print(stations.__file__);"
            "print(get_template('dashboard/base.html').origin.name);"
            "print(finders.find('dashboard/live.js'))",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert render.returncode == 0, render.stdout + render.stderr
    module, template, static = render.stdout.split()
    for path in (module, template, static):
        assert path.startswith(site), f"{path} is not from the installed wheel ({site})"
