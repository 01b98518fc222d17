"""Static checks of packaging/docker/Dockerfile against the chart (no Docker engine here).

hadolint lints the Dockerfile (packaging/ci.sh); packaging/ci.sh also runs the
/app/entrypoint and /app/migrate wrappers against the packaged /usr/bin/essp.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "packaging" / "docker" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def runtime_stage() -> list[tuple[str, str]]:
    ins = instructions()
    last_from = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    return ins[last_from:]


def test_copy_sources_exist() -> None:
    for word, rest in instructions():
        if word != "COPY" or "--from=" in rest:
            continue
        args = [a for a in rest.split() if not a.startswith("--")]
        for src in args[:-1]:
            if src != ".":
                assert (REPO / src).exists(), f"COPY source {src} missing"


def test_runtime_image_matches_the_chart() -> None:
    stage = dict(runtime_stage())
    values = yaml.safe_load((REPO / "charts" / "essp" / "values.yaml").read_text())
    uid = values["podSecurityContext"]["runAsUser"]
    assert stage["USER"] == f"{uid}:{values['podSecurityContext']['runAsGroup']}"
    assert stage["EXPOSE"] == "8080"
    assert stage["ENTRYPOINT"] == '["/app/entrypoint"]'
    assert stage["CMD"] == '["serve"]'
    assert "ESSP_DATA_DIR=/var/lib/essp" in stage["ENV"]
    assert values["dataDir"] == "/var/lib/essp"
    assert re.match(r"debian:\$\{DEBIAN_RELEASE\}-slim", stage["FROM"])


def test_only_the_binary_and_wrappers_are_copied_in() -> None:
    copies = [rest for word, rest in runtime_stage() if word == "COPY"]
    assert copies == [
        "--from=builder /out/essp /usr/bin/essp",
        "--chmod=0755 packaging/docker/entrypoint packaging/docker/migrate /app/",
    ]


def test_wrappers() -> None:
    entry = (REPO / "packaging" / "docker" / "entrypoint").read_text()
    migrate = (REPO / "packaging" / "docker" / "migrate").read_text()
    assert 'exec /usr/bin/essp "$@"' in entry
    assert 'exec /usr/bin/essp migrate "$@"' in migrate
    for script in ["entrypoint", "migrate"]:
        assert (REPO / "packaging" / "docker" / script).stat().st_mode & 0o111, f"{script} not executable"
